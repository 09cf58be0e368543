"""Issue 15, storage faults: a read-only data directory still answers reads and says plainly that it cannot
be written; a damaged or 0-byte catalog is reported with how to recover (`ingest --rebuild`), and a catalog
that disagrees with its vectors is detected at start; a full disk is a plain message.

Real SQLite and Chroma. The read-only directory and the full disk are real: a read-only bind mount and a
small tmpfs in a private mount namespace (`unshare -m`, as root), or file permissions when not root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_settings, sample_records, write_jsonl
from typer.testing import CliRunner

from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder
from assistant.store.vectors import VectorIndex
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

CLI = Path(sys.executable).with_name("academichub")
PAPERS = 6


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("mount") is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("faults-corpus") / "papers.jsonl", sample_records(PAPERS))


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, corpus: Path) -> Path:
    home = tmp_path_factory.mktemp("faults-home")
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        assert ingestor.run(file_runs([corpus])).new == PAPERS
    finally:
        ingestor.close()
    return home


@pytest.fixture
def home(built_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(built_home, copy)
    return copy


@pytest.fixture
def shared_model(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Embedder:
    monkeypatch.setattr("ingest.pipeline.get_embedder", lambda settings: embedder)
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    return embedder


def run_cli(home: Path, *args: str, mount: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real console script on `home`; `mount` ("ro" or "tmpfs:SIZE") is applied to `home` first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ACADEMICHUB_"))}
    env.update({"ACADEMICHUB_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    command = [str(CLI), *args]
    if mount:
        setup = (
            f'mount --bind -o ro "{home}" "{home}"'
            if mount == "ro"
            else f'mount -t tmpfs -o size={mount.split(":", 1)[1]} tmpfs "{home}"'
        )
        command = ["unshare", "-m", "sh", "-c", f'{setup} && exec "$@"', "sh", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


def make_read_only(home: Path) -> str | None:
    """How to run a command with `home` read-only: a mount when root (root ignores permissions)."""
    if can_mount():
        return "ro"
    if os.geteuid() == 0:
        pytest.skip(
            "running as root, whom file permissions do not stop, on a system without unshare/mount for a "
            "read-only bind mount: no way to make the data directory read-only here (CI has both and runs it)"
        )
    for path in [home, *home.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return None


@pytest.mark.slow
def test_a_read_only_index_serves_reads_and_says_it_cannot_be_written(home: Path, corpus: Path) -> None:
    mount = make_read_only(home)
    try:
        stats = run_cli(home, "stats", "--json", mount=mount)
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["papers"] == PAPERS

        answer = run_cli(home, "ask", "sparse Ising optimisation", "--extractive", "--json", mount=mount)
        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout)["sources"]

        ingest = run_cli(home, "ingest", "--file", str(corpus), mount=mount)
        assert ingest.returncode == 2, ingest.stderr
        assert "read-only" in " ".join(ingest.stderr.split())
        assert "Traceback" not in ingest.stderr + answer.stderr + stats.stderr
    finally:
        for path in [home, *home.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_a_damaged_catalog_says_what_is_wrong_and_rebuild_recovers(
    home: Path, corpus: Path, use_home, shared_model
) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    use_home(home)
    catalog = home / "catalog.sqlite3"
    catalog.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)

    result = CliRunner().invoke(app, ["stats"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "damaged" in out and "academichub ingest --rebuild" in out
    assert "Traceback" not in result.output

    result = CliRunner().invoke(app, ["ingest", "--rebuild", "--json", "--file", str(corpus)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["papers_total"], summary["vectors_total"]) == (PAPERS, PAPERS)
    assert any("set aside" in note for note in summary["notices"])
    assert list(home.glob("catalog.sqlite3.set-aside-*"))  # the damaged file is kept, not deleted


def test_a_zero_byte_catalog_beside_its_vectors_is_detected_at_start(
    home: Path, corpus: Path, use_home, shared_model
) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    use_home(home)
    (home / "catalog.sqlite3").write_bytes(b"")

    result = CliRunner().invoke(app, ["stats", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert (payload["papers"], payload["vectors"]) == (0, PAPERS)
    assert "lost or replaced" in payload["problem"] and "--rebuild" in payload["problem"]

    result = CliRunner().invoke(app, ["search", "sparse Ising optimisation"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "lost or replaced" in out, result.output
    assert "index is empty" not in out

    # A plain ingest restores consistency: the papers come back, vectors of unknown papers go.
    result = CliRunner().invoke(app, ["ingest", "--json", "--file", str(corpus)])
    summary = json.loads(result.stdout)
    assert (summary["papers_total"], summary["vectors_total"]) == (PAPERS, PAPERS)


def test_a_catalog_that_lost_vectors_is_reported_and_ingest_repairs_it(
    home: Path, corpus: Path, use_home, shared_model
) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    settings = use_home(home)
    vectors = VectorIndex(settings)
    vectors.delete(vectors.all_ids()[:2])

    result = CliRunner().invoke(app, ["stats", "--json"])
    assert "vectors were lost" in json.loads(result.stdout)["problem"]
    result = CliRunner().invoke(app, ["ingest", "--json", "--file", str(corpus)])
    assert json.loads(result.stdout)["vectors_total"] == PAPERS
    catalog = Catalog(settings.storage.catalog_path)
    try:
        assert catalog.count_pending() == 0
    finally:
        catalog.close()


@pytest.mark.slow
def test_disk_full_during_ingest_is_a_plain_message_and_the_rerun_loses_nothing(tmp_path: Path) -> None:
    """A 700 kB tmpfs fills up while 40 papers are stored; then it is grown and the same command rerun."""
    if not can_mount():
        pytest.skip(
            "a full disk is made with a 700 kB tmpfs, which needs root with unshare/mount; this system has "
            "neither (CI has both and runs it)"
        )
    home = tmp_path / "small-disk"
    home.mkdir()
    corpus = write_jsonl(tmp_path / "corpus.jsonl", sample_records(40))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ACADEMICHUB_"))}
    env.update({"ACADEMICHUB_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    ingest = f'"{CLI}" ingest --json --file "{corpus}"'
    script = (
        f'mount -t tmpfs -o size=700k tmpfs "{home}" && {{ {ingest} > "{tmp_path}/first.json" '
        f'2> "{tmp_path}/first.err"; echo $? > "{tmp_path}/first.rc"; }} && '
        f'mount -o remount,size=16m "{home}" && exec {ingest}'
    )
    rerun = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=900
    )
    first_error = " ".join((tmp_path / "first.err").read_text().split())
    assert (tmp_path / "first.rc").read_text().strip() == "2", first_error
    assert "is full" in first_error and "run the same command again" in first_error, first_error
    assert "Traceback" not in first_error
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert (summary["papers_total"], summary["vectors_total"]) == (40, 40)
