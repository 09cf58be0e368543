"""The one wiring place: settings -> stores and embedding model -> retriever -> LLM client -> answerer,
briefer, radar. The CLI commands and the chat app both build from `Engine`, so the parts are made the same
way everywhere and the model is loaded once per process (`engine()` is the process-wide instance). The
parts take what they use in their constructors; `build_retriever` and `build_radar` make them for the common
case (one data directory), for the engine, the benchmarks and the tests alike.

Nothing heavy happens here: the retriever loads the model on first use and the LLM client imports
llama-index on its first call, so a command that only lists radar topics stays fast.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

from assistant.compose.answer import Answerer
from assistant.compose.briefing import Briefer
from assistant.compose.llm import LLMClient, get_llm
from assistant.core.lazy import Lazy
from assistant.core.settings import Settings, get_settings
from assistant.radar.service import Radar
from assistant.radar.store import open_radar_store
from assistant.search.retrieval import Retriever
from assistant.search.topics import frequent_topics
from assistant.store.backend import catalog_source
from assistant.store.embedding import Embedder, get_embedder
from assistant.store.vectors import VectorIndex

STARTER_TITLES = 5000  # the newest papers whose titles give the starters' topics


def build_retriever(settings: Settings, embedder: Embedder | None = None) -> Retriever:
    """The retriever over the index in `settings.home` (or its Chroma server): a catalog per thread, Chroma
    and the model opened on first use. `embedder`: one already loaded (a benchmark's, the tests' session
    model), else the process-wide model for these settings."""
    return Retriever(
        settings,
        catalog_source(settings),
        Lazy(lambda: VectorIndex(settings, reading=True)),
        Lazy.of(embedder) if embedder is not None else Lazy(lambda: get_embedder(settings)),
    )


def build_radar(
    settings: Settings, retriever: Retriever, briefer: Briefer | None = None, *, use_llm: bool = True
) -> Radar:
    """The radar over `retriever`'s index with its own state store; `briefer`: the engine's, else one made
    on the first briefing (with the configured language model unless `use_llm` is False)."""
    made: Lazy[Briefer] = (
        Lazy.of(briefer)
        if briefer is not None
        else Lazy(lambda: Briefer(settings, retriever, get_llm(settings) if use_llm else None))
    )
    return Radar(settings, retriever, open_radar_store(settings), made)


@dataclass
class IndexStatus:
    papers: int
    first_day: str | None
    last_day: str | None
    categories: dict[str, int]  # papers per category
    archives: dict[str, int] = field(default_factory=dict)  # papers per archive, each paper once


class Engine:
    """One retriever (and embedding model), LLM client, answerer, briefer and radar, sharing one
    sentence-vector cache. `use_llm=False` (the CLI's `--extractive`) leaves the language model out."""

    def __init__(self, settings: Settings, *, use_llm: bool = True) -> None:
        self.settings = settings
        self.retriever = build_retriever(settings)
        self.llm: LLMClient | None = get_llm(settings) if use_llm else None
        self.answerer = Answerer(settings, self.retriever, self.llm)
        self.briefer = Briefer(settings, self.retriever, self.llm, bank=self.answerer.bank)
        self.radar = build_radar(settings, self.retriever, self.briefer)
        self._starters: tuple[tuple[int, float], list[str]] | None = None  # (catalog version, topics)
        self._starters_lock = threading.Lock()

    def model_warning(self) -> str | None:
        """A warning when the model server does not list ACADEMICHUB_MODEL (asked once, then cached)."""
        return self.llm.model_warning() if self.llm is not None else None

    def status(self) -> IndexStatus:
        """How many papers, which days and categories the index holds (the app's banner and settings)."""
        catalog = self.retriever.catalog
        count = catalog.count()
        first, last = catalog.date_range() if count else (None, None)
        return IndexStatus(
            count,
            first.isoformat() if first else None,
            last.isoformat() if last else None,
            catalog.known_categories() if count else {},
            catalog.archive_paper_counts() if count else {},
        )

    def starter_topics(self) -> list[str]:
        """The index's most frequent title topics (the app's starters). Found again only when the catalog
        changed (its paper count or newest ingest time): an ingest in another process adds topics while
        the app runs, and asking those two is cheap (indexed)."""
        catalog = self.retriever.catalog
        version = (catalog.count(), catalog.newest_ingested())
        with self._starters_lock:
            if self._starters is None or self._starters[0] != version:
                self._starters = (version, frequent_topics(catalog.recent_titles(STARTER_TITLES)))
            return self._starters[1]

    def close(self) -> None:
        """Close this thread's radar state connection (a CLI command ends here)."""
        self.radar.close()


@functools.lru_cache(maxsize=1)
def engine() -> Engine:
    """The process-wide engine (the chat app's): built on first use from the environment's settings."""
    return Engine(get_settings())
