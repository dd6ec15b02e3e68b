"""Question understanding without a model: parts, answer types, named and missing works, filler sentences."""

from __future__ import annotations

import pytest

from citewise.answers.offline.evidence import answer_type_match, is_filler
from citewise.answers.offline.question import SourceNames, answer_type, asked_about_names, plan_question, split_parts
from citewise.core.types import Source

pytestmark = pytest.mark.unit


def _source(sid: str, title: str, author: str, aliases: tuple[str, ...] = ()) -> Source:
    return Source(id=sid, file=f"{sid}.txt", title=title, author=author, year=1900, licence="", origin="",
                  file_sha256="", chars=1, aliases=aliases)


SOURCES = {s.id: s for s in (
    _source("james", "The Varieties of Religious Experience: A Study in Human Nature", "William James",
            ("Varieties",)),
    _source("jung", "Psychology of the Unconscious", "C. G. Jung; transl. Beatrice M. Hinkle"),
    _source("freud", "Totem and Taboo", "Sigmund Freud; transl. A. A. Brill"),
    _source("aa", "Alcoholics Anonymous (1st ed.)", "Alcoholics Anonymous (William G. Wilson et al.)",
            ("the Big Book", "Big Book")),
    _source("wiki", "Wikipedia: MDMA (full article)", "Wikipedia contributors"),
)}
NAMES = SourceNames(SOURCES)


def test_a_compound_question_splits_at_a_second_question_word():
    parts = split_parts("What is MDMA-assisted therapy for PTSD and how is it different from recreational use?")
    assert [clause.text for clause in parts] == ["What is MDMA-assisted therapy for PTSD", "how is it different from "
                                                                                    "recreational use?"]
    assert [c.text for c in split_parts("Who rescued Sargon, and which Bible story matches his?")] == [
        "Who rescued Sargon", "which Bible story matches his?"]


def test_a_comparison_of_two_authors_quotes_each_in_the_order_asked():
    """"... with Jung's" names Jung as a speaker (the possessive closes the question), so each side is a part."""
    plan = plan_question("Compare Freud's view of the unconscious with Jung's", NAMES, lambda name, work: True)
    assert [part.source_ids for part in plan.parts] == [frozenset({"freud"}), frozenset({"jung"})]
    plan = plan_question("Compare Jung's view of the unconscious with Freud's", NAMES, lambda name, work: True)
    assert [part.source_ids for part in plan.parts] == [frozenset({"jung"}), frozenset({"freud"})]


def test_names_joined_by_and_before_a_verb_of_differing_are_both_asked_for():
    plan = plan_question("How do Jung and Freud differ on the libido?", NAMES, lambda name, work: True)
    assert [part.source_ids for part in plan.parts] == [frozenset({"jung"}), frozenset({"freud"})]
    plan = plan_question("What do James and Jung say about the unconscious?", NAMES, lambda name, work: True)
    assert plan.parts[0].source_ids == frozenset({"james", "jung"})
    # What they did, not what they say: the search is not kept to their works.
    plan = plan_question("Where did Breuer and Freud first publish their findings on hysteria?", NAMES,
                         lambda name, work: True)
    assert plan.parts[0].source_ids == frozenset()


def test_a_follow_up_in_two_parts_searches_each_with_what_it_leans_on():
    plan = plan_question("Did they drink anything to get intoxicated, or was it all dancing and music?", NAMES,
                         lambda name, work: True, follow_up="Jung; night-time dance festivals")
    assert len(plan.parts) == 2
    assert all(part.query.endswith("(Jung; night-time dance festivals)") for part in plan.parts)
    # The parts' titles are the parts as asked.
    assert [part.text for part in plan.parts] == ["Did they drink anything to get intoxicated",
                                                   "was it all dancing and music?"]
    assert plan.question.endswith("(Jung; night-time dance festivals)")


def test_a_list_of_nouns_is_not_split():
    assert len(split_parts("How do Freud's and Adler's theories differ on totems and taboos?")) == 1
    assert len(split_parts("What did the fast, the drink and the procession mean?")) == 1


def test_a_statement_before_the_question_becomes_its_context():
    (clause,) = split_parts("Freud talks about a 'latency period'. Whose expression was that?")
    assert clause.context == "Freud talks about a 'latency period'." and clause.text == "Whose expression was that?"
    assert [c.text for c in split_parts("Wouldn't dreams disturb sleep? Why does Freud claim the opposite?")] == [
        "Wouldn't dreams disturb sleep?", "Why does Freud claim the opposite?"]


