"""Lexical search of scripts written without spaces (Chinese, Japanese, Thai, ...) in FTS5.

FTS5's unicode61 tokenizer ends words only at spaces and punctuation, so a Chinese paragraph is one long "word" and
no word inside it can be found. The text given to FTS5 therefore sets each character of such a script apart (with
the marks that belong to it), and a query term in such a script becomes a phrase of its characters, or for a long
run (a whole question has no spaces either) its overlapping character pairs, the usual bigram approach. Text in
other scripts is given to FTS5 unchanged, so English search is exactly what it was. `lexical_form` is core's
(core/lexemes.py), so that every backend sets those characters apart alike.
"""

from __future__ import annotations

import sqlite3

from citewise.core.lexemes import UNSPACED, lexical_form


def term_expression(term: str, match: str) -> str:
    """One query term as an FTS5 expression (the term is plain words, with any '"' already taken out)."""
    if not UNSPACED.search(term):
        return f'"{term}"'
    units = lexical_form(term).split()
    if match != "any" or len(units) <= 2:
        return '"' + " ".join(units) + '"'  # the characters in a row: the word itself
    # A longer run may be several words (a question in Chinese): any of its character pairs, ranked by BM25.
    return "(" + " OR ".join(f'"{a} {b}"' for a, b in zip(units, units[1:], strict=False)) + ")"


def upgrade_fts(conn: sqlite3.Connection) -> int:
    """Re-indexes, in the FTS table of an index of schema 3, the passages that hold such a script (schema 3 gave
    FTS5 their text unchanged); returns how many. Nothing else differs, so no passage is embedded again."""
    rows = [row for row in conn.execute("SELECT rowid, search_text FROM passages") if UNSPACED.search(row[1])]
    conn.executemany("INSERT INTO passages_fts(passages_fts, rowid, search_text) VALUES ('delete', ?, ?)", rows)
    conn.executemany("INSERT INTO passages_fts(rowid, search_text) VALUES (?, ?)",
                     [(rowid, lexical_form(text)) for rowid, text in rows])
    return len(rows)
