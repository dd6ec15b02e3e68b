"""Index backends behind the contract of citewise.core.index; `open_store` picks one from the settings."""

from __future__ import annotations

from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader, IndexStore
from citewise.core.settings import Settings


def open_store(settings: Settings) -> IndexStore:
    """The index the settings name: PostgreSQL + pgvector when `store.url` is set, else the embedded SQLite + FAISS
    folder `settings.index`."""
    if settings.store.url:
        try:
            from citewise.store.postgres import PostgresStore
        except ImportError as exc:
            raise CitewiseError(f"CITEWISE_STORE__URL is set but {exc}; install them with "
                                "pip install 'citewise[postgres]'") from None
        return PostgresStore(settings.store.url, schema=settings.store.schema_name,
                             ef_search=settings.store.ef_search)
    from citewise.store.sqlite_faiss import SqliteFaissStore

    return SqliteFaissStore(Path(settings.index), exact_limit=settings.ingest.exact_index_limit)


def open_index(settings: Settings) -> IndexReader:
    """A reader of the published index (IndexMissingError when there is none)."""
    return open_store(settings).reader()
