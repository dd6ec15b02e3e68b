"""Evidence for the offline engine: candidate sentences of the retrieved passages, their scores against one part of
the question, and the choice of quotes."""

from __future__ import annotations

import bisect
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise

import numpy as np

from citewise.answers.offline.question import AnswerType
from citewise.answers.offline.terms import QuestionTerms
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit, Retriever, SearchFilters
from citewise.core.sentences import passage_sentences, unwrap
from citewise.core.text import is_personal_name, named_terms, primary_author, stem, stems_of
from citewise.core.types import Passage, Source, StoredVectors

# Lexical evidence matters less than meaning, but it is what separates "about Hillman" from "about James".
LEXICAL_WEIGHT = 0.5
PASSAGE_WEIGHT = 0.25
# A sentence of the kind the question asks for (a number for "how many", a reason for "why") gets this much more.
ANSWER_TYPE_WEIGHT = 0.1
MIN_WORDS, MAX_WORDS = 6, 110
# At most this many sentences without a stored vector (past the model's window at ingest) are embedded per part.
SHORTLIST = 24
SENTENCE_BATCH = 8

_WEB_ADDRESS = re.compile(r"https?://|www\.", re.IGNORECASE)
# Who put the text online, not what its author wrote: a transcriber's credit or note ("Transcribed from the 1886 ...
# edition ..., by David Price, email ccx074@...", "corrected by the etext transcriber").
_TRANSCRIPTION = re.compile(r"[\w.+-]+@[\w-]+\.\w|\btranscriber|\be-?texts?\b|\bProject Gutenberg\b", re.IGNORECASE)
# A printed page's number kept in the text ("eight {16} thousand drops"): not markup.
_PAGE_MARK = re.compile(r"\{\d+\}")
# An index entry ("Mystic states, their effects, 21, 414."), a reference ("pp. 23-29", "op. cit.", "et al."), a
# caption or a footnote: text about the book, not what it says.
# Page numbers after a comma at the end: anchored so that the search never backtracks through a long sentence.
_INDEX_LINE = re.compile(r",\s*\d+(?:\s*[-–]\s*\d+)?\.?\s*$")
_REFERENCE = re.compile(r"\b(?:pp?\.\s*\d|op\.\s*cit|ibid\b|loc\.\s*cit|et al\.|vol\.\s*[ivxlc\d]"
                        r"|(?:tr|trans|transl|ed)\.\s+by\b)", re.IGNORECASE)
_CAPTION = re.compile(r"^\s*[\[(]?\s*(?:fig(?:ure)?\.?|plate|illustration|footnote|note|transcriber|"
                      r"translator's note|editor's note)\b", re.IGNORECASE)
_NUMBER_WORDS = frozenset((
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "twenty",
    "thirty", "forty", "fifty", "sixty", "hundred", "thousand", "million", "billion", "half", "twice", "thrice",
    "dozen", "first", "second", "third", "fourth", "fifth", "once", "percent",
))
_DATE = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b|\b(?:january|february|march|april|may|june|july|august|september|"
                   r"october|november|december|century|centuries|spring|summer|autumn|winter|month|year)\b|"
                   r"\b\d+(?:st|nd|rd|th)\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|since|therefore|hence|thus|so that|in order to|owing to|due to|reason|cause[sd]?|"
                     r"explains?|for (?:this|that) purpose|lest|that is why)\b", re.IGNORECASE)
_DEFINES = re.compile(r"\b(?:is|are|was|were|means?|meant|denotes?|called|consists?|refers? to|signif(?:y|ies))\b",
                      re.IGNORECASE)
# A sentence that is itself a question ("Are there steps I can take to protect myself?", also after a conjunction or a
# short opening: "But where is the wish-fulfilment to be found?", "In the first place, what do we mean by prayer?");
# not one that answers and then asks ("I now took only 1000 drops of laudanum per day; and what was that?").
_ASKING = re.compile(r"^(?:(?:and|but|or|so|now|then|yet|again|here|well|first(?:ly)?|secondly|in (?:the )?\w+ place)"
                     r"\b[^,;:?]{0,25},?\s+)?"
                     r"(?:what|how|why|when|where|who|whom|which|are|is|do|does|did|can|could|should|would|will)\b"
                     r"[^;:]*\?$", re.IGNORECASE)
