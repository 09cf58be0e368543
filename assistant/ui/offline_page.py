"""The chat page makes no request off the machine (the product works offline, and paper text never
triggers a fetch): Chainlit's page template links the Inter font from Google Fonts and KaTeX's stylesheet
from a CDN. LaTeX rendering is off in `.chainlit/config.toml`, so KaTeX's stylesheet has nothing to style,
and the page falls back to the system sans-serif font. plotly.js itself ships inside Chainlit's bundle.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import chainlit.server

_OFF_MACHINE_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*/?>\s*", re.IGNORECASE)


def strip_off_machine_links(page: str) -> str:
    """Drop <link> tags (stylesheets, preconnects) that point at another host."""
    return _OFF_MACHINE_LINK.sub("", page)


def keep_page_on_machine() -> None:
    """Wrap Chainlit's page template once per process (it is looked up on every page request)."""
    original: Callable[[str], str] = chainlit.server.get_html_template
    if getattr(original, "academichub_offline", False):
        return

    @functools.wraps(original)
    def template(root_path: str) -> str:
        return strip_off_machine_links(original(root_path))

    template.academichub_offline = True  # type: ignore[attr-defined]
    chainlit.server.get_html_template = template
