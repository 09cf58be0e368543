"""Text that an XML writer may carry: XML 1.0 forbids most control characters (\\x00, \\x1b, ...) and
unpaired surrogates, and one of them in a title makes a whole Atom feed or SVG picture unreadable."""

from __future__ import annotations

import re

# Everything outside XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | ...
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """The text without the characters XML forbids (they carry no meaning in a title or a name)."""
    return _NOT_XML.sub("", text or "")
