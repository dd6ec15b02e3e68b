"""What a question asks: its parts, the works and authors it names (or names but the corpus lacks), and the kind of
answer each part wants. Plain rules over the question's words and the sources' metadata, no model."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from citewise.answers.offline.spelling import Respelling
from citewise.core.text import content_terms, fold, primary_author, query_terms, stem
from citewise.core.types import Source

AnswerType = Literal["number", "date", "name", "place", "definition", "reason", "list", "yes-no", "description"]

_WH = (r"what|how|why|when|where|who|whom|whose|which|does|do|did|is|are|was|were|can|could|should|would|has|have|"
       r"had|will|in what|on what|at what|to what|for what|and what")
# ", and how ...", " and why ...", "; what ...": a second question joined to the first.
_CLAUSE_JOIN = re.compile(rf"(?:,\s*|\s*;\s*|\s+)(?:and|but|or)\s+(?=(?:{_WH})\b)|\s*;\s*(?=(?:{_WH})\b)",
                          re.IGNORECASE)
_SENTENCE = re.compile(r"[^.?!]+(?:[.?!]+|$)")
_LEANS = frozenset((
    "it", "its", "they", "them", "their", "theirs", "this", "that", "these", "those", "he", "him",
    "his", "she", "her", "hers", "such", "there", "then",
))
_COMPARE = re.compile(r"\b(?:compared? (?:with|to)|differ(?:s|ed)? from|different from|versus|vs\.?|as against)\b",
                      re.IGNORECASE)
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], AnswerType], ...] = (
    (re.compile(r"\b(?:how (?:many|much|long|old|large|big|often|far|soon)|what (?:percentage|proportion|dose|"
                r"number|amount)|at what rate)\b", re.I), "number"),
    (re.compile(r"\b(?:when|what year|which year|in what year|what date|on which days?|what time of year|"
                r"what century)\b", re.I), "date"),
    (re.compile(r"\b(?:who|whom|whose|which (?:man|woman|person|god|goddess|author|company|bible story)|"
                r"what (?:is|are|were|was) (?:the |its |their )?(?:other |street |brand )?names?)\b", re.I), "name"),
    (re.compile(r"\b(?:where|in what place|which (?:place|city|country|river))\b", re.I), "place"),
    (re.compile(r"\bwhy\b|\bwhat (?:made|makes|drew|caused)\b|\bfor what reason\b", re.I), "reason"),
    (re.compile(r"\b(?:what (?:kinds?|types?|sorts?|stages|steps|symptoms|groups)|which (?:kinds?|types?|"
                r"rites|drugs|medications|symptoms)|list)\b", re.I), "list"),
    (re.compile(r"\b(?:what (?:is|are|was|were) (?:an? |the )?|what does .{1,40} mean|define|meaning of|"
                r"what do(?:es)? .{1,30} mean)", re.I), "definition"),
    (re.compile(r"^\s*(?:is|are|was|were|does|do|did|can|could|should|would|has|have|had|will)\b", re.I), "yes-no"),
)
# Words that may join a title's capitalised words ("The Body Keeps the Score", "How to Change Your Mind").
_TITLE_GLUE = frozenset((
    "a", "an", "and", "the", "of", "to", "for", "its", "your", "our", "my", "his", "her", "their",
    "with", "van", "der", "de", "von", "la", "le", "du", "di",
))
_NAME_PARTICLES = frozenset((
    "van", "der", "de", "von", "la", "le", "du", "di",
))
_SPEAKER_VERB = re.compile(r"\b(?:say|says|said|write|writes|wrote|written|argue|argues|argued|claim|claims|"
                           r"conclude|concluded|concludes|report|reported|reports|describe|describes|described|"
                           r"recommend|recommends|think|thinks|thought|mean|means|believe|believes|give|gives|"
                           r"gave|explain|explains|explained|define|defines|defined|see|sees|saw|view|views|"
                           r"treat|treats|interpret|interprets|date|dates|dated)\b", re.I)
# A part that asks for two or more named sources side by side.
_COMPARE_CUE = re.compile(r"\b(?:compare|comparison|differ|differs|difference|different|each|both|versus|vs)\b",
                          re.IGNORECASE)


@dataclass(frozen=True)
class QuestionPart:
    text: str  # the part as asked
    query: str  # what to search for: the part, with the subject it leans on
    answer_type: AnswerType
    source_ids: frozenset[str] = frozenset()  # works it names (retrieval keeps to them)
    heading: bool = True  # its text heads its paragraph; not for one side of a comparison, which its source names


@dataclass(frozen=True)
class QuestionPlan:
    question: str
    parts: tuple[QuestionPart, ...]
    named_sources: frozenset[str] = frozenset()
    missing: tuple[str, ...] = ()  # works or authors the question asks about that no source is or quotes
    terms: tuple[str, ...] = field(default=())  # content terms of the whole question
    follow_up: str = ""  # what a follow-up leans on from the earlier question (searched with each part)
    respelt: tuple[Respelling, ...] = ()  # words read in the sources' spelling before planning (spelling.py)


_FIRST_WH = re.compile(r"\b(?:what|how|why|when|where|who|whom|whose|which|is|are|was|were|does|do|did|can|could|"
                       r"should|would|has|have|had|will|define|list|compare|describe|explain|tell)\b", re.I)


def answer_type(text: str) -> AnswerType:
    """The kind of answer a part wants, read from its question word on ("In Harrison's account, what exactly
    changes when ..." asks for a description, not a date)."""
    head = _FIRST_WH.search(text)
    asked = text[head.start():] if head else text
    for pattern, kind in _ANSWER_TYPES:
        match = pattern.search(asked)
        if match and (kind == "yes-no" or match.start() == 0 or kind in ("number", "list", "definition")):
            return kind
    return "description"


@dataclass(frozen=True)
class Clause:
    context: str  # a statement before the question that the clause leans on ("Freud talks about X.")
    text: str
    joined: bool = False  # joined to the clause before it in the same sentence ("..., and how long ...?")


def split_parts(question: str) -> list[Clause]:
    """The question's sub-questions, each with the statement it leans on.

    Sentences that are not questions ("Freud talks about a 'latency period'.") become context for the next one;
    a question sentence is split where a conjunction starts a new clause with a question word
    ("What is X, and how does it differ from Y?").
    """
    sentences = [s.strip() for s in _SENTENCE.findall(question) if s.strip()]
    pairs: list[Clause] = []
    context: list[str] = []
    for sentence in sentences:
        is_question = sentence.endswith("?") or re.match(r"(?i)^(?:compare|describe|explain|tell|list|name)\b",
                                                         sentence)
        if not is_question:
            context.append(sentence)
            continue
        clauses = [c.strip(" ,;") for c in _CLAUSE_JOIN.split(sentence) if c and c.strip(" ,;?")]
        for number, clause in enumerate(clauses):
            pairs.append(Clause(" ".join(context), clause, joined=number > 0))
        context = []
    if context:  # a question that is all statement ("Tell me about X."), or a trailing statement
        if pairs:
            last = pairs[-1]
            pairs[-1] = Clause(last.context, f"{last.text} {' '.join(context)}", last.joined)
        else:
            pairs.append(Clause("", " ".join(context)))
    return pairs


# A word this rare names a subject of its own ("ecstasy"); "men" or "worked" do not. Rarity is a word's inverse
# document frequency as a share of the largest one possible, so it means the same in a small index and a large one.
SPECIFIC_RARITY = 0.45


def _leans(text: str, joined: bool, rarity: Callable[[str], float] | None) -> bool:
    """Whether a part needs the part before it to be understood: it has a pronoun ("what did he cut it down to?"),
    almost no content words, or it was joined to it by a conjunction and names no subject of its own ("..., and how
    long had the two men worked together?")."""
    words = {w.lower() for w in re.findall(r"[A-Za-z']+", text)}
    terms = content_terms(text)
    if words & _LEANS or len(terms) <= 2:
        return True
    return joined and (rarity is None or max(rarity(t) for t in terms) < SPECIFIC_RARITY)


def _norm(text: str) -> str:
    return " ".join(fold(w) for w in re.findall(r"[\w'’]+", text))


class SourceNames:
    """The names by which a question can name a source: its author's surname, its title (whole, before a colon or
    parenthesis, without a leading article) and its aliases."""

    def __init__(self, sources: Mapping[str, Source]) -> None:
        self.by_phrase: dict[str, set[str]] = {}
        self.by_surname: dict[str, set[str]] = {}
        self.author_of = {source.id: source.author.split(";")[0].strip() for source in sources.values()}
        self.given_names: dict[str, set[str]] = {}  # surname stem -> the given names (or initials) it goes with
        for source in sources.values():
            for phrase in _title_names(source):
                self.by_phrase.setdefault(_norm(phrase), set()).add(source.id)
            for given, surname in _persons(source.author):
                self.by_surname.setdefault(stem(surname), set()).add(source.id)
                self.given_names.setdefault(stem(surname), set()).update(given)

    def named_in(self, text: str, speakers_only: bool = False) -> frozenset[str]:
        """Sources `text` names by title, alias or author surname. With `speakers_only`, an author counts only when
        the text asks for their words ("according to Wright", "Jung's persona", "what does Freud say") and not when
        it asks about them ("Why is William James regarded as a founder?")."""
        normal = f" {_norm(text)} "
        found: set[str] = set()
        for phrase, ids in self.by_phrase.items():
            if phrase and f" {phrase} " in normal:
                found |= ids
        for match in re.finditer(r"\b[A-Z][\w'’\-]+", text):
            ids = self.by_surname.get(stem(match.group(0).removesuffix("'s").removesuffix("’s")), set())
            if ids and (not speakers_only or speaks(text, match.start(), match.end())):
                found |= ids
        return frozenset(found)

    def without_titles(self, text: str) -> str:
        """`text` with the titles and aliases it names taken out ("the 'Day of Blood' in The Golden Bough" -> "the
        'Day of Blood' in"): once retrieval keeps to a work, its title's words only add noise."""
        out = text
        for phrase in sorted(self.by_phrase, key=len, reverse=True):
            if len(phrase) > 3:
                out = re.sub(r"(?i)(?:\bthe\s+)?\b" + r"\W+".join(map(re.escape, phrase.split())) + r"\b(?:[’']s)?",
                             " ", out)
        return " ".join(out.split())

    def by_author(self, source_ids: frozenset[str], text: str = "") -> list[frozenset[str]]:
        """The sources grouped by author, in the order `text` names the authors (then a stable order)."""
        groups: dict[str, set[str]] = {}
        for source_id in sorted(source_ids):
            groups.setdefault(self.author_of.get(source_id, source_id), set()).add(source_id)

        def named_at(author: str) -> int:
            places = [match.start() for _, surname in _persons(author)
                      for match in re.finditer(rf"\b{re.escape(surname)}", text)]
            return min(places, default=len(text))

        return [frozenset(groups[author]) for author in sorted(groups, key=named_at)]

    def is_title(self, name: str) -> bool:
        """Whether `name` is (part of) a source's title or alias, or holds one."""
        normal = _norm(name)
        return any(normal in phrase or phrase in normal for phrase in self.by_phrase if len(phrase) > 3)

    def is_author(self, name: str) -> bool:
        """Whether `name` is a source's author: the surname matches and the given name, if any, agrees with the
        author's given names or initials ("Carl Jung" is C. G. Jung; "Anna Freud" is not Sigmund Freud)."""
        words = [w for w in name.split() if w.lower() not in _NAME_PARTICLES]
        if not words or stem(words[-1]) not in self.by_surname:
            return False
        given = [w for w in words[:-1] if w[:1].isupper()]
        if not given:
            return True
        known = self.given_names.get(stem(words[-1]), set())
        return any(g.lower() in known or g[0].lower() in known for g in given[:1])


def _title_names(source: Source) -> Iterable[str]:
    title = source.title
    yield title
    short = re.split(r"[:(]", title)[0].strip()
    yield short
    for candidate in (title, short):
        stripped = re.sub(r"(?i)^(?:the|a|an)\s+", "", candidate)
        yield stripped
    yield from source.aliases
    for alias in source.aliases:
        yield re.sub(r"(?i)^(?:the|a|an)\s+", "", alias)


def _persons(author: str) -> list[tuple[set[str], str]]:
    """(given names and initials, surname) of the persons in an author field ("C. G. Jung; transl. Beatrice M.
    Hinkle" -> ({"c", "g"}, "Jung")): before the first semicolon only, since translators did not write the work."""
    first = primary_author(author)
    persons = []
    for name in (part.strip() for part in re.split(r"\s+and\s+|/|,", first) if part.strip()):
        words = name.split()
        surname = [w for w in words if w[:1].isupper() and not w.endswith(".")]
        if surname and len(words) <= 5:
            given = {w.rstrip(".").lower() for w in words[:-1]} | {w[0].lower() for w in words[:-1]}
            persons.append((given, surname[-1]))
    return persons


# A name joined to the next by "and", "or" or a comma ("Jung and Freud", "James, Underhill and Inge").
_JOINED_BEFORE = re.compile(r"([A-Z][\w'’\-]+)\s*(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+)$")
_DIFFER = re.compile(r"\b(?:differ|differs|disagree|disagrees|agree|agrees|compare|contrast)\b", re.IGNORECASE)
_JOINED_AFTER = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+)([A-Z][\w'’\-]+)")


def speaks(text: str, start: int, end: int) -> bool:
    """Whether the name at text[start:end] is the one whose words the text asks for: possessive, after "according
    to" or "does/did", or followed closely by a verb of saying or thinking. Names joined by "and" speak together
    when the verb after them is one of saying or of differing ("How do Jung and Freud differ", "what do James and
    Underhill say"), not when they did something ("did Breuer and Freud first publish")."""
    if _speaks_alone(text, start, end):
        return True
    joined = _joined_names(text, start, end)
    if not joined:
        return False
    run = [(start, end), *joined]
    first, last = min(s for s, _ in run), max(e for _, e in run)
    after = text[last:last + 40]
    return bool(_SPEAKER_VERB.search(after) or _DIFFER.search(after)
                or re.search(r"(?i)according to\s+$", text[:first]))


def _joined_names(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of the names joined to text[start:end] in a run of "X, Y and Z", on both sides."""
    spans = []
    position = start
    while (before := _JOINED_BEFORE.search(text[:position])) is not None:
        spans.append(before.span(1))
        position = before.start(1)
    position = end
    while (after := _JOINED_AFTER.match(text[position:])) is not None:
        spans.append((position + after.start(1), position + after.end(1)))
        position += after.end(1)
    return spans


def _speaks_alone(text: str, start: int, end: int) -> bool:
    before, after = text[:start], text[end:]
    possessive = text[start:end].endswith(("'s", "’s")) or after.startswith(("'s", "’s"))  # "with Rohde's?"
    return bool(possessive or re.search(r"(?i)(?:according to|does|did|do|as)\s+$", before)
                or _SPEAKER_VERB.search(after[:40]) or re.match(r"\s*\(\d{4}\)", after))


def _name_runs(text: str) -> list[str]:
    """Runs of capitalised words that may be a person's or a work's name: two or more capitalised words, with title
    glue words between them ("Joseph Campbell", "The Body Keeps the Score", "Civilization and Its Discontents")."""
    # A quotation mark is a token of its own, not part of the word it touches: "'There Is a Solution'" is a run of
    # four words, where "'There" would not start one and "Solution'" would end it with the mark.
    tokens = re.findall(r"\w[\w/\-]*(?:['’]\w+)*|[^\w\s]", text)
    runs: list[list[str]] = []
    current: list[str] = []
    for i, token in enumerate(tokens):
        bare = token.removesuffix("'s").removesuffix("’s")
        starts_sentence = i == 0 or tokens[i - 1] in (".", "?", "!")
        if bare[:1].isupper() and not (starts_sentence and not current):
            current.append(bare)
            if bare != token:  # a possessive ends the name
                runs.append(current)
                current = []
        elif current and token.lower() in _TITLE_GLUE:
            current.append(token)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    names = []
    for run in runs:
        while run and run[-1].lower() in _TITLE_GLUE:
            run = run[:-1]
        capitals = [w for w in run if w[:1].isupper()]
        if len(capitals) >= 2:
            names.append(" ".join(run))
    return names


def asked_about_names(question: str) -> list[tuple[str, bool]]:
    """(name, is a work) for the works or persons whose own words the question asks for: a name run the question
    makes the speaker ("what did Stanislav Grof conclude", "Joseph Campbell's monomyth", "according to ...") or the
    place of the words ("in The Doors of Perception"). A run with title glue ("The Body Keeps the Score") or put
    after "in"/"from" or after a possessive name is a work; a plain run of capitalised words is a person."""
    found: list[tuple[str, bool]] = []
    for run in _name_runs(question):
        at = question.find(run)
        before, after = question[:at], question[at + len(run):]
        possessive = after.startswith(("'s", "’s"))
        in_work = re.search(r"(?i)\b(?:in|from)\s+$", before) is not None
        after_owner = re.search(r"[’']s\s+$", before) is not None
        # The verb that makes the name a speaker is in the name's own clause: in "... comparing the Eleusinian
        # Mysteries with Freemasonry? What likeness does he see?" the next question's "see" is not one, nor is
        # "think" in "What's the 'Konx Ompax' formula, and does Wright think ...".
        clause = re.split(r"[.?!,;]", after[:60], maxsplit=1)[0]
        speaker = _SPEAKER_VERB.search(clause) is not None or re.search(r"(?i)according to\s+$", before)
        if not (possessive or in_work or after_owner or speaker):
            continue
        for name in _split_pair(run):
            words = name.split()
            glued = any(w.lower() in _TITLE_GLUE - _NAME_PARTICLES for w in words) or words[0] in ("The", "A", "An")
            found.append((name, (glued or after_owner) and not possessive))
    return found


def _before_source_author(name: str, names: SourceNames) -> str | None:
    """What a name run says before a source's author at its end, when the run is not one name: the author follows
    "with" or two capitalised words ("the empty house on Greek Street in Soho with De Quincey" -> "Soho"; "the
    Australian Aborigines Freud describes" -> "Australian Aborigines"). None otherwise: "Anna Freud" is not Freud."""
    words = name.split()
    for cut in range(1, len(words)):
        tail, head = words[cut:], words[:cut]
        if not tail[0][:1].isupper() or len(tail) > 3 or not names.is_author(" ".join(tail)):
            continue
        if head[-1].lower() == "with" and len(head) > 1:
            return " ".join(head[:-1])
        if len(head) >= 2 and head[-1].lower() not in _TITLE_GLUE:
            return " ".join(head)
    return None


def _split_pair(run: str) -> list[str]:
    """"Homeric Hymn and Wright" names two things; "Civilization and Its Discontents" one (glue after "and")."""
    left, sep, right = run.partition(" and ")
    if sep and right[:1].isupper() and right.split()[0].lower() not in _TITLE_GLUE:
        return [left, right]
    return [run]


def subject_of(text: str, rarity: Callable[[str], float], names: SourceNames, count: int = 2) -> str:
    """What a part is about, for the part after it to lean on: the phrases it quotes ("the 'Day of Blood'"), else
    its rarest words other than the names of works ("What is MDMA-assisted therapy for PTSD?" -> "mdma ptsd"), so
    that "how is it different from recreational use?" searches for recreational MDMA use, not the therapy again."""
    quoted = re.findall(r"['‘“\"]([^'’”\"]{3,60})['’”\"]", text)
    if quoted:
        return " ".join(quoted)
    words = list(dict.fromkeys(query_terms(names.without_titles(text))))
    return " ".join(sorted(words, key=lambda w: -rarity(w))[:count])


def with_follow_up(text: str, follow_up: str) -> str:
    """`text` with what a follow-up leans on in brackets after it, as every part of a follow-up is searched and read."""
    return f"{text} ({follow_up})" if follow_up else text


def plan_question(question: str, names: SourceNames, mentioned: Callable[[str, bool], bool],
                  rarity: Callable[[str], float] | None = None, follow_up: str = "") -> QuestionPlan:
    """The question's parts and named works. `mentioned(name, is_work)` says whether the corpus's text names a person
    or a work (one quoted inside a source is not absent); `rarity(word)` how rare a word is in it (0 in every
    passage .. 1 in none). `follow_up`: what a follow-up leans on (conversation.follow_up_context), searched with
    every part of it, not only the last, and kept out of the parts' titles."""
    asked = question
    if follow_up:
        question = with_follow_up(question.strip(), follow_up)
    named_sources = names.named_in(question, speakers_only=True)

    def named(name: str, is_work: bool) -> bool:
        return names.is_title(name) or names.is_author(name) or mentioned(name, is_work)

    missing = tuple(name for name, is_work in asked_about_names(question)
                    if not named(name, is_work)
                    and not ((rest := _before_source_author(name, names)) and named(rest, is_work)))
    parts: list[QuestionPart] = []
    previous: QuestionPart | None = None
    for clause in split_parts(asked):
        context, text = clause.context, clause.text
        # A clause joined to the one before ("..., and how long had the two men worked together?") is about the
        # same subject even without a pronoun.
        leans = previous is not None and _leans(text, clause.joined, rarity)
        # "how is it different from recreational use?": what is new is the far side of the comparison, searched
        # with the subject it leans on; any other part that leans on the one before is searched with it.
        halves = _COMPARE.split(text, maxsplit=1) if leans else []
        if len(halves) == 2 and content_terms(halves[1]) and previous is not None:
            query = f"{subject_of(previous.text, rarity, names) if rarity else previous.text} {halves[1].strip()}"
        elif context:
            query = f"{context} {text}"
        elif leans and previous is not None:
            query = f"{previous.text} {text}"
        else:
            query = text
        query = with_follow_up(query, follow_up)
        sources = names.named_in(with_follow_up(f"{context} {text}", follow_up), speakers_only=True)
        if not sources and leans and previous is not None:
            sources = previous.source_ids
        part = QuestionPart(text=text, query=query, answer_type=answer_type(text), source_ids=sources)
        parts.append(part)
        previous = part
    if not parts:
        parts.append(QuestionPart(question, question, answer_type(question), named_sources))
    return QuestionPlan(question, tuple(_split_comparisons(parts, names, follow_up)), named_sources, missing,
                        tuple(content_terms(question)), follow_up)


def _split_comparisons(parts: list[QuestionPart], names: SourceNames, follow_up: str = "") -> list[QuestionPart]:
    """A part that compares sides, each naming its own sources ("How does X compare with Y?", "Compare what
    MedlinePlus and the Wikipedia article say about ..."), becomes one part per side, so each side gets its own
    evidence and its own paragraph."""
    out: list[QuestionPart] = []
    for part in parts:
        halves = _COMPARE.split(part.text, maxsplit=1)
        if len(halves) == 2:
            left, right = (names.named_in(half) for half in halves)
            if left and left != right:
                out.append(QuestionPart(part.text, with_follow_up(halves[0], follow_up), part.answer_type, left,
                                        heading=False))
                out.append(QuestionPart(part.text, with_follow_up(halves[1], follow_up), part.answer_type, right,
                                        heading=False))
                continue
        groups = names.by_author(part.source_ids, part.text)
        if len(groups) >= 2 and _COMPARE_CUE.search(part.text):
            out += [QuestionPart(part.text, part.query, part.answer_type, ids, heading=False) for ids in groups]
            continue
        out.append(part)
    return out
