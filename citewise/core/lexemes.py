"""The words of the lexical index: how every backend splits, folds and stems what it indexes and what it looks up, so
that one corpus has the same document frequencies and the same BM25 order in each (the embedded index, PostgreSQL).

The analysis is FTS5's tokenizer as the embedded index declares it (TOKENIZER): runs of letters and digits
(apostrophes, hyphens and underscores split: "can't" is `can` `t`, "_History_." is `histori`), case and diacritics
folded, stop words kept, stems by the original Porter algorithm as SQLite implements it (not core.text's Snowball,
which answers use). The embedded index gets it from FTS5 itself; any other backend gets it from `index_terms`, which
runs that same tokenizer in an in-memory SQLite, so the two cannot drift apart. Before it, `lexical_form` sets
apart each character of scripts written without spaces (Chinese, Japanese, Thai, ...), for both alike.

Answers and retrieval never import this module (they see the index through its contract, core/index.py).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Sequence

# The embedded index's FTS5 table is declared with this tokenizer (store/sqlite_faiss/schema.py).
TOKENIZER = "porter unicode61 remove_diacritics 2"

_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F),  # Hiragana, Katakana
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF),  # Han
)
_CLASS = "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in _RANGES)
_MARKS = "".join(re.escape(chr(c)) for low, high in _RANGES[:4] for c in range(low, high + 1)
                 if unicodedata.category(chr(c)).startswith("M"))
# One unit: a character of those scripts with the combining marks (Thai vowels and tones, kana voicing) after it.
_UNIT = re.compile(f"[{_CLASS}][{_MARKS}\u3099\u309a]*")
# A character of a script written without spaces.
UNSPACED = re.compile(f"[{_CLASS}]")


def lexical_form(text: str) -> str:
    """The text a lexical index is given: unchanged unless it holds such a script, whose characters then stand
    apart (FTS5's unicode61 ends words only at spaces and punctuation, so a Chinese paragraph would be one word)."""
    if not UNSPACED.search(text):
        return text
    return _UNIT.sub(lambda match: f" {match.group()} ", text)


_LOCAL = threading.local()


def _tokenizer() -> sqlite3.Connection:
    """This thread's in-memory SQLite with an FTS5 table of TOKENIZER and its per-token vocabulary."""
    conn = getattr(_LOCAL, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:")
        # Contentless, so that 'delete-all' empties the index outright: rows deleted one by one would leave their
        # entries behind to be skipped by every later read (a tokenizer that had done an ingest's 20,000 passages
        # took 8 ms a query, and PostgreSQL's lexical search ten times as long).
        conn.execute(f"CREATE VIRTUAL TABLE words USING fts5(body, content='', tokenize='{TOKENIZER}')")
        conn.execute("CREATE VIRTUAL TABLE word_instances USING fts5vocab(words, 'instance')")
        _LOCAL.conn = conn
    return conn


def index_terms_of(texts: Sequence[str]) -> list[list[str]]:
    """Each text's index terms in order (a term's position is its place in the list), as FTS5 indexes the text."""
    conn = _tokenizer()
    terms: list[dict[int, str]] = [{} for _ in texts]
    with conn:
        conn.executemany("INSERT INTO words(rowid, body) VALUES (?, ?)", enumerate(texts))
        for doc, offset, term in conn.execute("SELECT doc, offset, term FROM word_instances"):
            terms[doc][offset] = term
        conn.execute("INSERT INTO words(words) VALUES ('delete-all')")
    return [[found[i] for i in sorted(found)] for found in terms]


def index_terms(text: str) -> list[str]:
    """The text's index terms in order: `index_terms("Why can't _History_ be?")` is why, can, t, histori, be."""
    return index_terms_of([text])[0] if text.strip() else []
