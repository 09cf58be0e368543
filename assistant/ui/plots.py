"""Chainlit Plotly elements without Plotly's mode bar.

The mode bar floats over the top right of a chart, exactly over the radar's newest bars, and carries a
"Produced with Plotly" logo, an `<a href="https://plotly.com/">` off the app. The charts need none of its
tools (zoom, pan, download), so it is not drawn at all. Chainlit's page passes the figure JSON's `config` to
plotly.js: `displayModeBar: false` there removes the bar, `displaylogo: false` the logo should it ever show.
"""

from __future__ import annotations

import json
from typing import Any

import chainlit as cl

PLOT_CONFIG: dict[str, Any] = {"displayModeBar": False, "displaylogo": False}


def with_plot_config(figure_json: str) -> str:
    """The figure JSON Chainlit sends to the page, with a config that hides the mode bar and its logo link."""
    content = json.loads(figure_json)
    content["config"] = {**(content.get("config") or {}), **PLOT_CONFIG}
    return json.dumps(content)


def plotly_element(name: str, figure: Any) -> cl.Plotly:
    """An inline, large Plotly element for `figure` whose config hides the mode bar and its logo link."""
    element = cl.Plotly(name=name, figure=figure, display="inline", size="large")
    element.content = with_plot_config(element.content)
    return element
