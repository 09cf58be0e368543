"""The pieces of a briefing's text: each field's share of papers, the overview, bridges, checked model
sections merged with extractive ones, references; shared with the app and the radar."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from assistant.compose.briefing_model import (
    MAX_BRIDGE_TERMS,
    Bridge,
    FieldSection,
    in_field,
    no_bridges,
)
from assistant.compose.citations import (
    cited_numbers,
    escape_markdown,
    strip_citations,
)
from assistant.compose.extractive import split_sentences, states_open_problem
from assistant.compose.model import Source
from assistant.core.fields import field_name, label
from assistant.core.i18n import plural, t
from assistant.search.hit import Hit
from assistant.store.filter import PaperFilter

# --- pieces shared with the app and the radar ---------------------------------------------------------------

_URL = re.compile(r"https?://\S+|www\.\S+|\S+\.(?:com|org|io|net)\S*", re.IGNORECASE)
_TOPIC_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")


def window_text(flt: PaperFilter) -> str:
    if flt.only_ids is not None:  # e.g. a radar topic's new papers: not "all indexed papers"
        return plural(len(flt.only_ids), "count.selected_paper")
    if flt.since and flt.until:
        return t("window.between", since=flt.since.isoformat(), until=flt.until.isoformat())
    if flt.since:
        return t("window.since", since=flt.since.isoformat())
    if flt.until:
        return t("window.until", until=flt.until.isoformat())
    return t("window.all")


def _marks(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in sorted(numbers))


def _names_field(heading: str, section: FieldSection) -> bool:
    """The model may write the heading as given ("Machine Learning (cs.LG)"), the code or the name."""
    text = heading.strip().lower()
    name = field_name(section.field) or ""
    return text in {section.label.lower(), section.field.lower(), name.lower()} or text.endswith(
        f"({section.field.lower()})"
    )


def covering_fields(papers: Sequence[Any], most: int) -> list[str]:
    """Up to `most` fields that between them hold the most papers (`Paper`s), chosen greedily (the field
    holding most of the papers not yet held first): archives (cs, q-bio, ...) when the papers span two or
    more, else categories (cs.LG, cs.CV, ...)."""
    by_archive = len({a for p in papers for a in p.archives}) >= 2
    left = {p.id: set(p.archives if by_archive else p.categories) for p in papers}
    chosen: list[str] = []
    while any(left.values()) and len(chosen) < most:
        counts: dict[str, int] = {}
        for fields in left.values():
            for name in fields:
                counts[name] = counts.get(name, 0) + 1
        best = min(counts, key=lambda name: (-counts[name], name))
        chosen.append(best)
        left = {pid: fields for pid, fields in left.items() if best not in fields}
    return chosen


def share_out(
    pools: dict[str, list[Hit]], vectors: dict[str, Any], per_field: int, lam: float = 0.7
) -> dict[str, list[Hit]]:
    """Each field's quota from its on-topic papers, each paper in one section. Fields take turns, the one
    with the fewest on-topic papers first, each taking the paper with the best maximal marginal relevance
    (relevance against similarity to what that field already holds): a cross-listed paper goes where it
    is needed, and no field is emptied by its neighbours while it has a paper of its own."""
    chosen: dict[str, list[Hit]] = {name: [] for name in pools}
    taken: set[str] = set()
    order = sorted(pools, key=lambda f: (len(pools[f]), list(pools).index(f)))
    while True:
        progressed = False
        for name in order:
            if len(chosen[name]) >= per_field:
                continue
            free = [h for h in pools[name] if h.paper.id not in taken]
            if not free:
                continue

            def gain(hit: Hit, mine: list[Hit] = chosen[name]) -> float:
                vector = vectors.get(hit.paper.id)
                redundancy = max(
                    (
                        float(vector @ vectors[m.paper.id])
                        for m in mine
                        if vector is not None and m.paper.id in vectors
                    ),
                    default=0.0,
                )
                return lam * hit.relevance - (1 - lam) * redundancy

            best = max(free, key=gain)
            chosen[name].append(best)
            taken.add(best.paper.id)
            progressed = True
        if not progressed:
            return chosen


def coverage_note(section: FieldSection) -> str:
    """Says when a field has fewer papers on the topic than its quota, or none."""
    if not section.field:
        return ""
    if section.relevant == 0:
        return t("brief.field_empty", field=section.label)
    if section.relevant >= section.quota:
        return ""
    elsewhere = section.relevant - len(section.sources)
    papers = plural(section.relevant, "count.paper")
    if elsewhere > 0:
        return t("brief.field_few_elsewhere", papers=papers, field=section.label, elsewhere=elsewhere)
    return t("brief.field_few", papers=papers, field=section.label)


def overview_text(
    topic: str,
    sections: Sequence[FieldSection],
    sources: Sequence[Source],
    bridges: Sequence[Bridge],
    terms: dict[str, set[int]],
) -> str:
    """A synthesis across fields, every claim cited: which fields work on the topic and how many papers,
    what the papers of each field deal with (their shared specific terms), and where the fields meet."""
    filled = [s for s in sections if s.sources]
    empty = [s for s in sections if not s.sources and s.field]
    counts = [
        t(
            "brief.count_in_field",
            n=len(s.sources),
            field=escape_markdown(s.label),
            marks=_marks(x.number for x in s.sources),
        )
        for s in filled
    ]
    papers = plural(len(sources), "count.paper")
    about = escape_markdown(topic)
    if len(filled) == 1 and not filled[0].field:
        opening = t("brief.opening_one", papers=papers, topic=about, marks=_marks(x.number for x in sources))
    else:
        fields = plural(len(filled), "count.field")
        opening = t("brief.opening", papers=papers, topic=about, fields=fields, counts=_join(counts))
    sentences = [opening]
    if empty:
        sentences.append(t("brief.none_in", fields=escape_markdown(_join([s.label for s in empty]))))
    for section in filled:
        numbers = {x.number for x in section.sources}
        mine = sorted(
            ((t, sorted(held & numbers)) for t, held in terms.items() if held & numbers),
            key=lambda item: (-len(item[1]), item[0].lower()),
        )[:3]
        if mine:
            listed = _join([f"*{escape_markdown(t)}* {_marks(numbers)}" for t, numbers in mine])
            sentences.append(t("brief.field_terms", field=escape_markdown(section.label), listed=listed))
    shared = [b for b in bridges if b.kind == "method"]
    crossed = [b for b in bridges if b.kind == "paper"]
    if shared:
        listed = _join([f"*{escape_markdown(b.label)}* {_marks(b.numbers)}" for b in shared[:3]])
        sentences.append(t("brief.shared", listed=listed))
    if crossed:
        crossing = [n for b in crossed for n in b.numbers]
        count = len(crossing)
        form = "one" if count == 1 else "other"
        sentences.append(t(f"brief.crossing.{form}", n=count, marks=_marks(crossing)))
    return t("word.sentence_join").join(sentences)


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def find_bridges(
    sections: Sequence[FieldSection],
    fields: Sequence[str],
    terms: dict[str, set[int]] | None = None,
    squarely: set[int] | None = None,
    limit: int = MAX_BRIDGE_TERMS,
) -> list[Bridge]:
    """Listed papers squarely on the topic (`squarely`: their numbers; None: all listed) cross-listed in
    two or more of the fields, then specific terms held by listed papers of two or more sections (`terms`:
    term -> numbers of the papers holding it)."""
    bridges: list[Bridge] = []
    if len(fields) < 2:
        return bridges
    for section in sections:
        for source in section.sources:
            if squarely is not None and source.number not in squarely:
                continue
            shared = [f for f in fields if in_field(source.paper, f)]
            if len(shared) >= 2:
                bridges.append(Bridge("paper", source.paper.title, [source.number], shared))
    section_of = {src.number: sec.field for sec in sections for src in sec.sources}
    ranked = []
    for term, numbers in (terms or {}).items():
        spanned = [s.field for s in sections if any(section_of.get(n) == s.field for n in numbers)]
        if len(spanned) >= 2:
            ranked.append((term, sorted(numbers), spanned))
    ranked.sort(key=lambda t: (-len(t[2]), -len(t[1]), t[0].lower()))
    bridges += [Bridge("method", term, numbers, spanned) for term, numbers, spanned in ranked[:limit]]
    return bridges


def bridges_markdown(bridges: Sequence[Bridge]) -> str:
    if not bridges:
        return no_bridges()
    lines = []
    for bridge in bridges:
        fields = t("word.and_short").join(escape_markdown(label(f)) for f in bridge.fields)
        what = escape_markdown(bridge.label)
        marks = _marks(bridge.numbers)
        key = "brief.bridge_paper" if bridge.kind == "paper" else "brief.bridge_term"
        lines.append(f"- {t(key, what=what, fields=fields, marks=marks)}")
    return "\n".join(lines)


def merge_checked(
    written: dict[str, str],
    extractive: dict[str, str],
    sections: Sequence[FieldSection],
    notices: list[str],
) -> dict[str, str]:
    """The model's sections that pass the checks; each other section is the extractive one, with a note.

    Checks: the section is there; most of its sentences are cited; a field section cites a paper of its
    field; bridges exist to be written about; each open question states a limitation, open problem or
    future work (or asks a question) and is cited."""
    merged: dict[str, str] = {}
    names = {"overview": t("brief.overview"), "bridges": t("brief.bridges"), "open": t("brief.open")}
    names.update({s.field: s.label for s in sections})
    own = {s.field: {x.number for x in s.sources} for s in sections}
    for key, fallback in extractive.items():
        body = written.get(key, "").strip()
        if key in own and not own[key]:
            merged[key] = fallback  # a field with no paper on the topic is said so, not written about
            continue
        problem = ""
        if not body:
            problem = t("brief.problem.left_out")
        elif not mostly_cited(body):
            problem = t("brief.problem.uncited")
        elif key in own and not (cited_numbers(body) & own[key]):
            problem = t("brief.problem.no_field_paper")
        elif key == "bridges" and fallback == no_bridges():
            problem = t("brief.problem.unsupported_bridges")
        elif key == "open" and not all(states_open_problem(_bullet(b)) for b in _bullets(body)):
            problem = t("brief.problem.not_open")
        if problem:
            notices.append(t("notice.section_replaced", section=names.get(key, key), problem=problem))
            merged[key] = fallback
        else:
            merged[key] = body
    return merged


def _bullets(body: str) -> list[str]:
    lines = [line for line in body.splitlines() if line.strip()]
    bullets = [line for line in lines if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", line)]
    return bullets or split_sentences(body)


def _bullet(line: str) -> str:
    return strip_citations(re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line)).strip()


def mostly_cited(body: str) -> bool:
    """At least one valid-looking citation, and at most a third of the sentences without one."""
    lines = [re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line) for line in body.splitlines()]
    sentences = [s for line in lines for s in split_sentences(line) if len(s.split()) >= 4]
    if not sentences or not cited_numbers(body):
        return False
    uncited = sum(1 for s in sentences if not cited_numbers(s))
    return uncited * 3 <= len(sentences)


def references_markdown(sources: Sequence[Source]) -> str:
    lines = []
    for source in sources:
        paper = source.paper
        when = paper.published.isoformat() if paper.published else "undated"
        lines.append(
            f"{source.number}. {escape_markdown(paper.short_authors().rstrip('.'))}. "
            f"*{escape_markdown(paper.title)}*. "
            f"{paper.reference_id} [{escape_markdown(label(paper.primary_category))}], {when}. "
            f"[abs]({paper.abs_url}) · [PDF]({paper.pdf_url})"
        )
    return "\n".join(lines)


def split_sections(markdown: str) -> dict[str, str]:
    """`## Heading` -> body, for the headings the model wrote."""
    parts: dict[str, str] = {}
    current: str | None = None
    buffer: list[str] = []
    for line in markdown.splitlines():
        match = re.match(r"^\s*#{1,3}\s+(.+?)\s*#*\s*$", line)
        if match:
            if current is not None:
                parts[current] = "\n".join(buffer).strip()
            current, buffer = match.group(1).strip().strip("*").strip(), []
        elif current is not None:
            buffer.append(line)
    if current is not None:
        parts[current] = "\n".join(buffer).strip()
    return {k: v for k, v in parts.items() if v}
