"""The daily research radar: saved topics, followed authors, a feed of what is new since the last visit,
paged in batches that never repeat a paper, and a daily cross-field briefing over the new papers.

What "new since the last visit" means, precisely
-------------------------------------------------
A topic's feed is built over a *window* of catalog papers, opened by a *visit*:

* A **visit** opens when `feed()` (without `next_batch`) or `brief()` is called and either the topic has
  never been visited, or papers entered the catalog after the current window was opened (an ingest ran).
  Calling `feed()` again with no ingest in between stays in the same window: it shows the latest batch
  again (where you left off) and does not mark anything new as seen; once the window is exhausted it says
  so ("you have seen everything new ...") and shows no old papers. `next_batch=True` never opens a
  visit: it pages on through the current window.
* The **first visit** of a topic covers the latest listing day in the catalog (papers whose `published`
  date is the newest one in the index), plus anything ingested after the topic was created. That is "today's
  papers" for someone who just built an index and saved a topic.
* **Later visits** cover the papers whose `ingested_at` (the first time the paper entered the catalog) is
  after the previous visit's high-water mark (the newest `ingested_at` the previous window covered). A
  re-listed or updated paper keeps its first `ingested_at`, so it is not new again. Older papers loaded by a
  backfill (published more than `BACKFILL_SLACK_DAYS` before the newest listing day the previous window
  saw) are not news and stay out of the radar (search still finds them). The high-water mark is a catalog
  value, not the wall clock, so a paper ingested while a visit is open belongs to the next visit.
* Within a window, a paper is on the feed if it matches the topic (hybrid retrieval of the topic's query,
  restricted to its fields, with query-paper cosine `relevance >= settings.radar.min_relevance`) or has a
  followed author (case/accent-insensitive substring, like the author filter everywhere else). Papers by
  followed authors come first (they were asked for by name), then topic matches in retrieval order. Every
  match of the window is on it, however many: hybrid retrieval ranks the best 200, and a bigger window (a
  week of listings) adds the rest in cosine order.
* Papers shown in a batch are **seen** (recorded with batch number and time) and never shown again for the
  topic, in this window or any later one. When the window has no unseen papers left the feed says so
  (`exhausted`); more come with the next ingest.

With the June corpus ingested one daily file at a time and a visit after each, each visit's window is
exactly that day's newly ingested papers, so the feed shows only that day's new matching papers.
Where things are: the radar's tables and all of its SQL are in `assistant.radar.store` (`RadarStateStore`);
what a window covers in `assistant.radar.windows`; this module holds the topic rules, the ranking of a
window's papers (followed authors, relevance) and the batching; `ingest.daily` says what
`academichub ingest --daily` fetches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core.errors import UserFacingError
from assistant.core.i18n import t
from assistant.core.lazy import Lazy
from assistant.core.settings import Settings
from assistant.core.text import fold
from assistant.radar.ledger import DeliveryLedger
from assistant.radar.library import (
    SAVED_FROM_FEED,
    LibraryError,
    LibraryTopic,
    library_matches,
    library_of,
    prepare_library,
    saved_matches,
)
from assistant.radar.rules import (
    by_author,
    clean_authors,
    name_key,
    short_topic_words,
)
from assistant.radar.store import FeedEntry, LibraryPaper, RadarStateStore, StoredTopic, Topic, Window
from assistant.radar.windows import catalog_moved, open_next_window, since_phrase, window_paper_ids
from assistant.search.hit import Hit
from assistant.search.lists import ListFinder
from assistant.search.retrieval import RetrievalError, Retriever, hit_json, make_filter

if TYPE_CHECKING:
    from assistant.compose.briefing import Briefer
    from assistant.compose.briefing_model import Briefing

__all__ = ["NO_LOGIN", "FeedBatch", "NothingNewError", "Radar", "RadarError", "Topic"]

MAX_FEED = 200  # papers one retrieval ranks (the retriever's own cap on k); a window keeps every match
MAX_NAME_CHARS = 80
MAX_QUERY_CHARS = 2000
MAX_BATCH = 100


NO_LOGIN = ""  # the owner of every topic when nobody signs in: the command line, a single-user app


class RadarError(UserFacingError, ValueError):
    """Input the radar cannot serve: the message says what to change."""


class NothingNewError(RadarError):
    """A briefing was asked for but the topic has no new papers (not a failure: nothing to brief on)."""


@dataclass
class FeedBatch:
    topic: Topic
    items: list[Hit]
    since: (
        datetime | None
    )  # start of the window: the previous visit, or the latest listing day on a first visit
    batch_number: int  # 1.. within the current window; 0 when nothing was shown
    remaining: int  # unseen feed papers left in the window (with the author filter, if any)
    exhausted: bool  # nothing unseen left in the window
    message: str | None  # e.g. "nothing new since 2026-06-12" (not an error)
    followed: dict[str, str] = field(default_factory=dict)  # paper id -> followed author that put it here
    window_total: int = 0  # feed papers in the window (seen or not)
    author: str | None = None  # the author filter applied, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic.to_dict(),
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
            "batch_number": self.batch_number,
            "remaining": self.remaining,
            "exhausted": self.exhausted,
            "window_total": self.window_total,
            "author": self.author,
            "message": self.message,
            "items": [
                {**hit_json(hit), "followed_author": self.followed.get(hit.paper.id)} for hit in self.items
            ],
        }


@dataclass
class FeedItem:
    """A paper on the current window's feed, as retrieved, with the batch that showed it (None: unseen)."""

    hit: Hit
    followed_author: str | None
    batch: int | None
    rank: int = 0  # its place in the window's feed order (1..)


