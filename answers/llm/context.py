"""Fitting the prompt to the model's context window: fewer candidate sentences, never an overflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from citewise.answers.llm.protocol import PromptSentence, answer_messages, number_sentences, sentence_lines, source_tag
from citewise.answers.offline.evidence import Candidate

# Chat templates add a few tokens per message, and an estimate may be off: this much of the window stays free.
MARGIN_TOKENS = 24
MARGIN_SHARE = 0.03
# The reply keeps at least this many tokens when a small window forces it below max_tokens.
MIN_REPLY_TOKENS = 128
# A source block's opening and closing lines, counted once per source rather than asked of the tokenizer.
BLOCK_TOKENS = 40


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
    """Not even the question and one sentence fit the model's window."""


@dataclass(frozen=True)
class PromptPlan:
    messages: list[dict[str, str]]
    sentences: list[PromptSentence]
    prompt_tokens: int
    max_tokens: int  # what the reply may use: max_tokens, or less when the window is small
    context_tokens: int  # the window it was fitted to

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sentences]


def messages_tokens(messages: list[dict[str, str]], counter: TokenCounter) -> int:
    return counter.count("\n\n".join(m["content"] for m in messages)) + 4 * len(messages)


def margin(context_tokens: int) -> int:
    return MARGIN_TOKENS + int(context_tokens * MARGIN_SHARE)


def plan_prompt(question: str, chosen: list[Candidate], text_of, counter: TokenCounter, *, context_tokens: int,
                max_tokens: int, max_sentences: int, max_claims: int) -> PromptPlan:
    """The messages for `question` with as many of the `chosen` sentences (in rank order) as fit beside a reply of
    max_tokens; `text_of(source_id)` is a source's canonical text."""
    tag = source_tag(question, [c.text for c in chosen[:max_sentences]])
    reply = min(max_tokens, max(MIN_REPLY_TOKENS, context_tokens // 3))
    budget = context_tokens - reply - margin(context_tokens)
    used = messages_tokens(answer_messages(question, [], max_claims, tag), counter)
    taken: list[Candidate] = []
    sources: set[str] = set()
    # Each sentence is counted as it would be shown alone (with its context); they are taken in rank order until
    # one does not fit, and numbered only then, so that the ids run without gaps.
    shown = {id(s.candidate): s for s in number_sentences(chosen[:max_sentences], text_of)}
    for candidate in chosen[:max_sentences]:
        cost = counter.count("\n".join(sentence_lines(shown[id(candidate)]))) + 1
        cost += BLOCK_TOKENS if candidate.source_id not in sources else 0
        if used + cost > budget:
            break
        taken.append(candidate)
        sources.add(candidate.source_id)
        used += cost
    # The parts were counted one by one; the whole is counted once more, and trimmed if the sum misled.
    while taken:
        sentences = number_sentences(taken, text_of)
        messages = answer_messages(question, sentences, max_claims, tag)
        total = messages_tokens(messages, counter)
        if total <= budget:
            return PromptPlan(messages, sentences, total, reply, context_tokens)
        taken.pop()
    raise ContextTooSmall(f"the model's context window ({context_tokens} tokens) cannot hold the question, "
                          f"one sentence and a reply")
