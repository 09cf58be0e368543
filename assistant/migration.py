"""Moving a deployment to PostgreSQL (`academichub migrate`): every store's schema steps in one order, and
the copy of a data directory's SQLite stores (catalog, radar state, chat history) into a database. Vectors
are not copied: they stay in Chroma (point ACADEMICHUB_CHROMA_HOST at the server holding them).

Wiring level, like `engine.py`: it names the stores of every layer; the stores own their SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.core.settings import Settings
from assistant.radar.pg_store import RADAR_STEPS, copy_radar_from_sqlite
from assistant.store.postgres.catalog import CATALOG_STEPS, copy_catalog_from_sqlite
from assistant.store.postgres.database import Database, SchemaStep, redacted
from assistant.store.postgres.history import HISTORY_STEPS, copy_history_from_sqlite
from assistant.ui.chat_history import history_path

SCHEMA_STEPS: tuple[SchemaStep, ...] = (*CATALOG_STEPS, *RADAR_STEPS, *HISTORY_STEPS)


@dataclass
class MigrationReport:
    database: str  # the URL without its password
    steps_applied: list[str]
    copied: dict[str, dict[str, int]] = field(default_factory=dict)  # store -> table -> new rows

    def to_dict(self) -> dict[str, object]:
        return {"database": self.database, "steps_applied": self.steps_applied, "copied": self.copied}


def migrate_schema(db: Database) -> list[str]:
    """Bring the database's schema to this version (every store); the steps that ran now."""
    return db.migrate(SCHEMA_STEPS)


def copy_to_postgres(settings: Settings, db: Database) -> MigrationReport:
    """Migrate the schema, then copy the data directory's SQLite stores in (ids, owners, feed tokens,
    ingest times unchanged; rows already there kept). Safe to re-run: a second run copies nothing."""
    report = MigrationReport(redacted(db.url), migrate_schema(db))
    storage = settings.storage
    if storage.catalog_path.is_file():
        report.copied["catalog"] = copy_catalog_from_sqlite(storage.catalog_path, db)
    if storage.state_path.is_file():
        report.copied["radar"] = copy_radar_from_sqlite(storage.state_path, db)
    history = history_path(settings)
    if history.is_file():
        report.copied["chat history"] = copy_history_from_sqlite(history, db)
    return report