# "[108] Compare Freud: ...", "See James, ...", "Cf. Rohde": a footnote pointing elsewhere.
_SEE_ALSO = re.compile(r"^\s*(?:\[\d+\]|\(\d+\)|\d+\s|compare\b|cf\.|see\s)", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:in|at|from|near|to)\s+(?:the\s+)?[A-Z][a-z]")
# A short sentence that only points back at what came before ("This is the meaning of 'purgation.'", "His explanation
# makes good sense."): a demonstrative or a possessive first, few words, no figure. Alone it says nothing, so it is
# quoted with the sentence before it. A pronoun alone is not enough: "She died in September 1897, at the age of
# twenty-four." answers by itself.
_POINTER = re.compile(r"^[\"'“‘(_]*(?:(?:and|but|yet|so|thus|hence|now|or|nor),?\s+)?"
                      r"(?:this|that|these|those|such|thus|his|her|its|their)\b", re.IGNORECASE)
POINTER_MAX_WORDS = 10
# ... or one, a little longer, that weighs an idea it does not state ("But as ex-alcoholics, we can say that his
# explanation makes good sense.", "Obviously this explanation is absolutely unsatisfactory from a scientific
# standpoint."): the idea is in the sentence before. "On this account" and "from that view" are idioms, not pointers.
_POINTS_AT_AN_IDEA = re.compile(
    r"\b(?:this|that|these|those|such|his|her|its|their)\s+(?:explanations?|views?|theory|theories|accounts?|"
    r"statements?|ideas?|opinions?|arguments?|conclusions?|interpretations?|remarks?|hypothes[ie]s|suggestions?|"
    r"claims?|assertions?|doctrines?|answers?)\b", re.IGNORECASE)
_IDIOM = re.compile(r"\b(?:on|in|from|to)\s+(?:this|that)\s+(?:account|view)\b", re.IGNORECASE)
IDEA_POINTER_MAX_WORDS = 14


def asks(sentence: str) -> bool:
    """Whether the sentence is itself a question."""
    return _ASKING.match(sentence.strip()) is not None


def points_back(sentence: str) -> bool:
    if any(ch.isdigit() for ch in sentence):
        return False
    length = len(sentence.split())
    return ((length <= POINTER_MAX_WORDS and _POINTER.match(sentence.strip()) is not None)
            or (length <= IDEA_POINTER_MAX_WORDS and _POINTS_AT_AN_IDEA.search(sentence) is not None
                and _IDIOM.search(sentence) is None))


def in_title_case(sentence: str) -> bool:
    """A title or a credit line, as a publisher's list of books has them ("_THE PSYCHOLOGY OF THE UNCONSCIOUS._ By
    Dr. C. G. JUNG."): four words or more and none begins in lower case. Not the author's prose, though between
    full stops it looks like a sentence."""
    words = [word.lstrip("_*\"'“‘([") for word in sentence.split()]
    words = [word for word in words if word[:1].isalpha()]
    return len(words) >= 4 and not any(word[0].islower() for word in words)


def is_filler(sentence: str) -> bool:
    """Text that says nothing when quoted alone: a heading, an index entry, a reference, a caption, a fragment that
    starts mid-sentence, a line that announces a list, one carrying a web address, or a transcriber's credit."""
    stripped = sentence.strip()
    letters = [ch for ch in stripped if ch.isalpha()]
    return bool(
        not letters or stripped.startswith(("#", "=")) or "###" in stripped
        or stripped.rstrip("-—– ").endswith(":")  # announcing what follows, also "... was as follows:--"
        or _WEB_ADDRESS.search(stripped) or _TRANSCRIPTION.search(stripped)
        or not any(ch.islower() for ch in letters) or in_title_case(stripped)  # a heading, a title, a credit
        or stripped[0].islower()  # a fragment
        or _INDEX_LINE.search(stripped) or _REFERENCE.search(stripped) or _CAPTION.match(stripped)
        or sum(ch.isdigit() for ch in stripped) > len(letters) / 3  # a table row or a list of pages
        or asks(stripped)  # the text asking, not answering
        or stripped.count("--") >= 3  # a chapter synopsis: "Freud's case--Two ways of regarding Faust--..."
        or _SEE_ALSO.match(stripped) or _title_like(stripped)
        or any(mark in _without_page_marks(stripped) for mark in ("~", "|", "=", "{", "}"))  # Greek, markup, tables
        or _cut_inside_brackets(stripped) or _cut_at_abbreviated_title(stripped)
    )


