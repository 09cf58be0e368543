"""`academichub`: the command line, a thin shell over the same functions the chat app uses.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

from assistant.ui.cli import (
    answer_cmd,  # noqa: F401  (registers commands)
    bench_cmd,  # noqa: F401  (registers commands)
    ingest_cmd,  # noqa: F401  (registers commands)
    migrate_cmd,  # noqa: F401  (registers commands)
    radar_cmd,  # noqa: F401  (registers commands)
    search_cmd,  # noqa: F401  (registers commands)
    serve_cmd,  # noqa: F401  (registers commands)
)
from assistant.ui.cli.common import app


def main() -> None:
    app()
