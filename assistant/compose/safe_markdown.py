"""Untrusted text as Markdown that can hold no link, image, HTML or fetch.

Paper text (titles, abstracts, author names) and model output are data. Every surface that renders Markdown
(the chat app with GFM autolinks, the CLI through rich, exported files) gets them through here:

- `literal_markdown(text)`: paper text shown exactly as written (every Markdown character escaped; URLs
  and e-mail addresses in code spans, where no renderer makes them links).
- `neutralise_markdown(text)`: model output (or text we composed) parsed with markdown-it and rebuilt from
  the constructs we allow (paragraphs, headings, lists, quotes, code, tables, emphasis, citation markers
  [n]); links of every form (inline, reference, autolink, bare URL, e-mail), images and HTML keep only
  their text. Nothing is rebuilt from a regex guess at Markdown syntax.
- `SafeStream`: the same for text arriving token by token, holding back an unfinished construct.

The only links in our output are the ones built from paper ids, added after this step.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from assistant.core.links import LINKABLE_RE
from assistant.core.text import strip_control_chars

_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

# Citation markers: [3], [2, 5], [2;5], [1-3]; not "\[3]" (escaped) and not "[3](" (a link).
CITATION_PATTERN = r"\[\s*(\d{1,3}(?:\s*(?:[,;]|[-–])\s*\d{1,3})*)\s*\](?!\()"
_MARKER_RE = re.compile(r"(?<!\\)" + CITATION_PATTERN)
# Private-use characters stand for citation markers while the text is parsed and escaped.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER_RE = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")

# What a client would turn into a link by itself: one rule with the deliveries (`assistant.core.links`).
_LINKABLE_RE = LINKABLE_RE
_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>#|~&])")
# Literal text is also kept free of what reads as markup to any later reader of the Markdown source (a
# filter, a diff, a second renderer): "](" and `href=` are broken by escapes.
_ATTRIBUTE_RE = re.compile(r"\b(href|src|srcset|action|formaction|style|on[a-z]+)(\s*)=", re.IGNORECASE)
_DIRECTIVE_RE = re.compile(r":(?=[A-Za-z])")
_LINE_START_RE = re.compile(r"^([ \t]*)(?:(\d{1,9})([.)])|([>+\-=]))")


def code_span(text: str) -> str:
    """`text` as an inline code span (long enough a fence for backticks inside)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _escape_chars(text: str, strict: bool) -> str:
    text = _SPECIAL_RE.sub(r"\\\1", text)
    # Chainlit's renderer reads ":word" as a directive and drops it ("ZIPP:Zero-shot" showed "ZIPP").
    text = _DIRECTIVE_RE.sub(r"\\:", text)
    if strict:  # rebuilt text (answers, briefings): not even an escaped "](" is left in the source
        text = text.replace("\\](", "\\]\\(")
    return _ATTRIBUTE_RE.sub(r"\1\2\\=", text)


def _escape_plain(text: str, strict: bool = True) -> str:
    out: list[str] = []
    last = 0
    for match in _LINKABLE_RE.finditer(text):
        url = match.group(0).rstrip(".,;:!?)]'\"")
        end = match.start() + len(url)
        if (
            ":" in url
            and "@" not in url
            and "//" not in url
            and not url.lower().startswith(("mailto:", "xmpp:"))
        ):
            continue  # "ratio:1" or "Section:2", not a link
        out.append(_escape_chars(text[last : match.start()], strict))
        out.append(code_span(url))
        if end < len(text) and not text[end].isspace():
            out.append(" ")  # "`url`)" would read as one token to anything that scans for URLs
        last = end
    out.append(_escape_chars(text[last:], strict))
    return "".join(out)


def _escape_line_starts(text: str) -> str:
    """No line of inline text may start a block (list item, quote, setext underline)."""

    def fix(line: str) -> str:
        match = _LINE_START_RE.match(line)
        if not match:
            return line
        if match.group(2):
            return f"{match.group(1)}{match.group(2)}\\{match.group(3)}{line[match.end() :]}"
        return f"{match.group(1)}\\{match.group(4)}{line[match.end() :]}"

    return "\n".join(fix(line) for line in text.split("\n"))


_TAG_RE = re.compile(
    r"</?(?:a|abbr|audio|b|br|button|code|div|em|embed|form|i|iframe|img|input|link|meta|object|p|script|"
    r"source|span|strong|style|sub|sup|svg|u|video)\b[^<>]*>",
    re.IGNORECASE,
)


