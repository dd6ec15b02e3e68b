"""Copies an embedded (SQLite + FAISS) index into another store, such as PostgreSQL, without embedding anything again:
texts, offsets, vectors and sentence vectors are carried over as they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from citewise.core.index import IndexStore, NewPassage, NewSource
from citewise.store.sqlite_faiss import SqliteIndexReader
from citewise.store.sqlite_faiss.schema import (
    headings_from_json,
    pages_from_json,
    passage_from_row,
    source_from_row,
    vectors_from_row,
)

# What describes the copied index itself, not how it was built; the target store writes its own.
OWN_META = frozenset({"schema", "faiss_index", "vector_index", "passages", "lexical_tokens"})


def copy_index(source_root: Path, target: IndexStore, progress: Callable[[int], None] | None = None
               ) -> dict[str, str]:
    """Replaces what `target` holds with the published state of the index folder `source_root`, in one writing
    session; returns the target's publish facts. `progress` is told how many passages each source added."""
    reader = SqliteIndexReader(Path(source_root))
    conn = reader.conn
    try:
        with target.writing(rebuild=True) as writer:
            for row in conn.execute("SELECT * FROM sources ORDER BY file").fetchall():
                writer.add_source(NewSource(source_from_row(row), row["text"], pages_from_json(row["pages"]),
                                            headings_from_json(row["headings"])))
                passages = [NewPassage(passage_from_row(p), p["search_text"], p["text_hash"], vectors_from_row(p))
                            for p in conn.execute("SELECT * FROM passages WHERE source_id = ? ORDER BY ordinal",
                                                  (row["id"],))]
                writer.add_passages(passages)
                if progress is not None:
                    progress(len(passages))
            writer.set_meta({key: value for key, value in reader.meta.items() if key not in OWN_META})
            return writer.publish()
    finally:
        reader.close()
