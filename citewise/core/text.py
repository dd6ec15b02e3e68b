"""Words, stop words and stems: the one place citewise analyses text (retrieval, answers, support, evals).

Stems come from the Snowball English stemmer (Porter2) of the `snowballstemmer` package.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

# A word: letters and digits, with apostrophes and hyphens inside it ("De Quincey's", "self-surrender").
WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# A word of text normalised for quote matching (answers.normalize), where every dash is "-" with no space around
# it: words split at dashes there, or "fell--and" would be one word.
NORMALISED_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# A token as a lexical index splits text (FTS5's unicode61, PostgreSQL's simple parser): letters and digits only.
TOKEN = re.compile(r"[^\W_]+")
_INNER = re.compile(r"['’\-]")
# A run of capitalised words: a name or a title ("William James", "Freud's", "The Golden Bough").
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'’\-]*(?:\s+[A-Z][\w'’\-]*)*")

# Function words: they match most passages and carry nothing a question asks about.
_STOPWORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing done down during each either else ever every few for from further get
gets got had has have having he her here hers herself him himself his how however i if in including into is it
its itself just let like may me might more most much must my myself neither no nor not now of off on once one
only or other ought our ours ourselves out over own per please quite rather really same shall she should since
so some such than that the their theirs them themselves then there these they this those though through thus to
too under until up upon us very was way we well were what whatever when where whether which while who whom whose
why will with within without would yes yet you your yours yourself yourselves s t d ll m re ve
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# The scaffolding of a question ("according to James, what does ... mean?"): not what it is about.
_QUESTION_WORDS_TEXT = """
according call called describe described explain give given kind kinds made make makes many mean means meant
regard regarded said say says see seem seems show something tell think thinks thought use used word words
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS_TEXT.split())

# A Snowball stemmer keeps the word it works on in itself: one per thread, or concurrent requests garble each
# other's words (an IndexError under 30 clients, found by `citewise bench load`).
_STEMMERS = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    return WORD.findall(text)


def tokens(text: str) -> list[str]:
    """The text's index tokens, case-folded, in order."""
    return [token.casefold() for token in TOKEN.findall(text)]


def fold(word: str) -> str:
    """Lower case, one apostrophe, no possessive 's."""
    return word.casefold().replace("’", "'").removesuffix("'s")


# Stems and stem sets are pure functions of their text, and every answer asks for those of the same words and
# passages over and over: caching them keeps lexical scoring at a couple of milliseconds per answer.
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    return _stemmer().stemWord(fold(word))


@lru_cache(maxsize=1 << 12)
def stems_of(text: str) -> frozenset[str]:
    """The stems of every word of `text`, and of the parts of its hyphenated words."""
    found: set[str] = set()
    for word in words(text):
        found.add(stem(word))
        if _INNER.search(word):
            found.update(stem(part) for part in _INNER.split(word) if part)
    return frozenset(found)


def term_stems(term: str) -> set[str]:
    """A hyphenated term counts as present when all its parts are (a lexical index splits it the same way)."""
    return {stem(part) for part in _INNER.split(term) if part}


def query_terms(text: str) -> list[str]:
    """What a lexical search looks for: the tokens of `text` that are not stop words (single letters dropped,
    numbers kept), in order, repeats kept (BM25 weighs a repeated term more)."""
    return [t for t in tokens(text) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def content_terms(text: str) -> list[str]:
    """The content words of a question, folded, in order, without repeats, stop words or question scaffolding."""
    seen: dict[str, None] = {}
    for word in words(text):
        folded = fold(word)
        if (len(folded) < 3 and not folded.isdigit()) or folded in STOPWORDS or folded in QUESTION_WORDS:
            continue
        seen.setdefault(folded, None)
    return list(seen)


def opens_sentence(text: str, position: int) -> bool:
    """Whether `position` starts a sentence (after opening quotes and brackets): capitals there are not names."""
    before = text[:position].rstrip(" \t\n\"'“‘(")
    return not before or before[-1] in ".!?:"


def named_terms(text: str) -> list[str]:
    """Words `text` capitalises mid-sentence or writes with digits among letters (names, titles, codes), folded."""
    named: dict[str, None] = {}
    for match in WORD.finditer(text):
        word = match.group(0)
        capitalised = word[0].isupper() and not opens_sentence(text, match.start())
        code = any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word)
        if capitalised or code:
            folded = fold(word)
            if folded not in STOPWORDS and folded not in QUESTION_WORDS:
                named.setdefault(folded, None)
    return list(named)


def capitalised_runs(text: str, skip_sentence_openers: bool = False) -> list[str]:
    """Runs of capitalised words in `text`, in order; with `skip_sentence_openers`, not those opening a sentence
    (where any word is capitalised)."""
    return [m.group(0) for m in _CAPITALISED_RUN.finditer(text)
            if not (skip_sentence_openers and opens_sentence(text, m.start()))]


# Words that make a name a body's, not a person's ("Alcoholics Anonymous", "U.S. National Library of Medicine").
_BODY_WORDS = frozenset(("Anonymous", "Library", "Medicine", "Institute", "Institutes", "Society", "Association",
                         "Organization", "Committee", "Council", "Department", "Agency", "Press", "University"))


def primary_author(author: str) -> str:
    """Who wrote a work, from its author field: the part before any translator's or editor's note, without
    parentheses ("Sigmund Freud (1856-1939); transl. A. A. Brill" -> "Sigmund Freud")."""
    return re.sub(r"\s*\([^)]*\)", "", (author or "").split(";")[0]).strip()


def is_personal_name(name: str) -> bool:
    """Whether an author's name is a person's: two to four capitalised words, none of them a body's word, not a
    plural like "Wikipedia contributors"."""
    words = name.split()
    return 1 < len(words) <= 4 and all(w[:1].isupper() for w in words) and not _BODY_WORDS.intersection(words)
