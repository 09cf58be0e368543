"""Pictures: the radar's matching papers per day for a topic, and a briefing's field map.

Each picture is computed once as plain data (`DailyCounts`, `FieldMap`) and drawn twice: as a Plotly
figure for the app (Chainlit's Plotly element; plotly.js ships inside Chainlit's page, nothing is fetched)
and as a self-contained SVG written beside an exported Markdown briefing (no browser, no kaleido). Paper
titles only ever appear as escaped text (SVG <title> tooltips, Plotly hover text); no picture links anywhere.

The field map is a plain projection: the papers' stored MiniLM vectors, centred, onto their first two
principal components (numpy SVD), so papers on the same question sit together whatever their field. The
app's figures follow the page theme: transparent backgrounds, greys that read on light and dark, and the
page's own text colour from public/academichub.css.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.errors import UserFacingError
from assistant.core.fields import label
from assistant.radar.xmltext import xml_safe
from assistant.search.retrieval import Retriever

if TYPE_CHECKING:
    from assistant.compose.briefing_model import Briefing
    from assistant.radar.service import Radar

CHART_DAYS = 28
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
# The last is a mid grey, not Okabe-Ito's black: black points vanish on the dark theme.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999933", "#8C8C8C"]
FIELD_SYMBOL, BRIDGE_SYMBOL = "circle", "diamond"
BRIDGE_KEY = "listed in several fields"  # the legend's one entry for the diamond
MIN_MAP_PAPERS = 5  # fewer points show no grouping worth a picture: no map at all
# Plotly figures sit on the page's own background (light or dark theme); text and lines are greys that read
# on both, and the page's CSS sets the text to the theme's colour.
TRANSPARENT = "rgba(0,0,0,0)"
TEXT_GREY, LINE_GREY = "#5f6368", "rgba(128,128,128,0.3)"
# Lines that fit a phone-wide chart (about 320 px; 15 px heading, 12 px caption and legend): longer ones
# wrap, as Plotly clips what does not fit.
TITLE_CHARS, CAPTION_CHARS, LEGEND_CHARS = 40, 50, 34
TITLE_LINE_PX, TITLE_GAP_PX = 20, 8  # a 15 px line at Plotly's 1.3 line spacing; room around the title


# --- the radar chart -------------------------------------------------------------------------------------


@dataclass
class DailyCounts:
    topic: str
    days: list[date]
    counts: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "days": [d.isoformat() for d in self.days],
            "counts": self.counts,
        }


def daily_counts(radar: Radar, name: str, days: int = CHART_DAYS, *, owner: str = "") -> DailyCounts:
    """How many papers of each listing day of the last `days` (up to the newest day in the index) match the
    owner's topic as its feed would rank them (same threshold, followed authors, library closeness)."""
    topic = radar.get_topic(name, owner=owner)
    start, by_day = radar.deliveries.recent_papers_by_day(days)
    if start is None:
        return DailyCounts(topic.name, [], [])
    topic_id = radar.topic_id(name, owner=owner)
    span = [start + timedelta(days=i) for i in range(days)]
    counts = [len(radar.rank_papers(topic_id, topic, by_day[d])) if d in by_day else 0 for d in span]
    return DailyCounts(topic.name, span, counts)


def _title_lines(heading: str, caption: str) -> list[str]:
    """The heading, then the caption in smaller type, wrapped (and escaped after wrapping, so no entity is
    cut): Plotly never wraps a title, it clips it."""
    lines = [html.escape(line) for line in textwrap.wrap(heading, TITLE_CHARS) or [""]]
    small = textwrap.wrap(caption, CAPTION_CHARS)
    return lines + [f'<span style="font-size:12px">{html.escape(line)}</span>' for line in small]


def _themed_layout(heading: str, caption: str, height: int, margin: dict[str, int]) -> dict[str, Any]:
    """Layout shared by the app's figures: on the page's background, titled in the top margin.

    The title is an annotation, not Plotly's `title`: plotly.js drops a multi-line title's offset below its
    anchor, so its first line sat on the chart's top edge, cut off. An annotation is placed by its whole box:
    anchored by its bottom just above the plot, in a top margin sized for its lines."""
    lines = _title_lines(heading, caption)
    title = {
        "text": "<br>".join(lines),
        "name": "title",
        "showarrow": False,
        "xref": "paper",
        "x": 0,
        "xshift": TITLE_GAP_PX - margin["l"],  # from the chart's left edge: the whole width for the lines
        "xanchor": "left",
        "align": "left",
        "yref": "paper",
        "y": 1,
        "yanchor": "bottom",
        "yshift": TITLE_GAP_PX,
        "font": {"size": 15},
    }
    top = 2 * TITLE_GAP_PX + TITLE_LINE_PX * len(lines)
    return {
        "annotations": [title],
        "height": height + top,
        "margin": {**margin, "t": top},
        "template": "plotly_white",
        "paper_bgcolor": TRANSPARENT,
        "plot_bgcolor": TRANSPARENT,
        "font": {"color": TEXT_GREY},
    }


