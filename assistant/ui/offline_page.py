"""The chat page without third-party requests.

Chainlit's index.html asks fonts.googleapis.com/fonts.gstatic.com for the Inter font and cdn.jsdelivr.net for
KaTeX's stylesheet. Offline they fail (and slow the first paint); online they hand every visitor's IP address
to third parties. We render no LaTeX (`latex = false` in .chainlit/config.toml) and our stylesheet sets a
local font stack, so those tags are dropped from the page Chainlit serves.
"""

from __future__ import annotations

import re
from collections.abc import Callable

THIRD_PARTY_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net")
# A <link ...> tag (possibly over several lines) whose href points at one of those hosts.
_LINK = re.compile(
    r"<link\b[^>]*\bhref=\"https://(?:" + "|".join(map(re.escape, THIRD_PARTY_HOSTS)) + r")[^\"]*\"[^>]*>\s*",
    re.IGNORECASE | re.DOTALL,
)


def without_third_party_links(html: str) -> str:
    """The page with every stylesheet/preconnect <link> to a third-party host removed."""
    return _LINK.sub("", html)


def serve_offline_page() -> None:
    """Make Chainlit's page route serve the page without third-party links (idempotent)."""
    import chainlit.server

    original: Callable[[str], str] = chainlit.server.get_html_template
    if getattr(original, "offline", False):
        return

    def offline_template(root_path: str) -> str:
        return without_third_party_links(original(root_path))

    offline_template.offline = True  # type: ignore[attr-defined]
    chainlit.server.get_html_template = offline_template
