"""What a client would make a link of: one rule shared by every output of paper text and model output.

The app and exports (Markdown: URLs and addresses become code spans, `compose.safe_markdown`) and the
deliveries (e-mail, Atom, Slack, Mattermost, Discord: defanged, `radar.delivery`) both ask this module, so a
form one of them catches cannot slip through the other. Clients (linkify-it, mail readers, chat apps) link
bare `host.tld` shapes for many top-level domains, new and non-ASCII ones included (`evil.рф/cyr`,
`evil.xn--p1ai`), so a host is a shape here, not a list of known endings: a dot between a letter or digit
and a label of two or more characters that starts with a letter of any script.
"""

from __future__ import annotations

import re

# Schemes a client may turn into a link or a fetch, when something follows the colon ("data: we" is prose).
SCHEME_RE = re.compile(
    r"(?i)\b(https?|s?ftp|file|mailto|data|javascript|vbscript|tel|sms|ssh|git|xmpp)(:/*)(?=\S)"
)
# The dot of any `host.tld` shape, in any script: `evil.ru/x`, `evil.example`, `evil.рф`, `x.org`.
HOST_DOT_RE = re.compile(r"(?<=[^\W_])\.(?=[^\W\d_][\w-]{1,62}(?![\w-]))")
WWW_RE = re.compile(r"(?i)\bwww\.")
# An @ that a client would read as part of an address (`a@b`).
ADDRESS_AT_RE = re.compile(r"(?<=\w)@(?=\w)")

# A bare host that Markdown readers with fuzzy linking (linkify-it) link: one with a path (`evil.ru/x`) or
# with a non-ASCII or punycode ending (`evil.рф`, `evil.xn--p1ai`). A bare ASCII `word.word` without a path is
# left as text in Markdown (category codes such as cs.CL, names such as Node.js); the deliveries, read by
# clients that link more, defang every host shape (`HOST_DOT_RE`).
_LABEL = r"[^\W_][\w-]*"
_HOST = (
    rf"{_LABEL}(?:\.[\w-]+)*\.(?:[^\W\d_][\w-]{{1,62}}(?![\w-])/[^\s`<>]*"
    r"|(?:xn--[a-z0-9-]+|[^\W\d_a-z][\w-]*)(?![\w-])(?:/[^\s`<>]*)?)"
)
# Whole linkable spans: scheme URLs, www. hosts, e-mail addresses, mailto:/xmpp:, scheme-relative
# "//host/path", and bare hosts as above.
LINKABLE_RE = re.compile(
    r"(?:\b[a-z][a-z0-9+.\-]{1,20}:(?://)?[^\s`<>]+|\bwww\.[^\s`<>]+"
    r"|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+|\b(?:mailto|xmpp):[^\s`<>]*"
    r"|(?<![\w:/])//[\w\-]+(?:\.[\w\-]+)+[^\s`<>]*"
    rf"|(?<![\w.@/\\]){_HOST})",
    re.IGNORECASE,
)


def is_linkable(text: str) -> bool:
    """True when a client could make a link of something in `text` (a URL, an address or a host name)."""
    return bool(SCHEME_RE.search(text) or WWW_RE.search(text) or HOST_DOT_RE.search(text))