def _without_page_marks(sentence: str) -> str:
    """The sentence without the page numbers inside it; one that opens with a mark is a footnote ("{16} I here
    reckon twenty-five drops...") and keeps it."""
    return sentence if sentence.startswith("{") else _PAGE_MARK.sub("", sentence)


def _cut_inside_brackets(sentence: str) -> bool:
    """A bracket opened and not closed: the splitter stopped inside a parenthesis, mostly at an abbreviation of a
    reference ("(_Jahrbuch für psychoanalyt. und psychopatholog._ Forschungen, Bd."), and the quote would read as
    cut off."""
    return sentence.count("(") > sentence.count(")") or sentence.count("[") > sentence.count("]")


# An italicised title abbreviated with a full stop ("Roscher's _Myth. Lex._"): the splitter ends a sentence inside it,
# so one piece ends on "_Myth." and the next begins "Lex._".
_ENDS_IN_TITLE = re.compile(r"_[A-Z][^\s_]{0,9}\.$")
_BEGINS_IN_TITLE = re.compile(r"^[A-Z][^\s_]{0,9}\._")


def _cut_at_abbreviated_title(sentence: str) -> bool:
    """A sentence cut inside an abbreviated title in italics: an italic mark left unpaired, and the cut next to it.
    An odd count alone is not enough: a dream Freud tells in italics runs over several whole sentences."""
    return sentence.count("_") % 2 == 1 and bool(_ENDS_IN_TITLE.search(sentence) or _BEGINS_IN_TITLE.match(sentence))


def _title_like(sentence: str) -> bool:
    """A heading or a subtitle run into the text ("Being the Gifford Lectures on Natural Religion Delivered at
    Edinburgh"): no closing punctuation and mostly capitalised words; or a short line of almost only capitals."""
    words = [w for w in re.findall(r"[^\W\d_]+", sentence) if len(w) > 3]
    capitals = sum(w[0].isupper() for w in words)
    if not sentence.rstrip("\"'”’)]_*").endswith((".", "!", "?")):
        return len(words) >= 2 and capitals >= 0.6 * len(words)
    # A title in a list of works ("A Study of a Severe Case of Compulsion Neurosis."): short and all capitals.
    return 2 <= len(words) <= 12 and capitals >= 0.8 * len(words)


def answer_type_match(sentence: str, kind: AnswerType, terms: list[str]) -> bool:
    """Whether a sentence carries the kind of answer asked for: a number, a date, a name, a reason..."""
    lowered = sentence.lower()
    if kind == "number":
        return bool(re.search(r"\d", sentence)) or any(w in _NUMBER_WORDS for w in re.findall(r"[a-z]+", lowered))
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "name":
        return bool(named_terms(sentence))
    if kind == "place":
        return bool(_PLACE.search(sentence))
    if kind == "reason":
        return bool(_REASON.search(sentence))
    if kind == "list":
        return sentence.count(",") + sentence.count(";") >= 2
    if kind == "definition":
        # The defined word with a copula after it: "The persona is ...", "Dromenon means ...".
        stems = [stem(t) for t in terms]
        words = re.findall(r"[\w'’\-]+", sentence)
        return any(stem(w) in stems and _DEFINES.search(" ".join(words[i + 1:i + 5]))
                   for i, w in enumerate(words))
    return False


