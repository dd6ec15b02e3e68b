"""Index backends behind the contract of citewise.core.index, in a small registry: `open_store` opens the first
backend the settings choose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader, IndexStore
from citewise.core.settings import Settings


@dataclass(frozen=True)
class Backend:
    name: str
    chosen: Callable[[Settings], bool]  # whether the settings ask for this backend
    open: Callable[[Settings], IndexStore]


def _postgres(settings: Settings) -> IndexStore:
    try:
        from citewise.store.postgres import PostgresStore
    except ImportError as exc:
        raise CitewiseError(f"CITEWISE_STORE__URL is set but {exc}; install them with "
                            "pip install 'citewise[postgres]'") from None
    return PostgresStore(settings.store.url or "", schema=settings.store.schema_name,
                         ef_search=settings.store.ef_search)


def _embedded(settings: Settings) -> IndexStore:
    from citewise.store.sqlite_faiss import SqliteFaissStore

    return SqliteFaissStore(Path(settings.index), exact_limit=settings.ingest.exact_index_limit)


# In order: PostgreSQL + pgvector when `store.url` is set, else the embedded SQLite + FAISS folder `settings.index`.
BACKENDS: tuple[Backend, ...] = (
    Backend("postgres", lambda settings: bool(settings.store.url), _postgres),
    Backend("embedded", lambda settings: True, _embedded),
)


def backend_for(settings: Settings) -> Backend:
    return next(backend for backend in BACKENDS if backend.chosen(settings))


def open_store(settings: Settings) -> IndexStore:
    """The index the settings name (nothing is read until a reader or a writing session is asked for)."""
    return backend_for(settings).open(settings)


def open_index(settings: Settings) -> IndexReader:
    """A reader of the published index (IndexMissingError when there is none)."""
    return open_store(settings).reader()
