"""Reading a model's reply claim by claim, and fitting the prompt to a window: no model, no index."""

from __future__ import annotations

import json

import pytest

from citewise.answers.llm.claims import clean_lead
from citewise.answers.llm.context import ContextTooSmall, messages_tokens, plan_prompt
from citewise.answers.llm.reply import ClaimScanner, ReplyError, parse_reply, passage_id_for
from citewise.core.retrieval import Hit
from citewise.core.types import Passage, Source

pytestmark = pytest.mark.unit


def _hit(n: int, text: str = "0123456789") -> Hit:
    source = Source(id=f"s{n}", file=f"f{n}.txt", title="T", author="A", year=1900, licence="", origin="",
                    file_sha256="", chars=len(text))
    return Hit(Passage(id=f"p{n}", source_id=source.id, ordinal=0, start=0, end=len(text), text=text, tokens=3),
               source, 1.0)


HITS = [_hit(1), _hit(2), _hit(3)]


def claim(passage: object, quote: str, text: str = "t") -> dict:
    return {"passage": passage, "quote": quote, "text": text}


def test_each_claim_is_read_the_moment_its_closing_brace_arrives():
    reply = json.dumps({"claims": [claim(1, "first"), claim(2, "second")]})
    scanner = ClaimScanner(HITS)
    seen = []
    for i, ch in enumerate(reply):
        for found in scanner.feed(ch):
            seen.append((i, found.quote, found.passage_id))
    closing = [i for i, ch in enumerate(reply) if ch == "}"][:2]
    assert seen == [(closing[0], "first", "p1"), (closing[1], "second", "p2")]
    assert scanner.finish().claims == [c for c in scanner.claims]


def test_prose_fences_breakage_and_cut_offs_keep_every_well_formed_claim():
    stray_mark = '{"passage": 2, "quote": "t"wo"}'
    broken_middle = ('Sure!\n```json\n{"claims": [' + json.dumps(claim(1, "one")) + f", {stray_mark}, "
                     + json.dumps(claim(3, "three")) + "]}\n```\nHope this helps.")
    assert [c.quote for c in parse_reply(broken_middle, HITS).claims] == ["one", "three"]
    cut = '{"claims": [' + json.dumps(claim(1, "one")) + ', {"passage": 2, "quote": "half a quo'
    assert [c.quote for c in parse_reply(cut, HITS).claims] == ["one"]
    raw_newline = '{"claims": [{"passage": 1, "quote": "line one\nline two", "text": "t"}]}'
    assert parse_reply(raw_newline, HITS).claims[0].quote == "line one\nline two"


def test_a_declining_or_refusing_reply_is_read_as_such():
    assert parse_reply('{"claims": []}', HITS).claims == []
    assert parse_reply('Here: {"claims": [], "refuse": true} done', HITS).refuse
    for bad in ("", "no json", "[1, 2]", '{"claims": "none"}', '{"answer": "x"}', '{"claims": [{"quote": "t"wo"}]}'):
        with pytest.raises(ReplyError):
            parse_reply(bad, HITS)


def test_defensive_fields():
    content = "```json\n" + json.dumps({"claims": [
        {"text": "a", "quote": "“quoted”", "passage_id": "P2"},
        {"text": "b", "quote": "", "passage": 1},
        "not a claim",
        {"text": "c", "quote": "x", "passage": "[3]"},
        {"text": "d", "quote": "y", "passage_id": "p1"},
    ]}) + "\n```"
    reply = parse_reply(content, HITS)
    assert [(c.quote, c.passage_id) for c in reply.claims] == [("quoted", "p2"), ("x", "p3"), ("y", "p1")]
    assert [passage_id_for(v, HITS) for v in (1, "3", "p2", 7, "made-up", True, None)] == \
        ["p1", "p3", "p2", "7", "made-up", None, None]


def test_a_model_looping_inside_a_string_is_noticed():
    scanner = ClaimScanner(HITS, max_object_chars=200)
    scanner.feed('{"claims": [{"passage": 1, "quote": "')
    assert not scanner.runaway
    scanner.feed("again and " * 30)
    assert scanner.runaway


def test_the_models_own_sentence_is_shown_only_when_clean():
    assert clean_lead("James names four marks [1].") == "James names four marks."
    assert clean_lead('James says "mysticism is pure madness" here.') is None
    assert clean_lead("  ") is None and clean_lead("x" * 500) is None
    assert clean_lead('He calls it "noetic".') == 'He calls it "noetic".'  # one quoted word is a term, not a quote


class WordCounter:
    def count(self, text: str) -> int:
        return len(text.split())


def test_the_prompt_takes_fewer_and_shorter_passages_as_the_window_shrinks():
    text = " ".join(f"Sentence number {i} of this passage says something." for i in range(40))  # 320 words
    hits = [_hit(n, text) for n in range(1, 7)]
    counter = WordCounter()
    shown = {}
    for window in (6000, 2400, 1200, 700):
        plan = plan_prompt("Why?", hits, counter, context_tokens=window, max_tokens=300, max_passages=6,
                           max_claims=3)
        assert plan.prompt_tokens == messages_tokens(plan.messages, counter)
        assert plan.prompt_tokens + plan.max_tokens <= window
        shown[window] = plan.passages
    assert [len(shown[w]) for w in (6000, 2400, 1200)] == sorted([len(shown[w]) for w in (6000, 2400, 1200)],
                                                                   reverse=True)
    assert len(shown[6000]) == 6 and len(shown[700]) == 1
    last = shown[700][-1]
    assert last.text != text and text.startswith(last.text) and last.text.endswith(".")
    with pytest.raises(ContextTooSmall):
        plan_prompt("Why?", hits, counter, context_tokens=300, max_tokens=300, max_passages=6, max_claims=3)
