"""The embedded SQLite + FAISS index passes the index contract, and its FTS5 expressions are always valid."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from citewise.store.sqlite_faiss import SqliteFaissStore
from citewise.store.sqlite_faiss.schema import fts_expression
from tests.index_contract import IndexContractTests, StoreFactory

pytestmark = pytest.mark.unit


class TestSqliteFaissStore(IndexContractTests):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        counter = itertools.count()
        return lambda: SqliteFaissStore(tmp_path / f"index-{next(counter)}")


@pytest.mark.parametrize("terms", [
    ['what\'s', '"MDMA"', "(ecstasy)?"], ["NEAR(a", "b)", "AND", "x", "OR", "-y"], ["col:umn", "^start", "*"],
    ['"unbalanced'], ["ünïcödé", "—", "dash"], ["a'b\"c"], ["OR", "AND", "NOT"], ["()"], [""], [],
])
@pytest.mark.parametrize("match", ["any", "all", "phrase"])
def test_fts_expression_never_raises_on_user_punctuation(terms: list[str], match) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO t(body) VALUES ('MDMA and ecstasy: NEAR the start of OR unicode')")
    expression = fts_expression(terms, match)
    if expression:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()


def test_fts_expression_quotes_each_word() -> None:
    assert fts_expression(["ecstasy", "mdma"], "any") == '"ecstasy" OR "mdma"'
    assert fts_expression(["ecstasy", "mdma"], "all") == '"ecstasy" AND "mdma"'
    assert fts_expression(["mystical", "states"], "phrase") == '"mystical states"'
