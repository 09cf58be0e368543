"""Briefing quality: brief a set of topics across 2-3 fields each (fields where the index holds at least 5
papers on the topic) and count what a researcher forwarding the briefing would be embarrassed by.

    ACADEMICHUB_EMBEDDING_BACKEND=onnx python -m bench.briefing --home /tmp/june-home   # June, ONNX-built
    academichub bench briefing --home /tmp/june-home

Per topic and overall:
- on-topic share: listed papers that are on the topic. A paper is on the topic when its title or abstract
  holds one of the topic's key terms (a hand-written pattern per topic, below, independent of how the
  briefing chooses papers) and its cosine to the topic is at least 0.30 (the same embedding the index uses).
- short sections: field sections with fewer than 2 on-topic papers although the field holds 5 or more.
- generic bridges: shared-term bridges whose term is generic (see `generic_reason`), and paper bridges that
  are off topic.
- open questions without a cue: quoted open-question sentences with no limitation / open-problem cue
  (see `OPEN_CUE`) and no question mark.
- repeats: papers listed in two sections, and sentences quoted twice.

Aims: >= 90% on topic overall, no short section, 0 generic bridges. Extractive mode (what every new user
sees). The table goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.compose.briefing import Briefer
from assistant.compose.briefing_model import Briefing
from assistant.core.paper import Paper
from assistant.core.settings import get_settings
from assistant.engine import build_retriever
from assistant.search.retrieval import Retriever
from assistant.store.catalog_store import CatalogStore
from assistant.store.filter import PaperFilter
from bench.report import emit_json

ON_TOPIC_COSINE = 0.30
MIN_FIELD_PAPERS = 5
PER_FIELD = 4


@dataclass(frozen=True)
class Topic:
    query: str
    key_terms: str  # regular expression over title + abstract (case-insensitive unless it has capitals)
    fields: tuple[str, ...]

    def pattern(self) -> re.Pattern[str]:
        flags = 0 if re.search(r"[A-Z]{2}", self.key_terms) else re.IGNORECASE
        return re.compile(self.key_terms, flags)


# Topics of the June 2026 listings where every field holds >= 5 papers with the key terms (checked by the
# run itself: the "field papers" column).
TOPICS = (
    Topic("machine unlearning", r"\b[Uu]nlearn", ("cs.LG", "cs.CL", "cs.CV")),
    Topic(
        "retrieval-augmented generation",
        r"\b[Rr]etrieval[- ]augmented|\bRAG\b|\b[Aa]ugmented [Gg]eneration",
        ("cs.CL", "cs.IR", "cs.LG"),
    ),
    Topic(
        "automatic speech recognition",
        r"\b[Ss]peech recognition|\bASR\b",
        ("cs.CL", "eess.AS", "cs.SD"),
    ),
    Topic("knowledge distillation", r"\bknowledge distillation|\bdistill", ("cs.CV", "cs.LG", "cs.CL")),
    Topic("jailbreak attacks on language models", r"\bjailbreak", ("cs.CL", "cs.AI")),
    Topic("mixture of experts", r"\b[Mm]ixture[- ]of[- ][Ee]xperts|\bMoE", ("cs.CL", "cs.CV", "cs.LG")),
    Topic(
        "medical image segmentation",
        r"\bsegment\w*\b[^.]*\b(?:medical|clinical|tumou?r|organ|lesion|CT|MRI)|"
        r"\b(?:medical|clinical|tumou?r|organ|lesion|CT|MRI)\b[^.]*\bsegment",
        ("cs.CV", "cs.AI", "cs.LG"),
    ),
    Topic("physics-informed neural networks", r"\b[Pp]hysics[- ]informed|\bPINNs?\b", ("cs.CE", "cs.LG")),
    Topic(
        "robot manipulation policies",
        r"\bmanipulat",
        ("cs.RO", "cs.CV", "cs.AI"),
    ),
    Topic("hallucination in multimodal models", r"\bhallucinat", ("cs.CV", "cs.CL", "cs.LG")),
)

# A limitation, open problem or future work, in the words researchers use (the cue phrases).
OPEN_CUE = re.compile(
    r"remains? (?:\w+ )?(?:unclear|open|unknown|unexplored|underexplored|challenging|elusive|unsolved|"
    r"unresolved|limited|difficult|understudied|poorly)|remains? to be|open (?:research )?(?:question|"
    r"problem|challenge|issue)|future (?:work|research|direction|stud)|limitation|it is (?:still |not yet )?"
    r"(?:unknown|unclear|not (?:known|clear))|little is known|poorly understood|not (?:yet |well |fully )"
    r"understood|(?:has|have) (?:not (?:yet )?been|yet to be) \w*|under-?explored|unexplored|understudied",
    re.IGNORECASE,
)

# General English and academic prose: a bridge term made only of these words, or starting/ending with a
# verb or evaluative word of this list, names no method ("remarkable success", "have been", "remove
# targeted"). Independent of the product's own word list.
_GENERAL_TEXT = (
    "a about above across after again against all also although always among an and any approach "
    "approaches are around as at based be because been before being below between both but by can could "
    "current did do does done during each either effective efficient enable enables especially even every "
    "existing few first for from further given good great has have having high higher how however if "
    "important improve improved improves improving in including increase increasing into is it its key "
    "large less like made main make makes making many may method methods might model models more most "
    "much must new not novel of often on one only or other our over paper performance present previous "
    "prior propose proposed provide provides recent remarkable remove removed removes removing result "
    "results same several shall should show shows significant significantly similar since so some "
    "specific still strong study success successful such targeted than that the their them then there "
    "these they this those though through thus to toward towards under up upon use used uses using "
    "various very via was way we well were what when where whether which while who will with within "
    "without work works would yet achieve achieves achieved demonstrate demonstrates demonstrated "
    "effectively promising impressive substantial substantially great greatly notable notably widely wide "
    "growing emerging increasingly "
)
GENERAL_WORDS = frozenset(_GENERAL_TEXT.split())
GENERIC_SHARE = 0.03


@dataclass
class TopicResult:
    topic: str
    fields: list[str]
    field_papers: dict[str, int]  # on-topic papers each field holds in the index
    listed: int
    on_topic: int
    short_sections: list[str]
    generic_bridges: list[str]
    bridge_terms: list[str]
    paper_bridges: int
    open_questions: int
    open_without_cue: list[str]
    repeated_papers: int
    repeated_sentences: int
    off_topic_titles: list[str]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__ | {
            "on_topic_share": round(self.on_topic / self.listed, 3) if self.listed else None
        }


class OnTopic:
    """The benchmark's on-topic test: key terms in title/abstract and cosine >= ON_TOPIC_COSINE."""

    def __init__(self, retriever: Retriever, topic: Topic) -> None:
        self.retriever = retriever
        self.pattern = topic.pattern()
        self.query = retriever.embedder.encode_query(topic.query)

    def test(self, papers: list[Paper]) -> dict[str, bool]:
        keyed = [p for p in papers if self.pattern.search(f"{p.title} {p.abstract}")]
        vectors = self.retriever.paper_vectors([p.id for p in keyed]) if keyed else {}
        result = dict.fromkeys((p.id for p in papers), False)
        for paper in keyed:
            vector = vectors.get(paper.id)
            result[paper.id] = vector is not None and float(np.dot(vector, self.query)) >= ON_TOPIC_COSINE
        return result


