"""The PostgreSQL + pgvector index passes the index contract against a real server (started once per session by
the `postgres_url` fixture), answers the development questions as the embedded index does, and never shows its
password."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from citewise.core.settings import Settings, StoreSettings
from citewise.library import Library
from citewise.store import open_store
from tests.index_contract import IndexContractTests, SameAnswersTests, StoreFactory

pytestmark = pytest.mark.integration
_schemas = itertools.count()


class TestPostgresStore(IndexContractTests):
    @pytest.fixture
    def make_store(self, postgres_url: str) -> StoreFactory:
        from citewise.store.postgres import PostgresStore

        stores: list[PostgresStore] = []

        def make() -> PostgresStore:
            stores.append(PostgresStore(postgres_url, schema=f"contract_{next(_schemas)}"))
            return stores[-1]

        yield make
        for store in stores:
            store.close()


def test_the_location_never_shows_the_password(postgres_url: str) -> None:
    password = postgres_url.split(":")[2].split("@")[0]
    store = open_store(Settings(store=StoreSettings(url=postgres_url, schema_name="location_test")))
    assert password and password not in store.location
    assert store.location.startswith("postgresql://citewise@127.0.0.1:") and "location_test" in store.location


def test_an_index_of_an_older_schema_is_rebuilt_on_new_tables(postgres_url: str) -> None:
    """Schema 4 generated its lexemes with PostgreSQL's `english` configuration: its tables are not reused."""
    from citewise.core.errors import IndexIncompatibleError
    from citewise.store.postgres import PostgresStore
    from tests.index_contract import OPIUM, unit, write

    store = PostgresStore(postgres_url, schema="older_schema")
    write(store, [("opium.txt", OPIUM, [unit(1, 0, 0), unit(0, 1, 0)])])
    with store.connect() as conn:  # what an index written by schema 4 looks like
        conn.execute("ALTER TABLE passages DROP COLUMN lexemes")
        conn.execute("ALTER TABLE passages ADD COLUMN lexemes tsvector GENERATED ALWAYS AS "
                     "(to_tsvector('english', lexical_text)) STORED")
        conn.execute("UPDATE generations SET meta = jsonb_set(meta, '{schema}', '\"4\"')")
    with pytest.raises(IndexIncompatibleError, match="--rebuild"), store.writing():
        pass
    write(store, [("opium.txt", OPIUM, [unit(1, 0, 0), unit(0, 1, 0)])], rebuild=True)
    reader = store.reader()
    assert reader.meta["schema"] == "5" and reader.passage_count() == 2
    assert reader.document_frequency("was") == 1, "a stop word of `english` is a word like any other"
    store.close()


class TestPostgresAnswersAsTheEmbeddedIndex(SameAnswersTests):
    @pytest.fixture
    def backend_library(self, postgres_url: str, slice_settings: Settings, embedder) -> Library:
        from citewise.store.copy import copy_index
        from citewise.store.postgres import PostgresStore

        # The embedded slice index carried over as it is: the same passages and vectors, so only the backends differ.
        copy_index(Path(slice_settings.index), PostgresStore(postgres_url, schema="same_answers"))
        library = Library(Settings(store=StoreSettings(url=postgres_url, schema_name="same_answers")),
                          embedder=embedder)
        yield library
        library.close()