def retrieve(retriever: Retriever, query: str, k: int, source_ids: frozenset[str] = frozenset(),
             filters: SearchFilters | None = None) -> list[Hit]:
    """The query's hits within the reader's `filters`, from `source_ids` when the question names those works (all
    sources if that finds nothing)."""
    filters = filters or SearchFilters()
    if source_ids:
        own = retriever.search(query, k=k, filters=filters.restricted_to(source_ids))
        if own:
            return own
    return retriever.search(query, k=k, filters=None if filters.is_empty() else filters)


@dataclass
class Candidate:
    """One sentence of a retrieved passage, located in the canonical text, with its scores."""

    hit: Hit
    start: int
    end: int
    text: str  # canonical text[start:end], verbatim
    cosine: float = 0.0
    passage_cosine: float = 0.0
    lexical: float = 0.0
    type_match: bool = False
    score: float = 0.0
    reader: float | None = None  # the reader's logit that it answers its part (None: not read)
    part: int = 0  # which part of the question it answers
    vector: np.ndarray | None = field(default=None, repr=False)

    @property
    def source_id(self) -> str:
        return self.hit.source.id

    def overlaps(self, other: Candidate) -> bool:
        """Whether the two share a character of the same source."""
        return self.source_id == other.source_id and self.start < other.end and other.start < self.end


_SPANS_CACHE: OrderedDict[str, tuple[tuple[int, int], ...]] = OrderedDict()
_SPANS_CACHE_SIZE = 8192
_SPANS_LOCK = threading.Lock()


# Front matter by someone other than the author: quoting it as the author's words would misattribute it.
_OTHER_HANDS = re.compile(r"translator|editor|transcriber|preparer|introduction by|with introduction|introduction to "
                          r"translation|preface by|with a preface", re.IGNORECASE)
# "Dudley Wright; intro by J. Fort Newton": the author field says who wrote the book's introduction or preface.
_CONTRIBUTED = re.compile(r"\b(intro|introduction|preface|foreword)\w* by\b", re.IGNORECASE)


def _author_surname(source: Source) -> str | None:
    """The surname of a source's personal author ("Sigmund Freud; transl. ..." -> "Freud"), or None for a body."""
    name = primary_author(source.author)
    return name.split()[-1] if is_personal_name(name) else None


# A list of works at the back of a book: its lines name books, they do not say anything (and a later editor adds to
# it: "[More recent works on Greek drama: A.W. PICKARD-CAMBRIDGE, ...]" in Harrison's). Not an index: the demo corpus
# prints Freud's footnotes after his.
_READING_LIST = re.compile(r"^\W*(?:bibliography|references|works cited|further reading)\W*$", re.IGNORECASE)


def in_a_reading_list(heading: str | None) -> bool:
    return heading is not None and _READING_LIST.match(heading) is not None


def by_the_author(source: Source, heading: str | None, sentence: str) -> bool:
    """Whether a sentence of a source can be quoted as its author's words: not under a heading that names another
    hand (a translator's preface, an editor's note), nor in a preface or introduction the author field credits to
    someone else, and not naming the author in the third person in the author's own book ("It is Freud's service
    to have investigated ..." is the translator speaking)."""
    if heading and _OTHER_HANDS.search(heading):
        return False
    contributed = {match.group(1).lower()[:5] for match in _CONTRIBUTED.finditer(source.author)}
    if heading and contributed and "AUTHOR" not in heading.upper() and any(
            part in heading.lower() for part in contributed):
        return False
    surname = _author_surname(source)
    return surname is None or re.search(rf"\b{re.escape(surname)}", sentence) is None