def field_on_topic(catalog: CatalogStore, judge: OnTopic, field: str) -> int:
    ids = catalog.filter_ids(PaperFilter(categories=(field,)))
    papers = list(catalog.get_papers(ids).values())
    return sum(judge.test(papers).values())


def generic_reason(term: str, catalog: CatalogStore, total: int) -> str | None:
    """Why a bridge term is generic, or None: only general words, a general word at either end, or a
    phrase found in more than 3% of all papers (it names no particular method)."""
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9\-]*", term)]
    if not words or all(w in GENERAL_WORDS for w in words):
        return "only general words"
    named = words[-1] in {"benchmark", "dataset"}
    if len(words) > 1 and not named and (words[0] in GENERAL_WORDS or words[-1] in GENERAL_WORDS):
        return "starts or ends with a general word"
    papers = catalog.phrase_frequencies([term])[term]
    if total and papers / total > GENERIC_SHARE:
        return f"in {papers / total:.0%} of all papers"
    return None


_SECTION_RE = re.compile(r"^## (.+)\n([\s\S]*?)(?=^## |\Z)", re.MULTILINE)
_CITED_BULLET = re.compile(r"^- (.+\[\d+\].*)$", re.MULTILINE)


def evaluate(briefer: Briefer, topic: Topic) -> TopicResult:
    retriever = briefer.retriever
    catalog = retriever.catalog
    judge = OnTopic(retriever, topic)
    briefing: Briefing = briefer.brief(
        topic.query, fields=list(topic.fields), per_field=PER_FIELD, use_llm=False
    )
    field_papers = {f: field_on_topic(catalog, judge, f) for f in topic.fields}
    verdict = judge.test([s.paper for s in briefing.sources])
    listed = len(briefing.sources)
    on_topic = sum(verdict.values())
    short = []
    for section in briefing.sections:
        good = sum(verdict[s.paper.id] for s in section.sources)
        if good < 2 and field_papers.get(section.field, 0) >= MIN_FIELD_PAPERS:
            short.append(f"{section.field}: {good} on topic of {len(section.sources)}")
    total = catalog.count()
    generic, terms, paper_bridges = [], [], 0
    by_number = {s.number: s for s in briefing.sources}
    for bridge in briefing.bridges:
        if bridge.kind == "paper":
            paper_bridges += 1
            if not all(verdict.get(by_number[n].paper.id, False) for n in bridge.numbers if n in by_number):
                generic.append(f"off-topic paper: {bridge.label[:60]}")
            continue
        terms.append(bridge.label)
        reason = generic_reason(bridge.label, catalog, total)
        if reason:
            generic.append(f"{bridge.label!r} ({reason})")
    sections = dict(_SECTION_RE.findall(briefing.markdown))
    open_lines = _CITED_BULLET.findall(sections.get("Open questions", ""))
    without_cue = [
        line[:100]
        for line in open_lines
        if not (OPEN_CUE.search(line) or re.sub(r"\s*\[\d+\]", "", line).rstrip(" .").endswith("?"))
    ]
    appearances = Counter(s.number for sec in briefing.sections for s in sec.sources)
    quoted = Counter(
        re.sub(r"\s*\[\d+\]", "", line).strip()
        for body in sections.values()
        for line in re.findall(r"^- (?:\*\*.+?\*\*: )?(.+\[\d+\]\.?)$", body, flags=re.MULTILINE)
    )
    return TopicResult(
        topic=topic.query,
        fields=list(topic.fields),
        field_papers=field_papers,
        listed=listed,
        on_topic=on_topic,
        short_sections=short,
        generic_bridges=generic,
        bridge_terms=terms,
        paper_bridges=paper_bridges,
        open_questions=len(open_lines),
        open_without_cue=without_cue,
        repeated_papers=sum(1 for n in appearances.values() if n > 1),
        repeated_sentences=sum(1 for n in quoted.values() if n > 1),
        off_topic_titles=[s.paper.title[:70] for s in briefing.sources if not verdict[s.paper.id]],
    )


