"""Fitting the prompt to the model's context window: fewer passages, then a shorter last one, never an overflow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from citewise.answers.llm.protocol import PromptPassage, answer_messages, passage_block, passage_tag, prompt_passages
from citewise.core.retrieval import Hit

# Chat templates add a few tokens per message, and an estimate may be off: this much of the window stays free.
MARGIN_TOKENS = 24
MARGIN_SHARE = 0.03
# A passage is only shortened to fit when at least this many tokens of it can be shown; else it is left out.
MIN_PASSAGE_TOKENS = 48
# The reply keeps at least this many tokens when a small window forces it below max_tokens.
MIN_REPLY_TOKENS = 128
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


class TokenCounter(Protocol):
    """Tokens of a text in the model's own tokenizer (or a safe estimate of them)."""

    def count(self, text: str) -> int: ...


class EstimatedTokens:
    """For endpoints that do not expose their tokenizer: cl100k counts with head-room, since smaller vocabularies
    than GPT-4's split the same text into more tokens."""

    FACTOR = 1.3

    def __init__(self) -> None:
        from citewise.core.tokenizer import get_encoding

        self._encoding = get_encoding("cl100k_base")

    def count(self, text: str) -> int:
        return int(len(self._encoding.encode(text, disallowed_special=())) * self.FACTOR) + 1


class ContextTooSmall(Exception):
    """Not even the question and one shortened passage fit the model's window."""


@dataclass(frozen=True)
class PromptPlan:
    messages: list[dict[str, str]]
    passages: list[PromptPassage]
    prompt_tokens: int
    max_tokens: int  # what the reply may use: max_tokens, or less when the window is small
    context_tokens: int  # the window it was fitted to

    @property
    def hits(self) -> list[Hit]:
        return [p.hit for p in self.passages]


def messages_tokens(messages: list[dict[str, str]], counter: TokenCounter) -> int:
    return counter.count("\n\n".join(m["content"] for m in messages)) + 4 * len(messages)


def margin(context_tokens: int) -> int:
    return MARGIN_TOKENS + int(context_tokens * MARGIN_SHARE)


def plan_prompt(question: str, hits: list[Hit], counter: TokenCounter, *, context_tokens: int, max_tokens: int,
                max_passages: int, max_claims: int) -> PromptPlan:
    """The messages for `question` with as many of `hits` (in rank order) as fit beside a reply of max_tokens."""
    tag = passage_tag()
    reply = min(max_tokens, max(MIN_REPLY_TOKENS, context_tokens // 3))
    budget = context_tokens - reply - margin(context_tokens)
    base = messages_tokens(answer_messages(question, [], max_claims, tag), counter)
    chosen: list[PromptPassage] = []
    used = base
    # Passages are taken in rank order until one does not fit, so the n-th taken is numbered n.
    for passage in prompt_passages(hits[:max_passages]):
        cost = counter.count(passage_block(passage, tag)) + 2
        if used + cost <= budget:
            chosen.append(passage)
            used += cost
            continue
        shortened = _shortened(passage, budget - used - 2, cost, tag, counter)
        if shortened is not None:
            chosen.append(shortened)
        break
    if not chosen:
        raise ContextTooSmall(f"the model's context window ({context_tokens} tokens) cannot hold the question, "
                              f"one passage and a reply")
    # The parts were counted one by one; the whole is counted once more, and trimmed if the sum misled.
    while True:
        messages = answer_messages(question, chosen, max_claims, tag)
        total = messages_tokens(messages, counter)
        if total <= budget or len(chosen) == 1:
            break
        chosen.pop()
    if total > budget:
        raise ContextTooSmall(f"the model's context window ({context_tokens} tokens) cannot hold the question, "
                              f"one passage and a reply")
    return PromptPlan(messages, chosen, total, reply, context_tokens)


def _shortened(passage: PromptPassage, room: int, cost: int, tag: str,
               counter: TokenCounter) -> PromptPassage | None:
    """The passage cut after its last whole sentence that fits in `room` tokens; None if too little would be left."""
    if room < MIN_PASSAGE_TOKENS:
        return None
    sentences = _SENTENCE_END.split(passage.text)
    keep = max(1, int(len(sentences) * room / cost))
    while keep >= 1:
        # No ellipsis is added: a quote the model copies must stay verbatim in the whole passage.
        text = " ".join(sentences[:keep])
        candidate = PromptPassage(passage.n, passage.hit, text)
        if counter.count(passage_block(candidate, tag)) <= room:
            return candidate
        keep -= 1
    words = passage.text.split()
    text = " ".join(words[: max(8, int(len(words) * room / cost * 0.8))])
    candidate = PromptPassage(passage.n, passage.hit, text)
    return candidate if counter.count(passage_block(candidate, tag)) <= room else None
