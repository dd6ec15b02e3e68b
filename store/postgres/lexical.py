"""Lexical search in PostgreSQL ranked as FTS5 ranks it: BM25 over a postings table.

The words are core's (core/lexemes.py: FTS5's own analysis, run in process), for the passages at ingest and for the
terms of a query, so document frequencies are the embedded index's. PostgreSQL finds the passages of a phrase
(tsvector, tsquery, GIN); but ts_rank has no inverse document frequency, and computing BM25 from the tsvectors of
every matching passage costs a second on common words. So each passage's lexemes are also kept as postings
(lexeme, passage row, term frequency, length), written at publish: BM25 then reads a few index ranges, as a
search engine does, and uses FTS5's constants, so both backends order lexical hits alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from psycopg import sql

from citewise.core.index import TermMatch
from citewise.store.postgres.schema import BM25_B, BM25_K1, idf, phrases_of, tsquery, visible

Rows = Callable[[Any, dict[str, Any]], list[dict[str, Any]]]
_Term = tuple[float, int]  # a lexeme's inverse document frequency and document frequency

# At publish: postings for the passages this generation added, and an end for those of the passages it removed.
PUBLISH_POSTINGS = (
    "INSERT INTO postings (lexeme, row_id, tf, length, added_in) SELECT u.lexeme, p.row_id,"
    " coalesce(cardinality(u.positions), 1), p.lexical_length, p.added_in FROM passages p, unnest(p.lexemes) u"
    " WHERE p.added_in = %(generation)s",
    "UPDATE postings t SET removed_in = %(generation)s FROM passages p WHERE p.removed_in = %(generation)s"
    " AND t.row_id = p.row_id AND t.removed_in IS NULL",
)

# How many passages of the generation hold each lexeme, in one round trip.
_STATISTICS = ("SELECT w.lexeme, (SELECT count(*) FROM postings t WHERE t.lexeme = w.lexeme AND"
               f" {visible('t')}) AS df FROM unnest(%(lexemes)s::text[]) AS w(lexeme)")
_SCORE = (f"SELECT t.row_id, sum(q.weight * t.tf * (%(k1)s + 1) / (t.tf + %(k1)s * (1 - %(b)s + %(b)s * t.length"
          f" / %(avgdl)s))) AS score, count(DISTINCT t.lexeme) AS matched FROM unnest(%(lexemes)s::text[],"
          f" %(weights)s::float8[]) AS q(lexeme, weight) JOIN postings t ON t.lexeme = q.lexeme WHERE {visible('t')}")


class LexicalSearch:
    """BM25 search of one generation; term statistics are counted once per reader (the generation is fixed)."""

    def __init__(self, rows: Rows, generation: int, passages: int, tokens: int) -> None:
        self._rows = rows
        self.generation = generation
        self.passages = passages
        self.avgdl = max(1.0, tokens / max(1, passages))
        self._terms: dict[str, _Term] = {}  # lexeme -> its idf and df
        self._lock = threading.Lock()

    def _at(self, **extra: object) -> dict[str, Any]:
        return {"generation": self.generation, **extra}

    def _counted(self, lexemes: Sequence[str]) -> dict[str, _Term]:
        """By lexeme: its inverse document frequency and document frequency, counted once per reader."""
        with self._lock:
            missing = sorted({lexeme for lexeme in lexemes if lexeme not in self._terms})
        if missing:
            found = {row["lexeme"]: (idf(self.passages, row["df"]), int(row["df"]))
                     for row in self._rows(_STATISTICS, self._at(lexemes=missing))}
            with self._lock:
                self._terms.update(found)
        with self._lock:
            return {lexeme: self._terms[lexeme] for lexeme in lexemes}

    def search(self, terms: Sequence[str], k: int, source_ids: Collection[str] | None,
               match: TermMatch) -> list[tuple[str, float]]:
        phrases = phrases_of(terms, match)
        if not phrases or k < 1 or (source_ids is not None and not source_ids):
            return []
        lexemes = [lexeme for phrase in phrases for lexeme in phrase]  # repeats weigh more, as in FTS5
        counted = self._counted(lexemes)
        params = self._at(k=k, k1=BM25_K1, b=BM25_B, avgdl=self.avgdl, lexemes=lexemes,
                          weights=[counted[lexeme][0] for lexeme in lexemes], sources=list(source_ids or ()),
                          distinct=len(set(lexemes)))
        scored = sql.SQL(_SCORE)
        if source_ids is not None:
            scored += sql.SQL(" AND t.row_id IN (SELECT row_id FROM passages WHERE source_id = ANY(%(sources)s))")
        scored += sql.SQL(" GROUP BY t.row_id")
        if match == "any" and all(len(phrase) == 1 for phrase in phrases):
            # Single words: the postings decide alone, and only the k best rows are looked up in (wide) passages.
            query = sql.SQL("WITH best AS ({scored} ORDER BY score DESC, t.row_id LIMIT %(k)s) SELECT p.id,"
                            " best.score FROM best JOIN passages p USING (row_id) ORDER BY best.score DESC,"
                            " best.row_id").format(scored=scored)
            return [(row["id"], float(row["score"])) for row in self._rows(query, params)]
        # Phrases, or all of the words: the rows the postings score, then the exact test on their tsvectors.
        if match != "any":
            scored += sql.SQL(" HAVING count(DISTINCT t.lexeme) = %(distinct)s")
        expression, values = tsquery(phrases, match)
        query = sql.SQL("WITH found AS ({scored}) SELECT p.id, found.score FROM found JOIN passages p USING (row_id)"
                        " WHERE p.lexemes @@ ({expression}) ORDER BY found.score DESC, found.row_id LIMIT %(k)s"
                        ).format(scored=scored, expression=expression)
        return [(row["id"], float(row["score"])) for row in self._rows(query, {**params, **values})]

    def document_frequency(self, term: str) -> int:
        phrases = phrases_of(term.split(), "phrase")
        if not phrases:
            return 0
        if len(phrases[0]) == 1:
            # The count made for the idf is the document frequency: no second round trip.
            return self._counted(phrases[0])[phrases[0][0]][1]
        expression, values = tsquery(phrases, "phrase")
        query = sql.SQL("SELECT count(*) AS n FROM passages WHERE lexemes @@ ({expression}) AND {where}").format(
            expression=expression, where=sql.SQL(visible()))
        return int(self._rows(query, self._at(**values))[0]["n"])
