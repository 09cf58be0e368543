"""The pictures with real parts: the radar chart's daily counts and a briefing's field map over a real index
(the bundled sample's 2026-06-04 and 06-05 listings, 34 papers), drawn as Plotly figures and as the SVG files
an exported Markdown briefing references."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import cast

import numpy as np
import pytest
from conftest import make_settings, sample_records, write_jsonl
from typer.testing import CliRunner

from assistant.compose.briefing import Briefer
from assistant.engine import build_radar, build_retriever
from assistant.radar import charts
from assistant.radar.service import Radar
from assistant.search.retrieval import Retriever
from assistant.store.embedding import Embedder
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

DAYS = ("2026-06-04", "2026-06-05")
TOPIC, QUERY = "LLM agents", "large language model agents and reasoning"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    home = tmp_path_factory.mktemp("charts") / "home"
    records = [r for r in sample_records() if r["date"] in DAYS]
    corpus = write_jsonl(home.parent / "corpus.jsonl", records)
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()
    return home


@pytest.fixture
def radar(tmp_path: Path, base_home: Path, embedder: Embedder) -> Radar:
    settings = make_settings(Path(shutil.copytree(base_home, tmp_path / "home")))
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    radar.add_topic(TOPIC, QUERY)
    return radar


def test_projection_is_two_dimensional_and_reproducible() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(12, 384)).astype(np.float32)
    xy = charts.project(vectors)
    assert xy.shape == (12, 2)
    assert np.allclose(xy, charts.project(vectors.copy()))
    # The first axis carries the most spread, as a principal component should.
    assert xy[:, 0].var() >= xy[:, 1].var()
    assert charts.project(vectors[:1]).shape == (1, 2) and charts.project(vectors[:0]).shape == (0, 2)


def test_daily_counts_match_the_feed(radar: Radar) -> None:
    counts = charts.daily_counts(radar, TOPIC, days=7)
    assert [d.isoformat() for d in counts.days][-2:] == list(DAYS) and len(counts.days) == 7
    # A first visit shows the matches of the last 7 listing days (ACADEMICHUB_RADAR_BACKFILL_DAYS): the
    # chart's bars together.
    feed = radar.feed(TOPIC, batch=100)
    assert sum(counts.counts) == feed.window_total > counts.counts[-1] > 0
    assert counts.counts[-2] > 0 and sum(counts.counts[:-2]) == 0  # no listings before 06-04
    figure = charts.radar_figure(counts)
    assert list(figure.data[0].y) == counts.counts
    svg = ET.fromstring(charts.radar_svg(counts))
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 7
    assert [t.text for b in bars for t in b.iter(f"{SVG}title")][
        -1
    ] == f"{DAYS[1]}: {counts.counts[-1]} matching papers"


def test_field_map_points_fields_and_bridges(radar: Radar) -> None:
    briefing = Briefer(radar.settings, radar.retriever).brief(
        QUERY, fields=["cs.CL", "cs.AI", "cs.LG"], per_field=4
    )
    data = charts.field_map(briefing, radar.retriever)
    assert data is not None
    assert sorted(p.number for p in data.points) == [s.number for s in briefing.sources]
    listed: dict[int, list[str]] = {}
    for section in briefing.sections:
        for source in section.sources:
            listed.setdefault(source.number, []).append(section.field)
    for point in data.points:
        assert point.field == listed[point.number][0]
        assert point.bridge == (len(listed[point.number]) > 1) or point.number in {
            n for b in briefing.bridges if b.kind == "paper" for n in b.numbers
        }
    assert any(p.bridge for p in data.points), "cs.CL/cs.AI/cs.LG cross-lists should give a bridge paper"
    assert len({(round(p.x, 6), round(p.y, 6)) for p in data.points}) == len(data.points)
    figure = charts.field_map_figure(data)
    assert sum(len(trace.hovertext or ()) for trace in figure.data) == len(data.points)
    named = {charts.label(f) for f in data.fields} | {charts.BRIDGE_KEY}
    assert {trace.name.replace("<br>", " ") for trace in figure.data} == named  # long names wrap
    svg_text = charts.field_map_svg(data)
    svg = ET.fromstring(svg_text)
    shapes = [e for e in svg.iter() if (e.get("class") or "").startswith("point")]
    assert len(shapes) == len(data.points)
    assert sum("bridge" in (e.get("class") or "") for e in shapes) == sum(p.bridge for p in data.points)
    assert "href" not in svg_text and "<script" not in svg_text


def shared(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)


@pytest.mark.slow
def test_exported_briefings_reference_their_pictures(
    radar: Radar,
    use_home,  # type: ignore[no-untyped-def]
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    shared(monkeypatch, embedder)
    use_home(radar.settings.storage.home)
    out = tmp_path / "today.md"
    result = CliRunner().invoke(app, ["radar", "brief", TOPIC, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    cited = len(json.loads(result.stdout)["sources"])
    markdown = out.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert images == ["today-radar.svg", "today-map.svg"]
    field_map = ET.parse(tmp_path / "today-map.svg").getroot()
    assert len([e for e in field_map.iter() if (e.get("class") or "").startswith("point")]) == cited
    radar_chart = ET.parse(tmp_path / "today-radar.svg").getroot()
    assert len([r for r in radar_chart.iter(f"{SVG}rect") if r.get("class") == "bar"]) == charts.CHART_DAYS

    out = tmp_path / "brief.md"
    two_fields = ["--field", "cs.CL", "--field", "cs.AI"]  # enough papers for a map (charts.MIN_MAP_PAPERS)
    result = CliRunner().invoke(app, ["brief", QUERY, *two_fields, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", out.read_text(encoding="utf-8")) == ["brief-map.svg"]
    assert (tmp_path / "brief-map.svg").stat().st_size > 1000
    # The same export again replaces its own pictures; a file of that name that is not ours stops it.
    assert CliRunner().invoke(app, ["brief", QUERY, *two_fields, "--out", str(out)]).exit_code == 0
    mine = tmp_path / "notes-map.svg"
    mine.write_text("<svg>my own drawing</svg>", encoding="utf-8")
    result = CliRunner().invoke(app, ["brief", QUERY, *two_fields, "--out", str(tmp_path / "notes.md")])
    # (whitespace removed: the message wraps at 80 columns, inside a long temporary path too)
    assert result.exit_code == 2 and "notes-map.svgexists" in "".join(result.stderr.split())
    assert mine.read_text(encoding="utf-8") == "<svg>my own drawing</svg>"
    assert not (tmp_path / "notes.md").exists()


def test_pictures_never_overwrite_a_file_they_did_not_write(tmp_path: Path) -> None:
    counts = charts.DailyCounts("T", [date(2026, 6, 4), date(2026, 6, 5)], [3, 1])
    no_retriever = cast(Retriever, None)  # only the field map (no briefing here) needs it
    out = tmp_path / "today.md"
    picture = tmp_path / "today-radar.svg"
    picture.write_text("holiday photo", encoding="utf-8")
    with pytest.raises(charts.ExportError, match=r"today-radar\.svg exists"):
        charts.export_pictures(out, None, no_retriever, counts)
    assert picture.read_text(encoding="utf-8") == "holiday photo"
    picture.unlink()
    assert "today-radar.svg" in charts.export_pictures(out, None, no_retriever, counts)
    first = picture.read_text(encoding="utf-8")
    charts.export_pictures(out, None, no_retriever, counts)  # ours, for the same export: replaced
    assert picture.read_text(encoding="utf-8") == first
    ET.parse(picture)  # the mark line keeps the picture a valid SVG document
    with pytest.raises(charts.ExportError):  # ours, but for another export of the same stem elsewhere
        charts.export_pictures(tmp_path / "today.markdown", None, no_retriever, counts)


def test_control_characters_do_not_break_the_svg_pictures() -> None:
    title = "Agents \x1b[31mred\x00 \x0b"
    chart = charts.radar_svg(charts.DailyCounts(title, [date(2026, 6, 4)], [2]))
    points = [charts.MapPoint(1, "2606.00001", title, "cs.AI", True, 0.0, 1.0)]
    points.append(charts.MapPoint(2, "2606.00002", "Plain", "cs.CL", False, 1.0, 0.0))
    field_map = charts.field_map_svg(charts.FieldMap(title, ["cs.AI", "cs.CL"], points))
    for text in (chart, field_map):
        root = ET.fromstring(text)  # well-formed
        assert any("Agents [31mred" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_app_charts_have_no_mode_bar_and_no_plotly_logo_link() -> None:
    """The mode bar covered the newest bars and its logo links to plotly.com: the app's chart JSON asks
    plotly.js to draw neither."""
    import plotly.io as pio

    from assistant.ui.plots import with_plot_config

    days = [date(2026, 6, d) for d in (1, 2, 3)]
    figure = charts.radar_figure(charts.DailyCounts(topic="t", days=days, counts=[1, 0, 2]))
    content = json.loads(with_plot_config(pio.to_json(figure)))
    assert content["config"]["displayModeBar"] is False
    assert content["config"]["displaylogo"] is False
    assert list(content["data"][0]["y"]) == [1, 0, 2]  # the figure itself is intact


def mapped(fields: list[str], bridges: list[bool]) -> charts.FieldMap:
    """A field map with one point per entry of `bridges`, spread over `fields` in turn."""
    points = [
        charts.MapPoint(i + 1, f"2606.{i:05d}", f"Paper {i + 1}", fields[i % len(fields)], bridge, i, i % 3)
        for i, bridge in enumerate(bridges)
    ]
    return charts.FieldMap("agents", fields, points)


def transparent(colour: str) -> bool:
    return colour.replace(" ", "") in {"rgba(0,0,0,0)", "transparent"}


def test_app_charts_sit_on_the_page_background_with_whole_titles() -> None:
    long_topic = "retrieval augmented generation for scientific question answering over arXiv abstracts"
    radar = charts.radar_figure(charts.DailyCounts(long_topic, [date(2026, 6, 1)], [4]))
    field_map = charts.field_map_figure(mapped(["cs.CL", "cs.AI"], [False] * 5))
    for figure in (radar, field_map):
        layout = figure.layout
        assert transparent(layout.paper_bgcolor) and transparent(layout.plot_bgcolor)
        # Plotly clips a title it cannot fit: each line is short, and the top margin has room for them all.
        assert not layout.title.text  # plotly.js sets a multi-line `title` on the chart's top edge
        [title] = [note for note in layout.annotations if note.name == "title"]
        assert title.yref == "paper" and title.y == 1 and title.yanchor == "bottom"  # above the plot
        lines = title.text.split("<br>")
        for line in lines:
            width = charts.CAPTION_CHARS if line.startswith("<span") else charts.TITLE_CHARS
            assert len(html.unescape(re.sub(r"<[^>]+>", "", line))) <= width, lines
        assert layout.margin.t >= charts.TITLE_LINE_PX * len(lines)
    # The long topic wraps over several lines and none of it is lost.
    lines = radar.layout.annotations[0].text.split("<br>")
    heading = [line for line in lines if not line.startswith("<span")]
    assert len(heading) > 1 and " ".join(heading) == f"Radar · {long_topic}"


def test_field_map_speaks_plainly_and_its_legend_matches_its_marks() -> None:
    # Field cs.CL's first point is a bridge: a legend drawn from the points would show cs.CL as a diamond.
    data = mapped(["cs.CL", "cs.CV"], [True, False, False, True, False, False])
    figure = charts.field_map_figure(data)
    for axis in (figure.layout.xaxis, figure.layout.yaxis):
        title = (axis.title.text or "") if axis.visible is not False else ""
        assert "principal" not in title and "component" not in title and title != "second"
    assert "closer" in figure.layout.annotations[0].text  # the caption says what closeness means

    keys = [trace for trace in figure.data if trace.showlegend is not False]
    plotted = [trace for trace in figure.data if trace.showlegend is False]
    assert all(isinstance(key.marker.symbol, str) for key in keys)  # one mark per legend entry
    # "Computer Vision and Pattern Recognition (cs.CV)" wraps: Plotly would clip it on a phone.
    assert all(len(line) <= charts.LEGEND_CHARS for key in keys for line in key.name.split("<br>"))
    symbol_of = {key.name.replace("<br>", " "): key.marker.symbol for key in keys}
    colour_of = {key.legendgroup: key.marker.color for key in keys}
    assert symbol_of == {
        charts.label("cs.CL"): charts.FIELD_SYMBOL,
        charts.label("cs.CV"): charts.FIELD_SYMBOL,
        charts.BRIDGE_KEY: charts.BRIDGE_SYMBOL,  # the diamond, explained once
    }
    by_number = {p.number: p for p in data.points}
    for trace in plotted:
        assert trace.marker.color == colour_of[trace.legendgroup]  # a field's points wear its key's colour
        assert trace.marker.opacity == 1  # unfaded, like the key (plotly.js fades varying-size markers)
        for number, symbol in zip(trace.customdata, trace.marker.symbol, strict=True):
            point = by_number[number]
            assert trace.legendgroup == point.field
            assert symbol == (charts.BRIDGE_SYMBOL if point.bridge else charts.FIELD_SYMBOL)
    # Without a bridge paper there is no diamond to explain.
    plain = charts.field_map_figure(mapped(["cs.CL"], [False] * 5))
    assert charts.BRIDGE_KEY not in {trace.name for trace in plain.data}


def test_no_field_map_under_five_papers(radar: Radar, tmp_path: Path) -> None:
    briefing = Briefer(radar.settings, radar.retriever).brief(
        QUERY, fields=["cs.CL", "cs.AI", "cs.LG"], per_field=4
    )
    assert len(briefing.sources) > charts.MIN_MAP_PAPERS == 5
    four = dataclasses.replace(briefing, sources=briefing.sources[:4])
    five = dataclasses.replace(briefing, sources=briefing.sources[:5])
    assert charts.field_map(four, radar.retriever) is None
    drawn = charts.field_map(five, radar.retriever)
    assert drawn is not None and len(drawn.points) == 5
    # The Markdown export follows the app: no map picture for four papers.
    assert charts.export_pictures(tmp_path / "four.md", four, radar.retriever) == ""
    assert not (tmp_path / "four-map.svg").exists()
    assert "five-map.svg" in charts.export_pictures(tmp_path / "five.md", five, radar.retriever)