def quotable_spans(passage: Passage, text: str, source: Source,
                   headings: Callable[[], Sequence[tuple[int, str]]] = tuple) -> tuple[tuple[int, int], ...]:
    """The whole sentences of a passage worth quoting alone (filler left out), as spans of its source's text.
    The same passages come back answer after answer, so they are cached by passage id, which is a hash of the
    source's text and the passage's place in it: one id, one answer. `headings` reads the source's headings, only
    on a miss (the index reads them from storage)."""
    with _SPANS_LOCK:
        cached = _SPANS_CACHE.get(passage.id)
        if cached is not None:
            _SPANS_CACHE.move_to_end(passage.id)
            return cached
    known = headings()
    offsets = [offset for offset, _ in known]

    def heading_at(position: int) -> str | None:
        at = bisect.bisect_right(offsets, position) - 1
        return known[at][1] if at >= 0 else passage.heading

    sentences = passage_sentences(text, passage.start, passage.end)
    # A sentence pointing back takes the one before it along, when the passage holds that one and no paragraph
    # break falls between them; without it, it is not quoted at all.
    whole = [(sentences[i - 1][0], e) if points_back(text[s:e]) and i > 0 and "\n\n" not in text[sentences[i - 1][1]:s]
             else (s, e) for i, (s, e) in enumerate(sentences)]
    # A question the text asks and answers at once ("In the first place, what do we mean by prayer? Surely just this:
    # that part of our active and conscious life ...") is also quoted with its answer, which alone may not say what
    # it answers; the question alone is never quoted (is_filler).
    whole += [(s, after_end) for (s, e), (after_start, after_end) in pairwise(sentences)
              if asks(text[s:e]) and "\n\n" not in text[e:after_start] and not asks(text[after_start:after_end])]
    whole.sort()
    spans = tuple((s, e) for s, e in whole
                  if MIN_WORDS <= len(text[s:e].split()) <= MAX_WORDS and not is_filler(text[s:e])
                  and not points_back(text[s:e])  # a pointer with nothing before it to take along
                  and by_the_author(source, heading_at(s), text[s:e]) and not in_a_reading_list(heading_at(s)))
    with _SPANS_LOCK:
        _SPANS_CACHE[passage.id] = spans
        while len(_SPANS_CACHE) > _SPANS_CACHE_SIZE:
            _SPANS_CACHE.popitem(last=False)
    return spans


def candidate_sentences(hits: list[Hit], index: IndexReader, part: int = 0) -> list[Candidate]:
    """Whole sentences inside the retrieved passages, filler and other hands' words left out; a sentence shared by
    overlapping passages appears once."""
    cache: dict[str, list[tuple[int, str]]] = {}

    def headings(source_id: str) -> list[tuple[int, str]]:
        if source_id not in cache:
            cache[source_id] = index.source_headings(source_id)
        return cache[source_id]

    seen: set[tuple[str, int, int]] = set()
    found: list[Candidate] = []
    for hit in hits:
        passage = hit.passage
        text = index.source_text(passage.source_id)
        for start, end in quotable_spans(passage, text, hit.source, partial(headings, passage.source_id)):
            if (passage.source_id, start, end) in seen:
                continue
            seen.add((passage.source_id, start, end))
            found.append(Candidate(hit, start, end, text[start:end], part=part))
    return found


def known_vectors(stored: dict[str, StoredVectors]) -> dict[str, np.ndarray]:
    """Every stored sentence vector of these passages by unwrapped text, for the support scorer."""
    return {text: vector for vectors in stored.values() for text, vector in vectors.sentences.items()}


def score_candidates(question_vector: np.ndarray, terms: QuestionTerms, kind: AnswerType, candidates: list[Candidate],
                     stored: dict[str, StoredVectors], embed: Callable[[list[str]], np.ndarray]) -> list[Candidate]:
    """Scores the candidates against one part of the question; returns those that could be scored.
    `stored`: the hits' vectors from the index; `embed` embeds the few sentences the index holds no vector for."""
    passage_cosines = {pid: float(v.passage @ question_vector) for pid, v in stored.items()}
    meta_stems: dict[str, frozenset[str]] = {}
    unstored: list[Candidate] = []
    for candidate in candidates:
        source = candidate.hit.source
        if source.id not in meta_stems:
            meta_stems[source.id] = stems_of(f"{source.author} {source.title} {' '.join(source.aliases)}")
        candidate.passage_cosine = passage_cosines.get(candidate.hit.passage.id, 0.0)
        candidate.lexical = terms.coverage(stems_of(candidate.text) | meta_stems[source.id])
        candidate.type_match = answer_type_match(candidate.text, kind, terms.terms)
        vectors = stored.get(candidate.hit.passage.id)
        candidate.vector = vectors.sentences.get(unwrap(candidate.text)) if vectors else None
        if candidate.vector is None:
            unstored.append(candidate)
    # A sentence the index holds no vector for (one cut off by the model's window) is embedded now, at ~10 ms
    # each: the cheap parts of the score pick which of them are worth it.
    unstored.sort(key=lambda c: -(PASSAGE_WEIGHT * c.passage_cosine + LEXICAL_WEIGHT * c.lexical))
    embedded = unstored[:SHORTLIST]
    if embedded:
        for candidate, vector in zip(embedded, embed([unwrap(c.text) for c in embedded]), strict=True):
            candidate.vector = vector
    scored = [c for c in candidates if c.vector is not None]
    for candidate in scored:
        candidate.cosine = float(candidate.vector @ question_vector)
        candidate.score = (candidate.cosine + PASSAGE_WEIGHT * candidate.passage_cosine
                           + LEXICAL_WEIGHT * candidate.lexical + ANSWER_TYPE_WEIGHT * candidate.type_match)
    return scored