def summarise(results: list[TopicResult]) -> dict[str, Any]:
    listed = sum(r.listed for r in results)
    on_topic = sum(r.on_topic for r in results)
    return {
        "topics": len(results),
        "listed": listed,
        "on_topic": on_topic,
        "on_topic_share": round(on_topic / listed, 3) if listed else math.nan,
        "short_sections": sum(len(r.short_sections) for r in results),
        "generic_bridges": sum(len(r.generic_bridges) for r in results),
        "bridge_terms": sum(len(r.bridge_terms) for r in results),
        "paper_bridges": sum(r.paper_bridges for r in results),
        "open_questions": sum(r.open_questions for r in results),
        "open_without_cue": sum(len(r.open_without_cue) for r in results),
        "repeated_papers": sum(r.repeated_papers for r in results),
        "repeated_sentences": sum(r.repeated_sentences for r in results),
        "aims_met": bool(
            listed
            and on_topic / listed >= 0.9
            and not any(r.short_sections for r in results)
            and not any(r.generic_bridges for r in results)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.briefing", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="the index (default: ACADEMICHUB_HOME)")
    parser.add_argument("--topic", action="append", default=[], help="only topics containing this text")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    base = get_settings()
    settings = base if args.home is None else base.replace(storage={"home": args.home})
    if not settings.storage.catalog_path.is_file():
        console.print(
            f"no index at {settings.storage.home}: ingest the June listings there first (see --help)"
        )
        return 2
    briefer = Briefer(settings, build_retriever(settings), llm=None)
    chosen = [t for t in TOPICS if not args.topic or any(x.lower() in t.query.lower() for x in args.topic)]
    results = []
    table = Table(title="Briefing quality (extractive)", title_justify="left")
    for name in ("topic", "field papers", "on topic", "short sections", "generic bridges", "open w/o cue"):
        table.add_column(name, justify="left" if name in ("topic", "field papers") else "right")
    for topic in chosen:
        result = evaluate(briefer, topic)
        results.append(result)
        table.add_row(
            topic.query,
            " ".join(f"{f}:{n}" for f, n in result.field_papers.items()),
            f"{result.on_topic}/{result.listed}",
            str(len(result.short_sections)),
            str(len(result.generic_bridges)),
            f"{len(result.open_without_cue)}/{result.open_questions}",
        )
    summary = summarise(results)
    table.add_row(
        "overall",
        "",
        f"{summary['on_topic']}/{summary['listed']} ({summary['on_topic_share']:.0%})",
        str(summary["short_sections"]),
        str(summary["generic_bridges"]),
        f"{summary['open_without_cue']}/{summary['open_questions']}",
    )
    console.print(table)
    for result in results:
        if (
            result.off_topic_titles
            or result.generic_bridges
            or result.short_sections
            or result.open_without_cue
        ):
            console.print(f"[bold]{result.topic}[/bold]")
            for title in result.off_topic_titles:
                console.print(f"  off topic: {title}")
            for item in result.generic_bridges:
                console.print(f"  generic bridge: {item}")
            for item in result.short_sections:
                console.print(f"  short section: {item}")
            for item in result.open_without_cue:
                console.print(f"  open question without a cue: {item}")
    emit_json({"summary": summary, "topics": [r.to_dict() for r in results]}, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