def without_tags(text: str) -> str:
    """`text` without HTML tags of common elements (their text stays): for sentences quoted from an
    abstract, where a tag is markup, not the author's words. `a<b` and `x > y` are left alone."""
    return _TAG_RE.sub("", text) if "<" in text else text


def literal_markdown(text: str | None) -> str:
    """Paper text shown exactly as written: no emphasis, link, image, HTML or autolink can come of it."""
    clean = strip_control_chars(text or "").replace(_OPEN, "").replace(_CLOSE, "")
    return _escape_line_starts(_escape_plain(clean, strict=False))


# --- rebuilding parsed Markdown ---------------------------------------------------------------------------


def _inline(node: SyntaxTreeNode) -> str:
    parts: list[str] = []
    for child in node.children:
        kind = child.type
        if kind in ("text", "text_special"):
            parts.append(_escape_plain(child.content))
        elif kind == "html_inline":
            continue  # a tag of the model's: dropped (the text between tags is text and stays)
        elif kind == "softbreak":
            parts.append("\n")
        elif kind == "hardbreak":
            parts.append("\\\n")
        elif kind == "code_inline":
            parts.append(code_span(child.content))
        elif kind == "em":
            parts.append(f"*{_inline(child)}*")
        elif kind == "strong":
            parts.append(f"**{_inline(child)}**")
        elif kind == "s":
            parts.append(f"~~{_inline(child)}~~")
        elif kind == "link":
            label = _inline(child)
            # A citation written as a link, "[3](https://...)", keeps its number (checked later).
            parts.append(f"{_OPEN}{label}{_CLOSE}" if label.strip().isdigit() else label)
        elif kind == "image":
            parts.append(_inline(child))  # the alt text; nothing is fetched
        else:
            parts.append(_inline(child) if child.children else _escape_plain(child.content or ""))
    return "".join(parts)


