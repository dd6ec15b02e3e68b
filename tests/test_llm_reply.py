"""Reading a model's reply claim by claim, numbering the candidate sentences and fitting the prompt to a window:
no model, no index."""

from __future__ import annotations

import json

import pytest

from citewise.answers.llm.claims import clean_lead, repeats
from citewise.answers.llm.context import ContextTooSmall, messages_tokens, plan_prompt
from citewise.answers.llm.protocol import answer_messages, claims_schema, number_sentences
from citewise.answers.llm.reply import ClaimScanner, ReplyError, normalise_id, parse_reply
from citewise.answers.offline.evidence import Candidate
from citewise.core.retrieval import Hit
from citewise.core.sentences import sentence_spans
from citewise.core.types import Passage, Source

pytestmark = pytest.mark.unit
IDS = ("S1.1", "S1.2", "S2.1")


def claim(cite: object, text: str = "t") -> dict:
    return {"cite": cite, "text": text}


def test_each_claim_is_read_the_moment_its_closing_brace_arrives():
    reply = json.dumps({"claims": [claim(["S1.1"], "first"), claim(["S2.1", "S1.2"], "second")], "refuse": False})
    scanner = ClaimScanner(IDS)
    seen = []
    for i, ch in enumerate(reply):
        for found in scanner.feed(ch):
            seen.append((i, found.text, found.cites))
    closing = [i for i, ch in enumerate(reply) if ch == "}"][:2]
    assert seen == [(closing[0], "first", ("S1.1",)), (closing[1], "second", ("S2.1", "S1.2"))]
    assert scanner.finish().claims == scanner.claims


def test_ids_not_given_are_dropped_and_counted():
    reply = parse_reply(json.dumps({"claims": [claim(["S1.1", "S9.9", "S1.1"]), claim("S7.1"), claim(["P3"])]}), IDS)
    assert [(c.cites, c.unknown) for c in reply.claims] == [(("S1.1",), 1), ((), 1), ((), 1)]
    # What a model without a schema writes for an id it was given.
    assert [normalise_id(v) for v in ("S1.2", "[s1.2]", " 1.2 ", "S01.2", "S3", 4)] == \
        ["S1.2", "S1.2", "S1.2", "S1.2", "S3", "4"]
    assert parse_reply('{"claims": [{"cite": "S1.1, [S2.1]", "text": "t"}]}', IDS).claims[0].cites == ("S1.1", "S2.1")


def test_prose_fences_breakage_and_cut_offs_keep_every_well_formed_claim():
    stray_mark = '{"cite": ["S1.2"], "text": "t"wo"}'
    broken_middle = ('Sure!\n```json\n{"claims": [' + json.dumps(claim(["S1.1"], "one")) + f", {stray_mark}, "
                     + json.dumps(claim(["S2.1"], "three")) + "]}\n```\nHope this helps.")
    assert [c.text for c in parse_reply(broken_middle, IDS).claims] == ["one", "three"]
    cut = '{"claims": [' + json.dumps(claim(["S1.1"], "one")) + ', {"cite": ["S1.2"], "text": "half a sen'
    assert [c.text for c in parse_reply(cut, IDS).claims] == ["one"]
    raw_newline = '{"claims": [{"cite": ["S1.1"], "text": "line one\nline two"}]}'
    assert parse_reply(raw_newline, IDS).claims[0].text == "line one\nline two"


def test_a_declining_or_refusing_reply_is_read_as_such():
    assert parse_reply('{"claims": [], "refuse": false}', IDS).claims == []
    assert parse_reply('Here: {"claims": [], "refuse": true} done', IDS).refuse
    for bad in ("", "no json", "[1, 2]", '{"claims": "none"}', '{"answer": "x"}', '{"claims": [{"cite": ["S1.1"}]}'):
        with pytest.raises(ReplyError):
            parse_reply(bad, IDS)


def test_a_model_looping_inside_a_string_is_noticed():
    scanner = ClaimScanner(IDS, max_object_chars=200)
    scanner.feed('{"claims": [{"cite": ["S1.1"], "text": "')
    assert not scanner.runaway
    scanner.feed("again and " * 30)
    assert scanner.runaway


def test_the_models_own_sentence_is_shown_only_when_clean():
    assert clean_lead("James names four marks [S1.2].") == "James names four marks."
    assert clean_lead('James says "mysticism is pure madness" here.') is None
    assert clean_lead("  ") is None and clean_lead("x" * 500) is None
    assert clean_lead('He calls it "noetic".') == 'He calls it "noetic".'  # one quoted word is a term, not a quote
    assert clean_lead("The dangers of ecstasy are...") is None  # trailing off
    assert clean_lead("Ecstasy raises the heart rate. It also dehydrates.") is None  # more than one sentence
    assert clean_lead("word " * 40) is None  # cut off by the schema's maxLength, mid-sentence
    quoted = "The only requirement for membership is an honest desire to stop drinking."
    assert repeats("The only requirement for membership is an honest desire to stop drinking", quoted)
    assert not repeats("Members need only want to stop drinking.", quoted)


