"""The ingest's multilingual side: e5 vectors for the papers the ingest embeds, and the catch-up that
`academichub embed` (and every ingest) runs for papers without a current e5 vector (an index built before
the multilingual side existed, a run interrupted between the two encoders, a changed abstract)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.store.catalog_store import CatalogStore
from assistant.store.multilingual import MultilingualEncoder, get_multilingual_encoder
from assistant.store.multilingual_index import MultilingualIndex, stale_ids

Progress = Callable[[str, int, int | None], None]


class MultilingualSide:
    """Keeps the e5 collection in step with the catalog. The encoder loads on first use only."""

    def __init__(self, settings: Settings, client: object) -> None:
        self.settings = settings
        self.index = MultilingualIndex(settings, client)
        self._encoder: MultilingualEncoder | None = None
        self.embedded = 0
        self.seconds = 0.0

    @property
    def encoder(self) -> MultilingualEncoder:
        if self._encoder is None:
            self._encoder = get_multilingual_encoder(self.settings.storage.cache_dir / "models")
        return self._encoder

    def embed(self, papers: Sequence[Paper]) -> None:
        """Encode and store these papers' e5 vectors (title and abstract, "passage: ")."""
        if not papers:
            return
        encoder = self.encoder  # loaded before the clock starts
        started = time.perf_counter()
        vectors = encoder.passages(
            [p.embedding_text for p in papers], max_tokens=self.settings.embedding.multilingual_passage_tokens
        )
        self.seconds += time.perf_counter() - started
        self.index.upsert(papers, vectors)
        self.embedded += len(papers)

    def catch_up(
        self,
        catalog: CatalogStore,
        progress: Progress,
        limit: int | None = None,
        notice: Callable[[str], None] = lambda message: None,
    ) -> int:
        """Embed every paper whose e5 vector is missing or was made from other text, batch by batch (a
        killed run loses one batch; the next continues); drop vectors of papers the catalog lost."""
        ids = catalog.all_ids()
        current = {pid: state.content_hash for pid, state in catalog.states(ids).items()}
        todo, orphans = stale_ids(current, self.index.stored_hashes())
        self.index.delete(orphans)
        if limit is not None:
            todo = todo[:limit]
        if not todo:
            return 0
        if len(todo) > self.settings.sources.ingest_batch_size:
            notice(
                f"{len(todo)} papers have no multilingual (e5) vector yet: embedding them now, so questions "
                "in other languages find them. Stopping is safe (the next `ingest` or `embed` continues); "
                "ACADEMICHUB_MULTILINGUAL_INDEX=false turns the multilingual index off"
            )
        progress("embed-multilingual", 0, len(todo))
        step = self.settings.sources.ingest_batch_size
        for start in range(0, len(todo), step):
            papers = list(catalog.get_papers(todo[start : start + step]).values())
            self.embed(papers)
            progress("embed-multilingual", len(papers), None)
        return len(todo)