def read_candidates(reader, question: str, candidates: list[Candidate]) -> None:  # noqa: ANN001
    """The reader reads the candidates it has not read yet against the question and keeps its logit that each
    answers on the candidate (`reader`); scores stay the engine's."""
    unread = [c for c in candidates if c.reader is None]
    if unread:
        logits = reader.logits(question, [(c.text, c.hit.passage.heading) for c in unread])
        for candidate, logit in zip(unread, logits, strict=True):
            candidate.reader = float(logit)


def select_for_part(candidates: list[Candidate], limit: int, taken: list[Candidate], relative_floor: float = 0.25,
                    duplicate_cosine: float = 0.9, new_source_bonus: float = 0.05,
                    rank: Callable[[Candidate], float] | None = None) -> list[Candidate]:
    """Greedy pick for one part: best first by `rank` (default the score), skipping near-duplicates (also of quotes
    other parts took) and weak tails, nudging towards a second source."""
    if not candidates or limit <= 0:
        return []
    rank = rank or (lambda c: c.score)
    ranked = sorted(candidates, key=rank, reverse=True)
    floor = rank(ranked[0]) - relative_floor
    chosen: list[Candidate] = []
    pool = [c for c in ranked if rank(c) >= floor]
    while pool and len(chosen) < limit:
        sources = {c.source_id for c in chosen}
        best = max(pool, key=lambda c: rank(c) + (new_source_bonus if chosen and c.source_id not in sources else 0))
        pool.remove(best)
        if any(_near_duplicate(best, c, duplicate_cosine) for c in (*taken, *chosen)):
            continue
        chosen.append(best)
    return chosen


def _near_duplicate(a: Candidate, b: Candidate, threshold: float) -> bool:
    """Whether `a` would only repeat `b`: the same span or words, or (from another work) a vector that close.
    A sentence's stored vector is pooled from its passage, so two different sentences of one passage lie close
    ("Nero sought admission..." and "Antoninus, when he would purge himself..." at 0.90): within a work only the
    text decides."""
    if a.overlaps(b) or unwrap(a.text).casefold() == unwrap(b.text).casefold():
        return True
    if a.source_id == b.source_id:
        return False
    return a.vector is not None and b.vector is not None and float(a.vector @ b.vector) >= threshold


def reading_order(chosen: list[Candidate], directness: Callable[[Candidate], float] | None = None
                  ) -> list[Candidate]:
    """The most direct answer first (by `directness`, default the score); then the rest grouped by source in order
    of their best sentence, each source's sentences in the author's order."""
    if not chosen:
        return []
    lead = max(chosen, key=directness or (lambda c: c.score))
    best: dict[str, Candidate] = {}
    for c in chosen:
        if c is not lead and (c.source_id not in best or c.score > best[c.source_id].score):
            best[c.source_id] = c
    order = [lead.source_id] + sorted((sid for sid in best if sid != lead.source_id), key=lambda sid: -best[sid].score)
    rest = [c for sid in order for c in sorted((c for c in chosen if c.source_id == sid and c is not lead),
                                                key=lambda c: c.start)]
    return [lead, *rest]