@pytest.mark.parametrize(("text", "kind"), [
    ("How many lectures did James give", "number"),
    ("When was the word 'alcoholism' first coined", "date"),
    ("Who rescued the infant Sargon", "name"),
    ("Why did people plant little gardens?", "reason"),
    ("What does the Greek word dromenon mean", "definition"),
    ("Does Jung think a patient can redirect energy?", "yes-no"),
    ("In Harrison's account, what exactly changes when a ritual turns into art?", "description"),
    ("Which kinds of talk therapy work best?", "list"),
])
def test_answer_types(text, kind):
    assert answer_type(text) == kind


def test_sources_are_named_by_title_alias_or_surname():
    assert NAMES.named_in("Does James's Varieties discuss drinkers?") == {"james"}
    assert NAMES.named_in("What does the Big Book say about sponsors?") == {"aa"}
    assert NAMES.named_in("In Psychology of the Unconscious, whose poems does he use?") == {"jung"}
    assert NAMES.named_in("What did Carl Jung think?") == {"jung"}
    assert NAMES.named_in("What is the offside rule?") == frozenset()


def test_given_names_tell_persons_with_one_surname_apart():
    assert NAMES.is_author("Carl Jung") and NAMES.is_author("William James") and NAMES.is_author("Jung")
    assert not NAMES.is_author("Anna Freud")
    assert not NAMES.is_author("James Hillman")


def test_works_and_authors_the_corpus_lacks_are_missing():
    never = lambda phrase, is_work: False  # noqa: E731 - the corpus mentions nothing
    plan = plan_question("What does Freud say about the oceanic feeling in Civilization and Its Discontents?",
                         NAMES, never)
    assert plan.missing == ("Civilization and Its Discontents",)
    assert plan_question("What did Stanislav Grof conclude from LSD therapy?", NAMES, never).missing == (
        "Stanislav Grof",)
    assert plan_question("What does Anna Freud describe?", NAMES, never).missing == ("Anna Freud",)
    # A person the corpus mentions may be quoted by it: not missing.
    assert plan_question("What did Francis Newman write?", NAMES, lambda p, _: p == "Francis Newman").missing == ()
    # A work or writer quoted inside a source is not missing either; one the text never names is.
    quoted = lambda name, is_work: name == "Dionysius the Areopagite"  # noqa: E731
    assert plan_question("What three-stage path does Underhill quote from Dionysius the Areopagite?", NAMES,
                         quoted).missing == ()
    assert plan_question("What three-stage path does Underhill quote from Dionysius the Areopagite?", NAMES,
                         never).missing == ("Dionysius the Areopagite",)
    # Named works and authors that are sources are never missing.
    assert plan_question("According to William James, what marks a mystical state?", NAMES, never).missing == ()
    assert plan_question("What does Jung write in Psychology of the Unconscious?", NAMES, never).missing == ()


def test_names_joined_by_and_are_checked_one_by_one():
    assert [name for name, _ in asked_about_names("How do the Homeric Hymn and Wright's retelling explain it?")] \
        == ["Homeric Hymn", "Wright"]


def test_a_leaning_part_searches_with_the_subject_it_leans_on():
    rarity = {"mdma": 5.0, "ptsd": 4.0, "assisted": 2.0, "therapy": 1.0}.get
    plan = plan_question("What is MDMA-assisted therapy for PTSD and how is it different from recreational use?",
                         NAMES, lambda p: True, lambda w: rarity(w, 0.0))
    first, second = plan.parts
    assert first.query == first.text
    assert second.query == "mdma ptsd recreational use?"


@pytest.mark.parametrize("sentence", [
    "Mystic states, their effects, 21, 414.",
    "CHAPTER IV. THE RELIGION OF HEALTHY-MINDEDNESS.",
    "See James, op. cit., pp. 23-29, for the argument in full.",
    "Fig. 3. The temple of Demeter at Eleusis, from the east.",
    "which was the reason the priest gave for the whole rite.",
    "=### Play therapy for children= Play is thought to help children.",
    "The following are the marks of the state:",
    "That genuine saint, David Brainerd, describes his own crisis in the following words:—",
    "There was, as stated, three degrees, and the ordinary procedure with regard to initiation was as follows:--",
    "(_Jahrbuch für psychoanalyt. und psychopatholog._ Forschungen, Bd.",
    "Take as an example the fate of Alypius, in the “Confessions” of St. Augustine (Bk.",
    "{16} I here reckon twenty-five drops of laudanum as equivalent to one grain of opium.",
    # A translator's credit, whole since initials no longer end a sentence.
    "Tr. by W. A. White,\n  M.D.",
    # A publisher's list of books at the front of one: a title and its author's credit, not the author's prose.
    "_THE PSYCHOLOGY OF THE UNCONSCIOUS._ By\nDr. C. G. J<small>UNG</small>.",
    # Cut inside an abbreviated title in italics ("Roscher's _Myth. Lex._"): either piece.
    "Voigt in his noteworthy treatment of Dionysos in Roscher's _Myth.",
    "Lit._ is written with a strong sceptical bias.",
    # Who transcribed the text, not its author: quoted as De Quincey's words before.
    "Transcribed from the 1886 George Routledge and Sons edition--first\nedition (London Magazine) text, "
    "by David Price, email\nccx074@coventry.ac.uk",
    "The following typographical errors have been corrected by the etext\ntranscriber:",
    "This e-text contains a number of unusual characters.",
    # The text asking, not answering, also after a conjunction or a short opening.
    "In the first place, what do we mean by prayer?",
    "But where is the wish-fulfilment to be found?",
])
def test_filler_is_never_a_candidate(sentence):
    assert is_filler(sentence)