class Radar:
    """Saved topics and their feeds. One object per process; safe to call from a thread pool (the store
    keeps one SQLite connection per thread, and visits and batches are written in immediate transactions).

    Every topic belongs to an owner (the signed-in user's identifier; `NO_LOGIN` without login) and every
    call that reads or changes a topic acts for one (`owner=`): another owner's topic is not there for it,
    answered exactly as a name or id that no topic has. Two owners may each have a topic of the same name."""

    def __init__(
        self, settings: Settings, retriever: Retriever, store: RadarStateStore, briefer: Lazy[Briefer]
    ) -> None:
        """Given its parts (`assistant.engine.build_radar` makes them): the briefer is made on first use,
        so listing topics never sets up the language model."""
        self.settings = settings
        self.retriever = retriever
        self.store = store
        self.deliveries = DeliveryLedger(self.store, retriever.catalog)  # what channels read and record
        self._briefer = briefer
        self.lists = ListFinder(retriever)  # a short topic's members, as list answers find them

    def close(self) -> None:
        self.store.close()

    # --- topics ---------------------------------------------------------------------------------------

    def add_topic(
        self,
        name: str,
        query: str,
        fields: Sequence[str] = (),
        authors: Sequence[str] = (),
        *,
        owner: str = NO_LOGIN,
    ) -> Topic:
        clean_name = " ".join((name or "").split())
        if not clean_name:
            raise RadarError('a topic needs a name, e.g. `radar add unlearning --query "machine unlearning"`')
        if len(clean_name) > MAX_NAME_CHARS:
            raise RadarError(
                f"the topic name is {len(clean_name)} characters long; keep it under {MAX_NAME_CHARS}"
            )
        clean_query = " ".join((query or "").split())
        if not clean_query:
            raise RadarError(f"the query for topic {clean_name!r} is empty: describe what the topic is about")
        if len(clean_query) > MAX_QUERY_CHARS:
            raise RadarError(
                f"the query is {len(clean_query)} characters long; keep it under {MAX_QUERY_CHARS}"
            )
        self.require_index()
        clean_fields = self._check_fields(fields)
        existing = self.store.find_topic(owner, name_key(clean_name))
        if existing is not None:
            raise RadarError(f"a topic named {existing.topic.name!r} already exists; pick another name")
        topic = Topic(clean_name, clean_query, clean_fields, clean_authors(authors), time.time(), None)
        if not self.store.add_topic(topic, name_key(clean_name), owner):
            raise RadarError(f"a topic named {clean_name!r} already exists; pick another name")
        return topic

    def add_library_topic(
        self,
        name: str,
        path: Path,
        *,
        query: str | None = None,
        fields: Sequence[str] = (),
        authors: Sequence[str] = (),
        owner: str = NO_LOGIN,
    ) -> LibraryTopic:
        """Save a topic from a library export (BibTeX, RIS, CSL-JSON), with its followed authors, in one go:
        any bad input is found before the topic is stored, so a failure never leaves a half-made topic."""
        if any(not (author or "").strip() for author in authors):
            raise LibraryError("an author name is empty (--author)")
        prepared = prepare_library(self.retriever, path, query)
        topic = self.add_topic(name, prepared.query, fields=fields, authors=authors, owner=owner)
        try:
            self.store.add_library(self.topic_id(topic.name, owner=owner), prepared.papers)
        except BaseException:
            self.remove_topic(topic.name, owner=owner)  # no half-made topic
            raise
        return LibraryTopic(topic, prepared.format, prepared.matches, prepared.skipped, prepared.terms)

    def library(self, name: str, *, owner: str = NO_LOGIN) -> list[dict[str, Any]]:
        """A library topic's papers (title, indexed paper id, how it was matched), in file order, then the
        papers saved to it from the feed."""
        return library_of(self.store, self.topic_id(name, owner=owner))

    def save_to_library(self, name: str, paper_ids: Sequence[str], *, owner: str = NO_LOGIN) -> int:
        """Add indexed papers (ones the feed showed) to the topic's library, each once; new papers close to
        them join the topic's feed from now on, the unseen part of the current window too. Returns how many
        were added (0: all were there already, or none is indexed)."""
        stored = self._stored(name, owner)
        rows = self.store.library(stored.id)
        held = {row.paper_id for row in rows if row.paper_id}
        wanted = [pid for pid in dict.fromkeys(paper_ids) if pid not in held]
        papers = self.retriever.catalog.get_papers(wanted)
        start = max((row.position for row in rows), default=-1) + 1
        added = [
            LibraryPaper(start + offset, papers[pid].title, pid, SAVED_FROM_FEED, None)
            for offset, pid in enumerate(pid for pid in wanted if pid in papers)
        ]
        if not added:
            return 0
        self.store.add_library(stored.id, added)
        with self.store.transaction():
            stored = self.store.get_topic(stored.id)
            if stored.window is not None:
                self._fill_window(stored, stored.window)
        return len(added)

    def list_topics(self, *, owner: str = NO_LOGIN) -> list[Topic]:
        """The owner's topics, oldest first."""
        return [stored.topic for stored in self.store.topics(owner)]

    def get_topic(self, name: str, *, owner: str = NO_LOGIN) -> Topic:
        return self._stored(name, owner).topic

    def remove_topic(self, name: str, *, owner: str = NO_LOGIN) -> None:
        self.store.remove_topic(self._stored(name, owner).id)

    def rename_topic(self, name: str, new_name: str, *, owner: str = NO_LOGIN) -> Topic:
        """Give a topic another name; its query, fields, authors and seen papers stay."""
        stored = self._stored(name, owner)
        clean = " ".join((new_name or "").split())
        if not clean:
            raise RadarError("the new name is empty")
        if len(clean) > MAX_NAME_CHARS:
            raise RadarError(
                f"the topic name is {len(clean)} characters long; keep it under {MAX_NAME_CHARS}"
            )
        other = self.store.find_topic(owner, name_key(clean))
        if (other is not None and other.id != stored.id) or not self.store.rename_topic(
            stored.id, clean, name_key(clean)
        ):
            taken = other.topic.name if other is not None else clean
            raise RadarError(f"a topic named {taken!r} already exists; pick another name")
        return self.store.get_topic(stored.id).topic

    def unfollow_author(self, name: str, author: str, *, owner: str = NO_LOGIN) -> Topic:
        """Stop following an author in a topic: their papers no longer enter its feed by name (papers
        already shown stay seen; the unseen part of the current window is ranked again)."""
        stored = self._stored(name, owner)
        authors = stored.topic.authors
        kept = [a for a in authors if fold(a) != fold(author or "")]
        if len(kept) == len(authors):
            raise RadarError(f"{stored.topic.name!r} does not follow {author!r}")
        with self.store.transaction():
            self.store.set_authors(stored.id, kept)
            stored = self.store.get_topic(stored.id)
            if stored.window is not None:
                self._fill_window(stored, stored.window)
        return stored.topic

    def follow_author(self, name: str, author: str, *, owner: str = NO_LOGIN) -> Topic:
        """Follow an author in a topic; their papers in the current window join the unseen feed."""
        stored = self._stored(name, owner)
        new = clean_authors([author])
        if not new:
            raise RadarError("the author name is empty")
        authors = stored.topic.authors
        if any(fold(a) == fold(new[0]) for a in authors):
            return stored.topic
        with self.store.transaction():
            self.store.set_authors(stored.id, [*authors, new[0]])
            stored = self.store.get_topic(stored.id)
            if stored.window is not None:
                self._fill_window(stored, stored.window)
        return stored.topic

    # --- the feed -------------------------------------------------------------------------------------

    def feed(
        self,
        name: str,
        *,
        batch: int = 10,
        next_batch: bool = False,
        author: str | None = None,
        owner: str = NO_LOGIN,
    ) -> FeedBatch:
        if batch < 1 or batch > MAX_BATCH:
            raise RadarError(f"the batch size must be between 1 and {MAX_BATCH} (got {batch})")
        self._stored(name, owner)  # unknown topic: say so before anything else
        self.require_index()
        author_key = fold(author.strip()) if author and author.strip() else None
        with self.store.transaction():
            stored = self._stored(name, owner)
            if stored.window is None or (
                not next_batch and catalog_moved(self.retriever.catalog, stored.window)
            ):
                stored = self._open_visit(stored)
            window = _current(stored)
            items = self._feed_items(stored.id, window.number)
            if author_key:
                items = [item for item in items if by_author(item.hit.paper.authors, author_key)]
            shown, number = ([], 0) if next_batch else where_the_user_left_off(items)
            if not shown:
                shown = [item for item in items if item.batch is None][:batch]
                if shown:
                    number = self._show(stored.id, window.number, shown)
            remaining = sum(1 for item in items if item.batch is None)
        return FeedBatch(
            topic=stored.topic,
            items=[item.hit for item in shown],
            since=window.since,
            batch_number=number if shown else 0,
            remaining=remaining,
            exhausted=remaining == 0,
            message=feed_message(stored.topic, window, len(items), bool(shown), remaining, author),
            followed={item.hit.paper.id: item.followed_author for item in shown if item.followed_author},
            window_total=len(items),
            author=author.strip() if author_key and author else None,
        )

    def new_paper_ids(self, name: str, *, owner: str = NO_LOGIN) -> list[str]:
        """The current window's feed papers (seen or not), opening a visit if an ingest ran since."""
        self._stored(name, owner)
        self.require_index()
        with self.store.transaction():
            stored = self._visit(name, owner)
            return self.store.window_paper_ids(stored.id, _current(stored).number)

    def window_items(
        self, name: str, *, owner: str = NO_LOGIN
    ) -> tuple[Topic, list[tuple[Hit, str | None]], datetime | None]:
        """The current window's feed (seen or not, feed order) with the followed author of each paper,
        opening a visit if an ingest ran since: what a delivery (e-mail, webhook) sends from."""
        self._stored(name, owner)
        self.require_index()
        with self.store.transaction():
            stored = self._visit(name, owner)
            window = _current(stored)
            items = self._feed_items(stored.id, window.number)
        items.sort(key=lambda item: item.rank)
        return stored.topic, [(item.hit, item.followed_author) for item in items], window.since

    def mark_seen(self, name: str, paper_ids: Sequence[str], *, owner: str = NO_LOGIN) -> int:
        """Mark papers of the current window as seen, as one batch (a delivered digest counts as shown);
        returns the batch number, 0 when nothing was unseen."""
        with self.store.transaction():
            stored = self._stored(name, owner)
            window_number = stored.window.number if stored.window else 0
            number = self.store.next_batch_number(stored.id, window_number)
            changed = self.store.mark_shown(stored.id, window_number, number, paper_ids, time.time())
        return number if changed else 0

    def topic_id(self, name: str, *, owner: str = NO_LOGIN) -> int:
        """The owner's topic's opaque id (what the app's buttons carry)."""
        return self._stored(name, owner).id

    def topic_name(self, topic_id: int, *, owner: str = NO_LOGIN) -> str | None:
        """The name of the owner's topic with this id, or None when the owner has none (a stale id, or a
        forged one naming another owner's topic: the same None)."""
        stored = self.store.find_topic_by_id(topic_id, owner)
        return stored.topic.name if stored is not None else None

    def brief(
        self,
        name: str,
        *,
        use_llm: bool | None = None,
        on_token: Callable[[str], None] | None = None,
        paper_ids: Sequence[str] | None = None,
        owner: str = NO_LOGIN,
    ) -> Briefing:
        """The cross-field briefing over this visit's new papers for the topic, or over `paper_ids` (a
        digest's papers; no visit is opened then). Raises NothingNewError (a RadarError) when none."""
        from assistant.compose.briefing_model import BriefingError

        topic = self.get_topic(name, owner=owner)
        ids = list(paper_ids) if paper_ids is not None else self.new_paper_ids(name, owner=owner)
        if not ids:
            window = _current(self._stored(name, owner))
            raise NothingNewError(f"nothing new for {topic.name!r} {since_phrase(window)}: no briefing today")
        try:
            return self._briefer.get().brief(
                topic.query,
                fields=topic.fields or None,
                per_field=min(12, max(4, len(ids))),
                paper_filter=make_filter(only_ids=set(ids)),
                use_llm=use_llm,
                on_token=on_token,
                cover_all=True,  # the new papers were judged on the topic by the feed: brief them all
            )
        except (BriefingError, RetrievalError) as err:
            raise RadarError(str(err)) from None

    def require_index(self) -> None:
        """The radar's own "the index is empty" error when it is (a send or visit needs papers)."""
        if self.retriever.catalog.count() == 0:
            raise RadarError(
                "the index is empty: run `academichub ingest` first (no options: the bundled sample; "
                "`--file` for JSONL files; `--arxiv --category cs.LG --since YYYY-MM-DD` for the live API)"
            )

    # --- internals ------------------------------------------------------------------------------------

    def _check_fields(self, fields: Sequence[str]) -> list[str]:
        clean = list(dict.fromkeys(f.strip() for f in fields if f and f.strip()))
        if clean:
            try:
                self.retriever.check_categories(tuple(clean))
            except RetrievalError as err:
                raise RadarError(str(err)) from None
        return clean

    def _stored(self, name: str, owner: str) -> StoredTopic:
        """The owner's topic of that name. Another owner's is not found, and the error is the one a name
        no topic has gets: its hint lists the acting owner's own topics only."""
        stored = self.store.find_topic(owner, name_key(name))
        if stored is None:
            names = [t.name for t in self.list_topics(owner=owner)]
            hint = (
                f" Saved topics: {', '.join(names)}."
                if names
                else " No topics saved yet: add one with `academichub radar add`."
            )
            raise RadarError(f"no topic named {name!r}.{hint}")
        return stored

    def _visit(self, name: str, owner: str) -> StoredTopic:
        """The topic with its current window, opening a visit first if an ingest ran since (call inside a
        store transaction)."""
        stored = self._stored(name, owner)
        if catalog_moved(self.retriever.catalog, stored.window):
            stored = self._open_visit(stored)
        return stored

    def _open_visit(self, stored: StoredTopic) -> StoredTopic:
        """Open the next window: what the previous one did not cover, up to the catalog's newest paper."""
        topic = stored.topic
        window = open_next_window(
            self.retriever.catalog,
            stored.window,
            topic.created_at,
            topic.last_visit,
            backfill_days=self.settings.radar.backfill_days,
        )
        self.store.open_window(stored.id, window, visit_at=time.time())
        stored = self.store.get_topic(stored.id)
        self._fill_window(stored, window)
        return stored

    def _fill_window(self, stored: StoredTopic, window: Window) -> None:
        """(Re)build the unseen part of the window's feed: followed authors first, then topic matches."""
        # Papers a digest delivered count as shown (README): they do not come back on the feed.
        shown = self.store.seen_ids(stored.id) | self.store.delivered_ids(stored.id)
        candidates = window_paper_ids(self.retriever.catalog, window) - shown
        self.store.clear_unseen(stored.id, window.number)
        if not candidates:
            return
        ranked = self.rank_papers(stored.id, stored.topic, candidates)
        start = self.store.last_rank(stored.id, window.number)
        entries = [
            FeedEntry(
                paper_id=hit.paper.id,
                rank=rank,
                score=hit.score,
                relevance=hit.relevance,
                dense_rank=hit.dense_rank,
                lexical_rank=hit.lexical_rank,
                followed_author=author,
                batch=None,
            )
            for rank, (hit, author) in enumerate(ranked, start=start + 1)
        ]
        self.store.add_entries(stored.id, window.number, entries)

    def rank_papers(self, topic_id: int, topic: Topic, candidates: set[str]) -> list[tuple[Hit, str | None]]:
        """The topic's feed order over `candidates`, each with the followed author that put it there:
        papers by followed authors first (asked for by name), then the topic's matches: a short topic's
        members as list answers find them (`_topic_members`), a library topic's papers by closeness to its
        library (at least `radar_library_min_relevance`), else papers in retrieval order whose query-paper
        cosine reaches `radar_min_relevance`; after a written topic's matches, papers close to the ones saved
        to its library from the feed (`_close_to_saved`)."""
        followed = self._followed_papers(topic, candidates)
        ranked: list[tuple[Hit, str | None]] = []
        if followed:
            author_hits = self.retriever.search(
                topic.query,
                k=min(len(followed), MAX_FEED),
                paper_filter=make_filter(only_ids=set(followed)),
                mode="dense",
            )
            ranked += [(hit, followed[hit.paper.id]) for hit in author_hits]
        try:
            library = library_matches(
                self.retriever, self.store, self.settings.fusion.rrf_k, topic_id, topic, candidates
            )
            members = self._topic_members(topic, candidates) if library is None else None
            if members is not None:
                ranked += [(hit, None) for hit in members if hit.paper.id not in followed]
                return ranked + self._close_to_saved(topic_id, topic, candidates, ranked)
            matches = (
                library
                if library is not None
                else self.retriever.search(
                    topic.query,
                    k=MAX_FEED,
                    paper_filter=make_filter(categories=topic.fields, only_ids=candidates),
                )
            )
        except RetrievalError as err:
            raise RadarError(str(err)) from None
        threshold = (
            self.settings.radar.library_min_relevance  # paper-to-paper cosines run higher
            if library is not None
            else self.settings.radar.min_relevance
        )
        ranked += [(h, None) for h in matches if h.relevance >= threshold and h.paper.id not in followed]
        if library is None and len(matches) >= MAX_FEED:
            # The search keeps its best MAX_FEED by fused rank; a window of more papers (a week of
            # listings: 1,909 papers, 428 matches for one topic) holds matches beyond them.
            rest = candidates - followed.keys() - {hit.paper.id for hit in matches}
            ranked += [(hit, None) for hit in self._matches_beyond(topic, rest, threshold)]
        return ranked + self._close_to_saved(topic_id, topic, candidates, ranked)

    def _close_to_saved(
        self, topic_id: int, topic: Topic, candidates: set[str], ranked: list[tuple[Hit, str | None]]
    ) -> list[tuple[Hit, str | None]]:
        """A written topic's papers close to the ones saved to its library from its feed, after its own
        matches: held to `radar_library_min_relevance`, as a library topic's (paper-to-paper cosines)."""
        rest = candidates - {hit.paper.id for hit, _ in ranked}
        try:
            close = saved_matches(
                self.retriever, self.store, self.settings.fusion.rrf_k, topic_id, topic, rest
            )
        except RetrievalError as err:
            raise RadarError(str(err)) from None
        threshold = self.settings.radar.library_min_relevance
        return [(hit, None) for hit in close if hit.relevance >= threshold]

    def _topic_members(self, topic: Topic, candidates: set[str]) -> list[Hit] | None:
        """A short written topic's matches among `candidates` ("diffusion models", "EEG"): the papers a
        list question on it lists (named in the title or abstract, in the sense the index's papers use
        it, close to them in meaning), not a cosine to the topic's few words, which is vague (0.13 for
        "...Video Diffusion Models"). Each hit's relevance is the closeness that rule judged, the match a
        card shows. None: a library or longer topic, or no indexed paper writes its words (the query's
        cosine then decides, at `radar_min_relevance`)."""
        if not short_topic_words(topic.query):
            return None
        found = self.lists.find(topic.query, make_filter(categories=topic.fields, only_ids=candidates))
        if found.by_meaning_only or self.lists.learned(topic.query) is None:
            return None
        closeness = {pid: value for pid, _, value in found.judged}
        return [replace(h, relevance=round(closeness.get(h.paper.id, h.relevance), 4)) for h in found.members]

    def _matches_beyond(self, topic: Topic, rest: set[str], threshold: float) -> list[Hit]:
        """The topic matches among `rest` by query-paper cosine, best first, down to `threshold`: dense
        searches of MAX_FEED papers in cosine order until one reaches a paper below it."""
        found: list[Hit] = []
        while rest:
            try:
                hits = self.retriever.search(
                    topic.query,
                    k=MAX_FEED,
                    paper_filter=make_filter(categories=topic.fields, only_ids=rest),
                    mode="dense",
                )
            except RetrievalError as err:
                raise RadarError(str(err)) from None
            passing = [hit for hit in hits if hit.relevance >= threshold]
            found += passing
            if not hits or len(passing) < len(hits):
                break  # cosine order: the rest are below the threshold (or none is left)
            rest = rest - {hit.paper.id for hit in hits}
        return found

    def _followed_papers(self, topic: Topic, candidates: set[str]) -> dict[str, str]:
        """Paper id -> the first of the topic's followed authors on it, among `candidates`."""
        followed: dict[str, str] = {}
        for author in topic.authors:
            for pid in self.retriever.catalog.filter_ids(make_filter(author=author, only_ids=candidates)):
                followed.setdefault(pid, author)
        return followed

    def _feed_items(self, topic_id: int, window: int) -> list[FeedItem]:
        entries = self.store.entries(topic_id, window)
        papers = self.retriever.catalog.get_papers([e.paper_id for e in entries])
        items = []
        for e in entries:
            paper = papers.get(e.paper_id)
            if paper is None:
                continue  # removed from the catalog since: never shown
            hit = Hit(paper, e.score, e.relevance, e.dense_rank, e.lexical_rank)
            items.append(FeedItem(hit, e.followed_author, e.batch, e.rank))
        return items

    def _show(self, topic_id: int, window: int, items: list[FeedItem]) -> int:
        """Record `items` as the window's next batch (seen from now on); returns the batch number."""
        number = self.store.next_batch_number(topic_id, window)
        self.store.mark_shown(topic_id, window, number, [item.hit.paper.id for item in items], time.time())
        for item in items:
            item.batch = number
        return number