class _TextOnly(HTMLParser):
    """The text of an HTML fragment (script and style contents dropped), by the standard library's parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


def _indent(text: str, width: int) -> str:
    pad = " " * width
    return "\n".join(pad + line if line else line for line in text.split("\n"))


def _fenced(content: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", content)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}\n{strip_control_chars(content).rstrip(chr(10))}\n{fence}"


def _list(node: SyntaxTreeNode, ordered: bool) -> str:
    items: list[str] = []
    number = int(node.attrs.get("start", 1) or 1) if ordered else 0
    tight = True
    for item in node.children:
        blocks = [_block(child) for child in item.children]
        tight = tight and all(c.hidden for c in item.children if c.type == "paragraph")
        marker = f"{number}. " if ordered else "- "
        number += 1
        body = ("\n" if tight else "\n\n").join(b for b in blocks if b)
        items.append(marker + _indent(body, len(marker)).lstrip(" "))
    return ("\n" if tight else "\n\n").join(items)


def _table(node: SyntaxTreeNode) -> str:
    rows: list[list[str]] = []
    for section in node.children:
        for row in section.children:
            rows.append([_inline(cell.children[0]) if cell.children else "" for cell in row.children])
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(line.replace("\n", " ") for line in lines)


def _block(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "paragraph":
        return _escape_line_starts(_inline(node.children[0])) if node.children else ""
    if kind == "heading":
        level = int(node.tag[1:]) if node.tag[1:].isdigit() else 2
        return "#" * level + " " + _inline(node.children[0]).replace("\n", " ")
    if kind == "bullet_list":
        return _list(node, ordered=False)
    if kind == "ordered_list":
        return _list(node, ordered=True)
    if kind == "blockquote":
        inner = "\n\n".join(b for b in (_block(c) for c in node.children) if b)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("fence", "code_block"):
        return _fenced(node.content)
    if kind == "hr":
        return "---"
    if kind == "table":
        return _table(node)
    if kind == "html_block":
        # The text inside the model's HTML block is Markdown like the rest (its links lose their targets).
        inner = html_text(node.content)
        return _block(SyntaxTreeNode(_PARSER.parse(inner))) if "<" not in inner else _escape_plain(inner)
    if kind == "inline":
        return _escape_line_starts(_inline(node))
    return "\n\n".join(b for b in (_block(c) for c in node.children) if b)


def _restore_markers(text: str) -> str:
    def marker(match: re.Match[str]) -> str:
        after = text[match.end() : match.end() + 1]
        # "[3]" followed by "(", "[" or ":" could pair into a link or a reference definition.
        guard = "\\" if after and after in "([:" else ""
        return f"[{match.group(1)}]{guard}"

    return _PLACEHOLDER_RE.sub(marker, text)


def neutralise_markdown(text: str | None) -> str:
    """Markdown rebuilt from what we allow: every link form, image and HTML tag keeps only its text, URLs
    and e-mail addresses become code spans, citation markers [n] stay as they are."""
    clean = strip_control_chars(text or "").replace(_OPEN, "").replace(_CLOSE, "")
    marked = _MARKER_RE.sub(lambda m: f"{_OPEN}{m.group(1)}{_CLOSE}", clean)
    tree = SyntaxTreeNode(_PARSER.parse(marked))
    return _restore_markers(_block(tree))


# --- streaming ------------------------------------------------------------------------------------------

_HOLD_LIMIT = 4000  # an unfinished construct longer than this is let go (still neutralised)
_MARKERS_ONLY_RE = re.compile(r"[\s\-=*+#>|\d.)]*")


def _safe_cut(text: str) -> int:
    """The end of the longest prefix that closes every construct it opens (a cut after whitespace)."""
    depth = paren = 0
    angle = code = fence = False
    ticks = 0
    cut = 0
    line_start = True
    i = 0
    while i < len(text):
        ch = text[i]
        if line_start and text.startswith("```", i):
            fence = not fence
        if ch == "`" and not fence:
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            if not code:
                code, ticks = True, run
            elif run == ticks:
                code = False
            i += run
            line_start = False
            continue
        if not code and not fence:
            if ch == "[":
                depth += 1
            elif ch == "]" and depth:
                depth -= 1
                if text.startswith("(", i + 1):
                    paren += 1
            elif ch == ")" and paren:
                paren -= 1
            elif ch == "<" and _opens_tag(text, i):
                angle = True
            elif ch == ">" or (ch == "\n" and angle):
                # A line break ends a held "<": each segment is neutralised on its own, so a tag cut
                # there can only show as text; holding on would blank the screen to the end.
                angle = False
        if ch.isspace() and not (depth or paren or angle or code or fence):
            # Not right after a lone block marker ("- ", "## ", "1. "): alone it would parse as another block.
            line = text[text.rfind("\n", 0, i) + 1 : i]
            if ch == "\n" or not _MARKERS_ONLY_RE.fullmatch(line):
                cut = i + 1
        line_start = ch == "\n"
        i += 1
    if not cut and len(text) > _HOLD_LIMIT:
        spaces = [m.end() for m in re.finditer(r"\s", text)]
        cut = spaces[-1] if spaces else len(text)
    return cut


def _opens_tag(text: str, i: int) -> bool:
    """Whether the "<" at `i` may start an HTML tag or autolink: a letter, "/", "!" or "?" follows and it
    is not escaped. "<<<SOURCES" (a prompt echo) or "a < b" opens nothing and holds nothing back."""
    if i and text[i - 1] == "\\":
        return False
    following = text[i + 1 : i + 2]
    return following == "" or following.isalpha() or following in "/!?"


def _neutralise_segment(segment: str) -> str:
    body = segment.strip()
    if not body:
        return segment if "\n" in segment else (" " if segment else "")
    lead = segment[: len(segment) - len(segment.lstrip())]
    trail = segment[len(segment.rstrip()) :]

    def spacing(ws: str) -> str:  # keep line breaks and one space, never an indentation (a code block)
        return "\n" * ws.count("\n") or (" " if ws else "")

    return spacing(lead) + neutralise_markdown(body) + spacing(trail)


class SafeStream:
    """Streamed model text -> neutralised segments. `feed` returns what may be shown now (possibly ""),
    `flush` the rest at the end. Raw tokens never reach the screen: an image or link whose closing
    bracket has not arrived yet is held back, then shown as its text."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, token: str) -> str:
        self._pending += token
        cut = _safe_cut(self._pending)
        if not cut:
            return ""
        segment, self._pending = self._pending[:cut], self._pending[cut:]
        return _neutralise_segment(segment)

    def flush(self) -> str:
        segment, self._pending = self._pending, ""
        return _neutralise_segment(segment) if segment else ""