def radar_figure(data: DailyCounts) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure(
        go.Bar(
            x=[d.isoformat() for d in data.days],
            y=data.counts,
            marker={"color": PALETTE[0], "line": {"width": 0}},
            hovertemplate="%{x}: %{y} matching papers<extra></extra>",
            name="matching papers",
        )
    )
    figure.update_layout(
        _themed_layout(
            f"Radar · {data.topic}",
            "matching papers per listing day",
            height=280,
            margin={"l": 50, "r": 20, "b": 50},
        ),
        xaxis={"title": "listing day", "gridcolor": LINE_GREY, "linecolor": LINE_GREY},
        yaxis={"title": "papers", "gridcolor": LINE_GREY, "zerolinecolor": LINE_GREY, "rangemode": "tozero"},
    )
    return figure


def radar_svg(data: DailyCounts, width: int = 760, height: int = 300) -> str:
    left, right, top, bottom = 48, 16, 40, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(data.counts, default=0) or 1
    n = max(len(data.days), 1)
    slot = plot_w / n
    parts = [
        _svg_open(width, height),
        _svg_text(left, 22, f"Radar · {data.topic}: matching papers per day", 15),
    ]
    for tick in _ticks(peak):
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(_svg_text(left - 6, y + 4, str(tick), 11, anchor="end"))
    for i, (day, count) in enumerate(zip(data.days, data.counts, strict=True)):
        bar_h = plot_h * count / peak
        x = left + i * slot + slot * 0.15
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar_h:.1f}" fill="{PALETTE[0]}"><title>{day.isoformat()}: {count} matching papers'
            "</title></rect>"
        )
        if i % 7 == 0 or i == n - 1:
            parts.append(
                _svg_text(x + slot * 0.35, height - bottom + 16, day.strftime("%m-%d"), 11, "middle")
            )
    parts.append(_svg_text(left + plot_w / 2, height - 8, "listing day", 11, "middle"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _ticks(peak: int) -> list[int]:
    step = max(1, int(np.ceil(peak / 4)))
    return list(range(0, peak + 1, step))


# --- the field map ---------------------------------------------------------------------------------------


@dataclass
class MapPoint:
    number: int  # the briefing's citation number [n]
    paper_id: str
    title: str
    field: str  # the briefing section it is listed under first
    bridge: bool  # listed in several of the briefing's fields
    x: float
    y: float


@dataclass
class FieldMap:
    topic: str
    fields: list[str]
    points: list[MapPoint]


def project(vectors: np.ndarray) -> np.ndarray:
    """Rows onto their first two principal components (signs fixed so the picture is reproducible)."""
    n = vectors.shape[0]
    if n == 0:
        return np.zeros((0, 2))
    centered = vectors - vectors.mean(axis=0)
    if n == 1 or not np.any(centered):
        return np.zeros((n, 2))
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    axes = components[:2]
    axes = axes * np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    xy = centered @ axes.T
    return xy if xy.shape[1] == 2 else np.hstack([xy, np.zeros((n, 1))])


def field_map(briefing: Briefing, retriever: Retriever) -> FieldMap | None:
    """The briefing's cited papers as points: coloured by the field they are listed under, bridges marked.
    None (no map anywhere, app or export) when fewer than `MIN_MAP_PAPERS` of them have a vector."""
    field_of: dict[int, str] = {}
    listed: dict[int, int] = {}
    for section in briefing.sections:
        for source in section.sources:
            field_of.setdefault(source.number, section.field)
            listed[source.number] = listed.get(source.number, 0) + 1
    bridges = {n for b in briefing.bridges if b.kind == "paper" for n in b.numbers}
    bridges |= {n for n, times in listed.items() if times > 1}
    sources = list(briefing.sources)
    ids = [s.paper.id for s in sources]
    vectors = retriever.vectors.vectors_of(ids)
    kept = [s for s in sources if s.paper.id in vectors]
    xy = project(np.vstack([vectors[s.paper.id] for s in kept])) if kept else np.zeros((0, 2))
    points = [
        MapPoint(
            number=s.number,
            paper_id=s.paper.id,
            title=s.paper.title,
            field=field_of.get(s.number) or (s.paper.primary_category or "other"),
            bridge=s.number in bridges,
            x=float(xy[i, 0]),
            y=float(xy[i, 1]),
        )
        for i, s in enumerate(kept)
    ]
    if len(points) < MIN_MAP_PAPERS:
        return None
    fields = list(dict.fromkeys([*briefing.fields, *(p.field for p in points)]))
    return FieldMap(briefing.topic, [f for f in fields if any(p.field == f for p in points)], points)


def _colour(fields: list[str], field: str) -> str:
    return PALETTE[fields.index(field) % len(PALETTE)] if field in fields else PALETTE[-1]


def field_map_figure(data: FieldMap) -> Any:
    """Per field, its points (colour = field, a diamond = a bridge paper, hover: [n] and the title) under one
    legend entry drawn as a plain circle of the field's colour; one more entry explains the diamond. The axes
    carry no scale: the caption says what distance means."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for field in data.fields:
        points = [p for p in data.points if p.field == field]
        colour = _colour(data.fields, field)
        # The legend draws a trace's first marker, which may be a diamond: it gets a key of its own instead.
        figure.add_trace(_legend_key(_legend_name(label(field)), FIELD_SYMBOL, colour, group=field))
        figure.add_trace(
            go.Scatter(
                x=[p.x for p in points],
                y=[p.y for p in points],
                mode="markers+text",
                name=_legend_name(label(field)),
                legendgroup=field,  # a click on the field's key hides or shows these points
                showlegend=False,
                text=[f"[{p.number}]" for p in points],
                textposition="top center",
                hovertext=[
                    f"[{p.number}] {html.escape(p.title)}" + (" · bridge" if p.bridge else "") for p in points
                ],
                hoverinfo="text",
                customdata=[p.number for p in points],
                marker={
                    "color": colour,
                    "opacity": 1,  # as in the legend: plotly.js fades markers of varying size to 0.7
                    "size": [16 if p.bridge else 11 for p in points],
                    "symbol": [BRIDGE_SYMBOL if p.bridge else FIELD_SYMBOL for p in points],
                    "line": {"width": [2 if p.bridge else 0 for p in points], "color": TEXT_GREY},
                },
            )
        )
    if any(p.bridge for p in data.points):
        figure.add_trace(_legend_key(BRIDGE_KEY, BRIDGE_SYMBOL, TRANSPARENT, group="bridge", outline=True))
    figure.update_layout(
        _themed_layout(
            f"Field map · {data.topic}",
            "the closer two points, the more alike their abstracts",
            height=440,
            margin={"l": 20, "r": 20, "b": 20},
        ),
        showlegend=True,  # even with one field: the legend says what the colour means
        # Projection axes have no unit a reader could use: no ticks, grid or titles.
        xaxis={"visible": False, "range": _padded([p.x for p in data.points])},
        yaxis={"visible": False, "range": _padded([p.y for p in data.points])},
        legend={"title": {"text": "field", "side": "top"}, "orientation": "h", "y": -0.02, "yanchor": "top"},
    )
    return figure


def _legend_name(name: str) -> str:
    """A legend entry's text, escaped and wrapped: Plotly clips a long field name on a narrow chart."""
    return "<br>".join(html.escape(line) for line in textwrap.wrap(name, LEGEND_CHARS))


def _legend_key(name: str, symbol: str, colour: str, *, group: str, outline: bool = False) -> Any:
    """A legend entry with no point of its own (its one point is empty), drawn with exactly `symbol`."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        name=name,
        legendgroup=group,
        showlegend=True,
        hoverinfo="skip",
        marker={
            "color": colour,
            "size": 12,
            "symbol": symbol,
            "line": {"width": 2 if outline else 0, "color": TEXT_GREY},
        },
    )


def _padded(values: list[float], share: float = 0.12) -> list[float]:
    """An axis range with room around the outermost points (markers and their [n] labels stay inside)."""
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    pad = (high - low) * share or 1.0
    return [low - pad, high + pad]


def field_map_svg(data: FieldMap, width: int = 820, height: int = 460) -> str:
    left, right, top, bottom = 24, 270, 44, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    x0, x1 = _padded([p.x for p in data.points])  # markers and [n] labels stay inside the frame
    y0, y1 = _padded([p.y for p in data.points])

    def sx(x: float) -> float:
        return left + (plot_w * (x - x0) / (x1 - x0) if x1 > x0 else plot_w / 2)

    def sy(y: float) -> float:
        return top + (plot_h - plot_h * (y - y0) / (y1 - y0) if y1 > y0 else plot_h / 2)

    parts = [
        _svg_open(width, height),
        _svg_text(left, 24, f"Field map · {data.topic} (◆ = {BRIDGE_KEY})", 15),
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ddd"/>',
    ]
    for p in data.points:
        colour = _colour(data.fields, p.field)
        x, y = sx(p.x), sy(p.y)
        tip = f"<title>[{p.number}] {html.escape(xml_safe(p.title))}{' · bridge' if p.bridge else ''}</title>"
        if p.bridge:
            r = 9
            shape = (
                f'<polygon class="point bridge" points="{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} '
                f'{x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}" fill="{colour}" stroke="#222" stroke-width="2">'
            )
            parts.append(shape + tip + "</polygon>")
        else:
            parts.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}">{tip}</circle>'
            )
        parts.append(_svg_text(x, y - 11, f"[{p.number}]", 10, "middle"))
    for i, field in enumerate(data.fields):
        y = top + 10 + i * 20
        parts.append(
            f'<circle cx="{width - right + 16}" cy="{y}" r="6" fill="{_colour(data.fields, field)}"/>'
        )
        name = label(field)
        parts.append(_svg_text(width - right + 28, y + 4, name if len(name) <= 40 else name[:39] + "…", 11))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- SVG helpers and the Markdown export -----------------------------------------------------------------


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>'
    )


def _svg_text(x: float, y: float, text: str, size: int, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="#222">'
        f"{html.escape(xml_safe(text))}</text>"
    )


class ExportError(UserFacingError, ValueError):
    """A picture file beside a Markdown export exists and is not one we wrote for that export."""

    heading = "Will not overwrite"


def _export_mark(out: Path) -> str:
    """The first line of every picture we write beside `out`: a later export to the same Markdown file may
    replace it; any other file of that name is the user's and is left alone."""
    return f"<!-- written by AcademicHub for {html.escape(out.name).replace('--', '- -')} -->"


def _claim(out: Path, path: Path) -> None:
    if not path.exists():
        return
    try:
        with path.open(encoding="utf-8", errors="replace") as existing:
            first = existing.readline().rstrip("\n")
    except OSError:
        first = ""
    if first != _export_mark(out):
        raise ExportError(
            f"{path} exists and is not a picture AcademicHub wrote for {out.name}; "
            "move it away or pick another --out name"
        )


def export_pictures(
    out: Path, briefing: Briefing | None, retriever: Retriever, counts: DailyCounts | None = None
) -> str:
    """Write the pictures beside a Markdown export (`brief.md` -> `brief-map.svg`, `brief-radar.svg`) and
    return the Markdown that shows them (image paths relative to the Markdown file).

    A picture file of that name that we did not write for this same export is never overwritten: the export
    stops with an `ExportError` before writing anything."""
    chart = counts is not None and bool(counts.days)
    data = field_map(briefing, retriever) if briefing is not None and briefing.sources else None
    radar_path, map_path = out.with_name(f"{out.stem}-radar.svg"), out.with_name(f"{out.stem}-map.svg")
    for path in ([radar_path] if chart else []) + ([map_path] if data is not None else []):
        _claim(out, path)
    mark = _export_mark(out) + "\n"
    sections = []
    if counts is not None and chart:
        radar_path.write_text(mark + radar_svg(counts), encoding="utf-8")
        sections.append(
            f"## Radar\n\n![Matching papers per listing day for {_alt(counts.topic)}]({radar_path.name})\n"
        )
    if data is not None:
        map_path.write_text(mark + field_map_svg(data), encoding="utf-8")
        sections.append(
            "## Field map\n\n"
            f"![The briefing's papers by field; diamonds are bridge papers]({map_path.name})\n\n"
            "Each point is a cited paper, coloured by field: the closer two points, the more alike the "
            "papers' abstracts. Hover a point for its citation number and title.\n"
        )
    return "\n".join(sections)


def _alt(text: str) -> str:
    return "".join(ch for ch in text if ch not in "[]()!<>`*_\\")
