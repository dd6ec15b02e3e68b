"""A misspelt author or title word is read as the sources spell it (answers/offline/spelling.py)."""

from __future__ import annotations

import pytest

from citewise.answers.offline.spelling import NameSpellings, Respelling, respelling_note
from citewise.core.types import Source

# Words the corpus's text holds, as the lexical index would say (folded).
CORPUS_WORDS = {"victor", "honey", "harrison", "saturnalia", "frazer", "freud", "rhodes"}


def _source(author: str, title: str, aliases: tuple[str, ...] = ()) -> Source:
    return Source(id=author, file=f"{author}.txt", title=title, author=author, year=1900, licence="PD", origin="",
                  file_sha256="", chars=1, aliases=aliases)


@pytest.fixture()
def spellings() -> NameSpellings:
    sources = [_source("James George Frazer", "The Golden Bough"),
               _source("Jane Ellen Harrison", "Ancient Art and Ritual"),
               _source("Thomas De Quincey", "Confessions of an English Opium-Eater"),
               _source("Sigmund Freud; transl. A. A. Brill", "Totem and Taboo"),
               _source("Erwin Rohde", "Psyche")]
    return NameSpellings(sources, lambda word: word in CORPUS_WORDS)


@pytest.mark.unit
@pytest.mark.parametrize(("asked", "read"), [
    ("What does Frazier say about the Saturnalia?", "What does Frazer say about the Saturnalia?"),
    ("How did De Quincy start on opium?", "How did De Quincey start on opium?"),
    ("if every dream is a wish, how does frued explain it?", "if every dream is a wish, how does Freud explain it?"),
    ("What is Harisson's view of mimesis?", "What is Harrison's view of mimesis?"),  # two edits in a long word
    ("What did Rodhe write about Homer?", "What did Rohde write about Homer?"),
    ("What does Fraser say?", "What does Frazer say?"),
])
def test_a_misspelt_author_is_read_as_the_sources_spell_it(spellings, asked, read):
    respelt, said = spellings.respell(asked)
    assert respelt == read
    assert len(said) == 1 and said[0].read_as in read and said[0].asked in asked


@pytest.mark.unit
@pytest.mark.parametrize("asked", [
    "What does Viktor Frankl say about logotherapy?",  # no author or title of the sources is one edit away
    "Who wrote about Rhodes and the Saturnalia?",  # the corpus holds the word as spelt
    "What did Hesiod say about Pandora?",  # no source here is Hesiod's: not a misspelling of anything
    "Did Rnk write about Homer?",  # too short to read as another word
])
def test_other_names_are_left_as_asked(spellings, asked):
    respelt, said = spellings.respell(asked)
    assert respelt == asked and said == ()


@pytest.mark.unit
def test_two_equally_close_spellings_leave_the_word_as_asked():
    spellings = NameSpellings([_source("Carl Jung", "Maps"), _source("Karl Mann", "Mips")], lambda word: False)
    assert spellings.respell("What is on the Mxps?") == ("What is on the Mxps?", ())


@pytest.mark.unit
def test_the_note_says_what_was_read_after_any_note_there_is():
    read = (Respelling("Frazier", "Frazer"), Respelling("Quincy", "Quincey"))
    assert respelling_note(read) == "Read “Frazier” as “Frazer”; “Quincy” as “Quincey”, as the sources spell it."
    assert respelling_note((), "Filtered.") == "Filtered."
    assert respelling_note(read[:1], "Filtered.") == "Filtered. Read “Frazier” as “Frazer”, as the sources spell it."
