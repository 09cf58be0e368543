"""Scale-out: ACADEMICHUB_CHROMA_HOST/_PORT put the vectors in a Chroma server instead of the embedded store.

Starts the real `chroma run` (the chromadb package's server) on 127.0.0.1 and a free port as a
subprocess, waits for its heartbeat, ingests and searches through it with the shared packaged model, and
stops it. Nothing leaves localhost.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings, sample_records, write_jsonl

from assistant.search.retrieval import Retriever
from ingest.pipeline import Ingestor, file_runs
from ingest.vectors import VectorIndex

CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """A `chroma run` server on 127.0.0.1; yields its port."""
    if not CHROMA.exists():
        pytest.fail(f"{CHROMA} is missing: the chromadb package installs it (run `make install`)")
    port = _free_port()
    server = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--path",
            str(tmp_path / "server-data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_ingest_and_search_through_a_chroma_server(tmp_path: Path, embedder, chroma_server: int) -> None:
    records = sample_records(20)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    settings = make_settings(tmp_path / "home", chroma_host="127.0.0.1", chroma_port=chroma_server)

    ingestor = Ingestor(settings, embedder=embedder)
    try:
        first = ingestor.run(file_runs([corpus]))
        again = ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()
    assert first.embedded == 20 and first.vectors_total == 20
    assert again.embedded == 0 and again.unchanged == 20

    # The vectors live in the server, not in the data directory.
    assert not settings.chroma_path.exists()
    assert VectorIndex(settings).count() == 20

    # A second process-like reader (an app worker) finds papers by meaning through the same server.
    wanted = records[7]
    hits = Retriever(settings, embedder=embedder).search(wanted["title"], k=3, mode="dense")
    assert hits and hits[0].paper.id == wanted["id"]
    assert hits[0].relevance > 0.5


def test_unreachable_chroma_server_is_a_readable_error(tmp_path: Path) -> None:
    from ingest.vectors import VectorStoreError

    settings = make_settings(tmp_path / "home", chroma_host="127.0.0.1", chroma_port=_free_port())
    with pytest.raises(VectorStoreError, match=r"cannot open the Chroma vector store at 127\.0\.0\.1:"):
        VectorIndex(settings)