TEXT = ("Heading line. The kykeon was a drink of barley meal, water and pennyroyal. It was drunk after a fast. "
        "The initiates walked from Athens to Eleusis in a long procession. But nobody wrote down what they saw. "
        "Another source says something else entirely about the rites. ")


def _source(n: int) -> Source:
    return Source(id=f"s{n}", file=f"f{n}.txt", title=f"Title {n}", author=f"Author {n}", year=1900, licence="",
                  origin="", file_sha256="", chars=len(TEXT))


def candidates(text: str = TEXT) -> list[Candidate]:
    """The text's sentences as candidates of two sources (alternating), in rank order."""
    found = []
    for k, (start, end) in enumerate(sentence_spans(text)):
        source = _source(1 + k % 2)
        passage = Passage(id=f"p{source.id}", source_id=source.id, ordinal=0, start=0, end=len(text), text=text,
                          tokens=40)
        found.append(Candidate(Hit(passage, source, 1.0), start, end, text[start:end]))
    return found


def test_sentences_are_numbered_by_source_with_context_only_where_they_lean_back():
    chosen = candidates()
    numbered = number_sentences(chosen, lambda source_id: TEXT)
    # Sources in order of their best sentence, each source's sentences best first.
    assert [(s.id, s.candidate.source_id) for s in numbered] == [
        ("S1.1", "s1"), ("S1.2", "s1"), ("S1.3", "s1"), ("S2.1", "s2"), ("S2.2", "s2"), ("S2.3", "s2")]
    # Context only before a sentence that leans on the one before it, never reaching into a sentence shown.
    assert [s.context for s in numbered] == [
        "", "...The kykeon was a drink of barley meal, water and pennyroyal.",
        "...The initiates walked from Athens to Eleusis in a long procession.", "", "", ""]
    schema = claims_schema(3, [s.id for s in numbered])
    cite = schema["properties"]["claims"]["items"]["properties"]["cite"]
    assert cite["items"]["enum"] == [s.id for s in numbered] and cite["maxItems"] == 2
    assert schema["properties"]["claims"]["items"]["properties"]["text"]["maxLength"] == 160
    # One system prompt for every question (a prefix the server's prompt cache keeps); each request's own tag and
    # sentences come in the user's message.
    first, second = answer_messages("Why?", numbered, 3), answer_messages("How?", numbered[:2], 3)
    assert first[0] == second[0] and "Why?" not in first[0]["content"]
    tag = first[1]["content"].split('id="S1"')[0].rsplit("<", 1)[1].strip()
    assert f"opening with <{tag} ...>" in first[1]["content"] and tag not in second[1]["content"]
    # The tag comes from what is shown, not from chance: the same question over the same sentences is the same
    # prompt (greedy decoding then gives the same answer), and another sentence shown changes it.
    assert answer_messages("Why?", numbered, 3) == first
    assert tag not in answer_messages("Why?", numbered[1:], 3)[1]["content"]
    assert list(schema["properties"]["claims"]["items"]["properties"]) == ["cite", "text"]  # chosen, then written


class WordCounter:
    def count(self, text: str) -> int:
        return len(text.split())


def test_the_prompt_takes_fewer_sentences_as_the_window_shrinks():
    long_text = " ".join(f"Sentence number {i} of this passage says something rather long about the rites of the "
                         f"goddess." for i in range(40))
    chosen = candidates(long_text)
    counter = WordCounter()
    shown = {}
    for window in (4000, 900, 600):
        plan = plan_prompt("Why?", chosen, lambda source_id: long_text, counter, context_tokens=window,
                           max_tokens=300, max_sentences=30, max_claims=3)
        assert plan.prompt_tokens == messages_tokens(plan.messages, counter)
        assert plan.prompt_tokens + plan.max_tokens <= window
        shown[window] = plan.sentences
        # Whatever was left out, the ids run without gaps, and the best sentences are the ones kept.
        assert {s.candidate.start for s in plan.sentences} == {c.start for c in chosen[:len(plan.sentences)]}
        assert plan.ids == [f"S{b}.{k}" for b in (1, 2) for k in range(1, 1 + sum(
            s.id.startswith(f"S{b}.") for s in plan.sentences))]
    assert len(shown[4000]) == 30 > len(shown[900]) > len(shown[600]) >= 1
    with pytest.raises(ContextTooSmall):
        plan_prompt("Why?", chosen, lambda source_id: long_text, counter, context_tokens=300, max_tokens=300,
                    max_sentences=6, max_claims=3)
