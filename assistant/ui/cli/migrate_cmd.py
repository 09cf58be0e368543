"""`academichub migrate`: the PostgreSQL schema brought to this version, and (`--to`) a data directory's
SQLite stores copied into a PostgreSQL database."""

from __future__ import annotations

import typer
from rich.markup import escape

from assistant.migration import copy_to_postgres, migrate_schema
from assistant.store.postgres.database import Database, DatabaseError, redacted
from assistant.ui.cli.common import app, console, friendly_errors, print_json, settings


@app.command()
@friendly_errors
def migrate(
    to: str = typer.Option(
        None,
        "--to",
        help="postgresql://user:password@host/db: copy this data directory's catalog, radar state and chat "
        "history into that database (vectors stay in Chroma). Safe to re-run.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Upgrade the PostgreSQL schema (ACADEMICHUB_DATABASE_URL) to this version; with --to, move a SQLite
    deployment into PostgreSQL. Never needed on the SQLite default (its files upgrade themselves)."""
    cfg = settings()
    url = to or cfg.storage.database_url
    if not url:
        raise DatabaseError(
            "nothing to migrate: set ACADEMICHUB_DATABASE_URL to the PostgreSQL database, or give --to "
            "postgresql://... to copy this data directory's SQLite stores into one"
        )
    if not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseError(f"--to must be a postgresql:// URL, not {redacted(url)!r}")
    db = Database(url, 2)
    try:
        if to:
            report = copy_to_postgres(cfg, db)
            payload = report.to_dict()
        else:
            payload = {"database": redacted(url), "steps_applied": migrate_schema(db), "copied": {}}
    finally:
        db.close()
    if as_json:
        print_json(payload)
        return
    steps = payload["steps_applied"]
    console.print(
        f"{escape(str(payload['database']))}: "
        + (f"applied {len(steps)} schema steps ({', '.join(steps)})" if steps else "schema up to date"),  # type: ignore[arg-type]
        highlight=False,
    )
    for store, tables in payload["copied"].items():  # type: ignore[attr-defined]
        counts = ", ".join(f"{n} {table}" for table, n in tables.items())
        console.print(f"copied from {cfg.storage.home}: {store}: {counts or 'nothing'}", highlight=False)
