"""Shared CLI plumbing: the typer app, consoles, settings, and readable errors instead of tracebacks."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ingest.settings import Settings, get_settings

app = typer.Typer(
    name="academichub",
    help="AcademicHub: cited answers, cross-field briefings and a daily radar over arXiv papers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def parse_day(value: str | None, option: str) -> date | None:
    """A `--since`/`--until` value: YYYY-MM-DD, or None when not given."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date (expected YYYY-MM-DD)") from None


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can act on into one readable line and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from ingest.catalog import CatalogError, storage_problem
        from ingest.embedding import EmbeddingModelError
        from ingest.pipeline import IngestBusy
        from ingest.sources import SourceError
        from ingest.vectors import VectorStoreError

        try:
            return func(*args, **kwargs)
        except (
            UserError,
            IngestBusy,
            SourceError,
            VectorStoreError,
            EmbeddingModelError,
            CatalogError,
        ) as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as err:
            # A full disk, a read-only or damaged index (SQLite, Chroma, the file system): plain words.
            problem = storage_problem(err, settings().home)
            if problem is None:
                raise
            err_console.print(f"[bold red]error:[/] {escape(problem)}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print(
                "[yellow]interrupted[/]: the index is consistent; run the command again to resume."
            )
            raise typer.Exit(130) from None

    return wrapper


def settings() -> Settings:
    return get_settings()


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
