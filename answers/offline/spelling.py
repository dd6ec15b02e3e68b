"""Names a user spells otherwise than the sources: "De Quincy", "Frazier", "Harisson", "Frued" are read as the
sources' "De Quincey", "Frazer", "Harrison", "Freud" before anything is searched, so that a misspelt author is neither
refused as a name no source mentions nor missed by the word search. The answer says what was read (engine.py).

Only the words of the sources' own authors, titles and aliases are spellings to read towards: the corpus's text is
full of other people's names one letter away from names it never mentions ("Viktor" / "Victor", "Horney" /
"Honey", "Aldous" / "Aldus"), and reading those would answer questions about absent authors with strangers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from citewise.core.text import QUESTION_WORDS, STOPWORDS, WORD, fold
from citewise.core.types import Source

# Shorter words are too often other words (or other people) one letter away.
MIN_LETTERS = 4
# Edits (a letter added, dropped, changed, or two swapped) a word may be from the sources' spelling: one, and two
# for a long word ("Harisson" / "Harrison").
LONG_WORD = 8
_POSSESSIVE = re.compile(r"['’]s$")


@dataclass(frozen=True)
class Respelling:
    asked: str  # the word as the question spells it
    read_as: str  # the sources' spelling


class NameSpellings:
    """The spellings of the sources' authors and titles, for reading a question's misspelling of one of them."""

    def __init__(self, sources: Iterable[Source], known: Callable[[str], bool]) -> None:
        """`known(word)`: whether the corpus holds the (folded) word as it is; such a word is never respelt."""
        self._known = known
        self._spellings: dict[str, str] = {}
        for source in sources:
            for text in (source.author, source.title, *source.aliases):
                for match in WORD.finditer(text or ""):
                    word = match.group(0)
                    if word[0].isupper() and len(word) >= MIN_LETTERS:
                        self._spellings.setdefault(fold(word), word)

    def read_as(self, word: str) -> str | None:
        """The sources' spelling of `word` (a word of a question), or None: when the corpus holds it as spelt,
        when no author or title word is close enough, or when two are equally close."""
        folded = fold(word)  # fold() drops a possessive "'s"
        if (len(folded) < MIN_LETTERS or folded in self._spellings or folded in STOPWORDS
                or folded in QUESTION_WORDS or not folded.isalpha() or self._known(folded)):
            return None
        allowed = 2 if len(folded) >= LONG_WORD else 1
        # The first letter is kept: users misspell the middle of a name far more often than its start.
        distances = sorted((OSA.distance(folded, known), spelling) for known, spelling in self._spellings.items()
                           if known[0] == folded[0] and abs(len(known) - len(folded)) <= allowed)
        if not distances or distances[0][0] > allowed:
            return None
        if len(distances) > 1 and distances[1][0] == distances[0][0] and distances[1][1] != distances[0][1]:
            return None
        return distances[0][1]

    def respell(self, text: str) -> tuple[str, tuple[Respelling, ...]]:
        """`text` with every misspelt author or title word in the sources' spelling, and what was read."""
        read: dict[str, Respelling] = {}

        def replace(match: re.Match[str]) -> str:
            word = match.group(0)
            bare = _POSSESSIVE.sub("", word)
            spelling = self.read_as(bare)
            if spelling is None:
                return word
            read.setdefault(bare, Respelling(bare, spelling))
            return spelling + word[len(bare):]

        respelt = WORD.sub(replace, text)
        return respelt, tuple(read.values())


def respelling_note(respelt: tuple[Respelling, ...], note: str | None = None) -> str | None:
    """The answer's note saying which words were read in the sources' spelling, after any note it already has."""
    if not respelt:
        return note
    read = "; ".join(f"“{r.asked}” as “{r.read_as}”" for r in respelt)
    said = f"Read {read}, as the sources spell it."
    return f"{note} {said}" if note else said
