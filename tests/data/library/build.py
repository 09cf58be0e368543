"""Writes the library exports the radar tests read (run once; the outputs are committed):
`agents.bib` (BibTeX, as JabRef/Zotero write it), `agents.ris` (RIS, as Mendeley/Zotero write it) and
`agents.json` (CSL-JSON, as Zotero writes it): the same 32 real June-2026 arXiv papers on LLM agents.

24 come from the bundled sample (listed 2026-06-01 .. 06-24), 8 from the June daily listings but not in the
sample (a test index never holds them: they contribute title and abstract only). Some entries carry no
arXiv id at all, as hand-made references do, and are matched by title.

    python tests/data/library/build.py ../shared/data/arxiv-daily
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from ingest.sources import SAMPLE_PATH

HERE = Path(__file__).parent
SAMPLE_IDS = [
    "2605.30711",
    "2606.00555",
    "2606.01046",
    "2606.02404",
    "2606.03030",
    "2606.03137",
    "2606.05704",
    "2606.06741",
    "2606.07818",
    "2606.08146",
    "2606.08285",
    "2606.10209",
    "2606.11543",
    "2606.13148",
    "2606.14476",
    "2606.15077",
    "2606.15139",
    "2606.16364",
    "2606.18543",
    "2606.19501",
    "2606.19911",
    "2606.20621",
    "2606.22737",
    "2606.24428",
]
NO_ID = {"2606.03030", "2606.11543", "2606.19911"}  # references typed by hand: title and authors only
OUTSIDE = 8


def records(daily: Path) -> list[dict]:
    with gzip.open(SAMPLE_PATH, "rt", encoding="utf-8") as handle:
        sample = {r["id"]: r for r in map(json.loads, handle)}
    chosen = [sample[i] for i in SAMPLE_IDS]
    outside: dict[str, dict] = {}
    for path in sorted(daily.glob("2026-06-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for record in map(json.loads, handle):
                title = record["title"].lower()
                if record["id"] in sample or record["id"] in outside or "agent" not in title:
                    continue
                if "llm" in title or "language model" in title:
                    outside[record["id"]] = record
    return chosen + sorted(outside.values(), key=lambda r: r["id"])[:OUTSIDE]


def surname_first(name: str) -> str:
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else name


def bib_escape(text: str) -> str:
    """What BibTeX exporters escape in field text (Zotero writes 16-18\\% and R\\&D)."""
    return text.replace("%", r"\%").replace("&", r"\&").replace("#", r"\#")


def bibtex(papers: list[dict]) -> str:
    out = []
    for number, p in enumerate(papers, start=1):
        ident = "" if p["id"] in NO_ID else p["id"]
        fields = [
            f"  title = {{{bib_escape(p['title'])}}}",
            f"  author = {{{' and '.join(surname_first(a) for a in p['authors'])}}}",
            "  year = {2026}",
            f"  abstract = {{{bib_escape(p['summary'])}}}",
        ]
        if ident and number % 3:
            fields += [
                f"  eprint = {{{ident}}}",
                "  archivePrefix = {arXiv}",
                f"  primaryClass = {{{p['categories'][0]}}}",
            ]
        elif ident:
            fields += [
                f"  url = {{http://arxiv.org/abs/{ident}v1}}",
                f"  journal = {{arXiv preprint arXiv:{ident}}}",
            ]
        key = f"{surname_first(p['authors'][0]).split(',')[0].lower()}2026_{number}"
        out.append(f"@article{{{key},\n" + ",\n".join(fields) + "\n}\n")
    return "\n".join(out)


def ris(papers: list[dict]) -> str:
    lines = []
    for p in papers:
        lines.append("TY  - PREP" if p["id"] not in NO_ID else "TY  - JOUR")
        lines.append(f"TI  - {p['title']}")
        lines += [f"AU  - {surname_first(a)}" for a in p["authors"]]
        lines.append("PY  - 2026")
        lines.append(f"AB  - {p['summary']}")
        if p["id"] not in NO_ID:
            lines.append(f"DO  - 10.48550/arXiv.{p['id']}")
            lines.append(f"UR  - http://arxiv.org/abs/{p['id']}")
        lines.append("ER  - ")
        lines.append("")
    return "\n".join(lines)


def csl(papers: list[dict]) -> str:
    items = []
    for number, p in enumerate(papers, start=1):
        item = {
            "id": f"http://zotero.org/users/local/x/items/{number:08d}",
            "type": "article",
            "title": p["title"],
            "abstract": p["summary"],
            "author": [{"family": a.split()[-1], "given": " ".join(a.split()[:-1])} for a in p["authors"]],
            "issued": {"date-parts": [[2026, 6]]},
        }
        if p["id"] not in NO_ID:
            item |= {"publisher": "arXiv", "number": f"arXiv:{p['id']}", "DOI": f"10.48550/arXiv.{p['id']}"}
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    papers = records(Path(sys.argv[1]))
    assert len(papers) == len(SAMPLE_IDS) + OUTSIDE, len(papers)
    (HERE / "agents.bib").write_text(bibtex(papers), encoding="utf-8")
    (HERE / "agents.ris").write_text(ris(papers), encoding="utf-8")
    (HERE / "agents.json").write_text(csl(papers), encoding="utf-8")
    (HERE / "outside_ids.txt").write_text("".join(p["id"] + "\n" for p in papers[len(SAMPLE_IDS) :]))


if __name__ == "__main__":
    main()
