"""Shared CLI plumbing: the typer app, consoles, settings, and readable errors instead of tracebacks."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from assistant.core.errors import UserFacingError
from assistant.core.settings import Settings, get_settings
from assistant.core.text import strip_control_chars
from assistant.engine import Engine

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


class UserError(UserFacingError):
    """A command-line mistake (a bad option value, a missing file): printed as one line, exit code 2."""


def print_error(err: UserFacingError) -> None:
    """The one way the CLI shows an error a user can act on: its message, then its hint if any."""
    err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
    if err.hint:
        err_console.print(f"[dim]hint:[/] {escape(err.hint)}", highlight=False)


def print_notices(notices: list[str]) -> None:
    """The notes of an answer or briefing (extractive mode, model fallback, removed citations), on stderr
    so that stdout stays the answer itself."""
    for notice in notices:  # they may quote a server's error text: no control characters reach the terminal
        err_console.print(f"[yellow]note:[/] {escape(strip_control_chars(notice))}", highlight=False)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every `UserFacingError` into its readable message and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserFacingError as err:
            print_error(err)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as err:
            # A full disk, a read-only or damaged index (SQLite, Chroma, the file system): plain words.
            from assistant.store.faults import storage_problem

            problem = storage_problem(err, settings().storage.home)
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


def build_engine(*, use_llm: bool = True) -> Engine:
    """The command's engine (one per process, like the app's): retriever, model, LLM, answerer, radar."""
    return Engine(settings(), use_llm=use_llm)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
