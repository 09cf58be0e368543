"""`academichub`: the command line, a thin shell over the same functions the chat app uses.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

from assistant.cli.common import app
from assistant.cli import ingest_cmd  # noqa: F401  (registers commands)


def main() -> None:
    app()
