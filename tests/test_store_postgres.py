"""The PostgreSQL + pgvector index passes the index contract against a real server (started once per session by
the `postgres_url` fixture), and never shows its password."""

from __future__ import annotations

import itertools

import pytest

from citewise.core.settings import Settings, StoreSettings
from citewise.store import open_store
from tests.index_contract import IndexContractTests, StoreFactory

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
