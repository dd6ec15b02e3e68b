"""Free text -> a safe FTS5 query: each content word quoted, OR-ed, so no user punctuation reaches FTS5 syntax."""

from __future__ import annotations

import re

# Letters and digits only: FTS5's unicode61 tokenizer splits on everything else (the underscore included).
_WORD = re.compile(r"[^\W_]+")

# Function words and question scaffolding: they match most passages and only add noise and latency.
_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing done down during each either else ever few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself just let
me might more most much must my myself neither no nor not of off on once only or other ought our ours
ourselves out over own per same shall she should since so some such than that the their theirs them
themselves then there these they this those though through thus to too under until up upon us very was we
were what whatever when where whether which while who whom whose why will with within without would yet you
your yours yourself yourselves s t d ll m re ve
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def query_terms(text: str) -> list[str]:
    """The content words of `text`, lower-cased, in order, repeats kept (BM25 weighs a repeated term more)."""
    terms = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
            continue
        terms.append(word)
    return terms


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression for `text`, or "" when it has no content word."""
    # Quoting makes every term a literal string: AND, NEAR, '*', '-', ':' and '"' lose their meaning.
    return " OR ".join(f'"{term}"' for term in query_terms(text))
