"""Prompts live as Markdown files in `prompts/` (shipped in the wheel), loaded by name.

Each file starts with an HTML comment saying which `{{variables}}` it expects; the comment is stripped
before the prompt is used. Substitution is a single pass, so text inserted for one variable (an abstract
that happens to contain "{{question}}") is never expanded again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from assistant.core.errors import UserFacingError

_HEADER_RE = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)
_VARIABLE_RE = re.compile(r"\{\{(\w+)\}\}")


class PromptError(UserFacingError, LookupError):
    """A missing prompt file or a variable the caller did not supply."""


@lru_cache(maxsize=32)
def load_prompt(name: str) -> str:
    """The prompt `prompts/<name>.md` without its header comment."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9\-]*", name):
        raise PromptError(f"not a prompt name: {name!r}")
    path = resources.files("prompts").joinpath(f"{name}.md")
    if not path.is_file():
        raise PromptError(f"prompt {name!r} not found (expected prompts/{name}.md)")
    return _HEADER_RE.sub("", path.read_text(encoding="utf-8"), count=1).strip() + "\n"


def prompt_variables(name: str) -> set[str]:
    return set(_VARIABLE_RE.findall(load_prompt(name)))


def fence_safe(text: str) -> str:
    """Text to put between a prompt's `<<<NAME` and `NAME>>>` markers as data: it cannot close them."""
    return re.sub(r"<{3,}|>{3,}", lambda m: " ".join(m.group(0)), text)


def render_prompt(name: str, **values: object) -> str:
    """Fill `{{variable}}` placeholders; every placeholder must be supplied."""
    template = load_prompt(name)
    missing = prompt_variables(name) - set(values)
    if missing:
        raise PromptError(f"prompt {name!r} needs {', '.join(sorted(missing))}")
    return _VARIABLE_RE.sub(lambda m: str(values[m.group(1)]), template)
