"""Which backend holds the stores: SQLite files in the data directory (the default), or PostgreSQL when
ACADEMICHUB_DATABASE_URL is set (several machines; vectors then live on the Chroma server). The one place
that decides; every command and the app open their catalog through it."""

from __future__ import annotations

from assistant.core.settings import Settings
from assistant.store.catalog import Catalog
from assistant.store.catalog_store import CatalogStore
from assistant.store.pool import CatalogPool, CatalogSource, SharedCatalog
from assistant.store.postgres.database import Database, database


def postgres(settings: Settings) -> Database | None:
    """The process's PostgreSQL pool when the stores live there, else None."""
    url = settings.storage.database_url
    return database(url, settings.storage.database_pool_size) if url else None


def open_catalog(settings: Settings, *, creating: bool = False) -> CatalogStore:
    """The catalog of these settings. On PostgreSQL its schema must be current (an older one is refused
    with a message saying to migrate); `creating` (an ingest) makes it in an empty database."""
    db = postgres(settings)
    if db is None:
        return Catalog(settings.storage.catalog_path)
    from assistant.store.postgres.catalog import CATALOG_STEPS, PostgresCatalog

    if creating and len(db.missing_steps(CATALOG_STEPS)) == len(CATALOG_STEPS):
        db.migrate(CATALOG_STEPS)  # a database with no catalog yet: nothing to upgrade
    db.require_schema(CATALOG_STEPS, "catalog")
    return PostgresCatalog(db)


def catalog_source(settings: Settings) -> CatalogSource:
    """Where readers get their catalog: per thread on SQLite, shared on PostgreSQL."""
    if settings.storage.database_url:
        return SharedCatalog(open_catalog(settings))
    return CatalogPool(settings.storage.catalog_path)