# --- rules as small functions -------------------------------------------------------------------------


def where_the_user_left_off(items: list[FeedItem]) -> tuple[list[FeedItem], int]:
    """Reopening the feed mid-window shows the latest batch again (and its number); once everything new has
    been shown, nothing (the feed then says so instead of showing old papers again)."""
    if not any(item.batch is None for item in items):
        return [], 0
    latest = max((item.batch for item in items if item.batch), default=0)
    if not latest:
        return [], 0
    return [item for item in items if item.batch == latest], latest


def feed_message(
    topic: Topic, window: Window, total: int, shown: bool, remaining: int, author: str | None
) -> str | None:
    """What the feed says besides its papers (None when there is more to come)."""
    since = since_phrase(window)
    who = t("radar.feed.by", author=repr(author.strip())) if author and author.strip() else ""
    name = repr(topic.name)
    if not total:
        return t("radar.feed.nothing", name=name, who=who, since=since)
    if not shown:
        return t("radar.feed.seen_all", name=name, who=who, since=since, n=total)
    if remaining == 0:
        return t("radar.feed.everything", name=name, who=who, since=since, n=total)
    return None


def _current(stored: StoredTopic) -> Window:
    """The topic's current window (a visit has been opened)."""
    assert stored.window is not None, "a visit opens a window before the feed reads it"
    return stored.window
