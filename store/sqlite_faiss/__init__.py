"""The embedded index (the default): one folder of atomic generations, each a SQLite file and a FAISS file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from citewise.core.errors import IndexIncompatibleError
from citewise.store.sqlite_faiss.layout import IndexLayout, copy_database
from citewise.store.sqlite_faiss.lexical import upgrade_fts
from citewise.store.sqlite_faiss.reader import SqliteIndexReader
from citewise.store.sqlite_faiss.schema import DB_NAME, SCHEMA_VERSION, UPGRADABLE, connect, read_meta, schema_message
from citewise.store.sqlite_faiss.writer import SqliteIndexWriter

__all__ = ["SqliteFaissStore", "SqliteIndexReader", "SqliteIndexWriter"]


class SqliteFaissStore:
    """An index folder. A writing session copies the live generation, edits the copy, and publishes it by swapping
    CURRENT; a crash at any point leaves the old generation live, and the next session removes the debris."""

    def __init__(self, root: Path, exact_limit: int = 100_000) -> None:
        self.root = Path(root)
        self.layout = IndexLayout(self.root)
        self.exact_limit = exact_limit

    @property
    def location(self) -> str:
        return str(self.root)

    def current_token(self) -> str | None:
        return self.layout.current_token()

    def current_meta(self) -> dict[str, str] | None:
        generation = self.layout.current()
        if generation is None:
            return None
        conn = connect(generation / DB_NAME, readonly=True)
        try:
            return read_meta(conn)
        except sqlite3.DatabaseError as exc:
            raise self.layout.broken(generation.name, f"its {DB_NAME} cannot be read ({exc})") from None
        finally:
            conn.close()

    def reader(self) -> SqliteIndexReader:
        return SqliteIndexReader(self.root)

    @contextlib.contextmanager
    def writing(self, rebuild: bool = False) -> Iterator[SqliteIndexWriter]:
        with self.layout.writer_lock():
            previous = self.layout.current()
            generation = self.layout.new_generation()
            try:
                self.layout.prune(keep=[p for p in (previous, generation) if p])
                schema = None
                if previous is not None and not rebuild:
                    schema = (self.current_meta() or {}).get("schema")
                    if schema != SCHEMA_VERSION and schema not in UPGRADABLE:
                        raise IndexIncompatibleError(schema_message(self.root, schema))
                    copy_database(previous / DB_NAME, generation / DB_NAME)
                writer = SqliteIndexWriter(self.layout, generation, self.exact_limit)
                if schema in UPGRADABLE:
                    upgrade_fts(writer.conn)  # publish() then records the current schema
                try:
                    yield writer
                finally:
                    writer.close()
            finally:
                # Whether it published or failed, the session leaves only the generation CURRENT names: a refused
                # or failed ingest must not leave its copy of the database behind (the size of the whole index).
                live = self.layout.named()
                self.layout.prune(keep=[self.root / live] if live else [])
