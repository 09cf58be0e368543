"""Chainlit Plotly elements without Plotly's off-site logo link.

Plotly's mode bar carries a "Produced with Plotly" logo, an `<a href="https://plotly.com/">`: the only link
off the app on the radar chart and the field maps. Chainlit's page passes the figure JSON's `config` to
plotly.js, so `displaylogo: false` there hides it.
"""

from __future__ import annotations

import json
from typing import Any

import chainlit as cl

PLOT_CONFIG: dict[str, Any] = {"displaylogo": False}


def without_logo(figure_json: str) -> str:
    """The figure JSON Chainlit sends to the page, with a config that hides the Plotly logo link."""
    content = json.loads(figure_json)
    content["config"] = {**(content.get("config") or {}), **PLOT_CONFIG}
    return json.dumps(content)


def plotly_element(name: str, figure: Any) -> cl.Plotly:
    """An inline, large Plotly element for `figure` whose config hides the Plotly logo link."""
    element = cl.Plotly(name=name, figure=figure, display="inline", size="large")
    element.content = without_logo(element.content)
    return element
