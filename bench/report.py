"""How every benchmark hands over its figures: one JSON line on stdout, the same in `--output` if given."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.core.errors import UserFacingError


class BenchError(UserFacingError, RuntimeError):
    """The benchmark cannot run with these inputs (message says why). One class for every benchmark."""


def emit_json(result: Any, output: Path | None) -> None:
    payload = json.dumps(result, ensure_ascii=False)
    if output:
        output.write_text(payload + "\n", encoding="utf-8")
    sys.stdout.write(payload + "\n")


def run_and_report(
    args: Any,
    run: Callable[[Any, Console], dict[str, Any]],
    print_table: Callable[[dict[str, Any], Console], None],
) -> int:
    """A benchmark's `main`: run it, print its table to stderr and its JSON to stdout; a user-facing error
    (a missing index, bad inputs) is said in one line with exit code 2."""
    console = Console(stderr=True)
    try:
        result = run(args, console)
    except UserFacingError as err:
        console.print(f"[bold red]error:[/] {err}")
        return 2
    print_table(result, console)
    emit_json(result, args.output)
    return 0