def test_plain_sentences_are_not_filler():
    assert not is_filler("The Festival of the Greater Mysteries began on the 15th of the month of Boedromion.")
    assert not is_filler("Mystical states cannot be sustained for long.")
    assert not is_filler("Thus Dionysius the Areopagite says in a celebrated passage: “Threefold is the way to God.")
    assert not is_filler("Freud (in his book on dreams) calls it the royal road [via regia] to the unconscious.")
    # A colon inside a sentence announces nothing by itself: what it announces is in the sentence.
    assert not is_filler("She gave the following explanation: The natural forces are arranged in seven circles.")
    assert not is_filler("Thus we have two forms of thinking--directed thinking and dream or phantasy thinking.")
    # A sentence that answers and then asks is not a question.
    assert not is_filler("I now took only 1000 drops of laudanum per day; and what was that?")
    assert not is_filler("But the answer, which nobody asked for, came at last.")
    # A dream told in italics runs over whole sentences: an unpaired mark alone is no cut.
    assert not is_filler("_He saw a large dish garnished, and upon it a large piece of roast meat.")
    assert not is_filler("Hesiod wrote the _Works and Days_ for his brother Perses.")
    # A printed page's number inside a sentence is not markup.
    assert not is_filler("I descended from 320 grains of opium (i.e. eight\n{16} thousand drops of laudanum) per day.")


def test_sentences_carrying_the_kind_of_answer_asked_for():
    assert answer_type_match("It lasted until the 23rd of the same month.", "date", [])
    assert answer_type_match("He took three hundred and twenty grains a day.", "number", [])
    assert not answer_type_match("He took a great deal of it.", "number", [])
    assert answer_type_match("They fasted because Demeter had fasted.", "reason", [])
    assert answer_type_match("A dromenon is a thing done.", "definition", ["dromenon"])
    assert not answer_type_match("They danced the dromenon at night.", "definition", ["dromenon"])


def test_a_quoted_title_is_one_name_without_its_quotation_marks():
    # "'There" and "Solution'" once kept their marks: the run was "Is a Solution'", a title no source has.
    assert asked_about_names("What does 'There Is a Solution' mean by a 'fourth dimension of existence'?") \
        == [("There Is a Solution", True)]


@pytest.mark.parametrize("question", [
    # The next question's verb ("see") is not this name's.
    "Why does Dudley Wright keep comparing the Eleusinian Mysteries with Freemasonry? What likeness does he see?",
    # Nor the next clause's ("think"): a quoted formula is not a speaker.
    "What's the 'Konx Ompax' formula, and does Wright think it was really spoken at the end of the rites?",
])
def test_a_speaker_verb_counts_only_in_the_names_own_clause(question):
    assert [name for name, _ in asked_about_names(question) if name != "Dudley Wright"] == []


def test_a_name_followed_by_its_verb_is_still_a_speaker():
    assert asked_about_names("What did Stanislav Grof conclude about LSD?") == [("Stanislav Grof", False)]


@pytest.mark.parametrize(("question", "printed", "missing"), [
    # A source's author at the end of a run is what the run is about, not part of a name: the rest is checked.
    ("Who was living in the house on Greek Street in Soho with Jung?", "Soho", ()),
    ("Did the Australian Aborigines Freud describes keep any domestic animals?", "Australian Aborigines", ()),
    ("Did the Australian Aborigines Freud describes keep any domestic animals?", None,
     ("Australian Aborigines Freud",)),
    # One given name before an author's surname is another person.
    ("Which defence mechanisms does Anna Freud describe?", "Anna", ("Anna Freud",)),
])
def test_a_run_ending_in_a_sources_author_is_checked_without_the_author(question, printed, missing):
    assert plan_question(question, NAMES, lambda name, is_work: name == printed).missing == missing
