"""Follow-up questions: turn "and what did he say about alcohol?" into something retrieval can use on its own."""

from __future__ import annotations

import re

from citewise.core.answer import Message
from citewise.core.text import capitalised_runs, content_terms, named_terms

_PRONOUN_TEXT = "he she him her his hers they them their theirs it its this that these those"
_PRONOUNS = frozenset(_PRONOUN_TEXT.split())
_PERSONAL_PRONOUNS = frozenset(["he", "she", "him", "her", "his", "hers"])
_FOLLOW_UP_OPENERS = ("and ", "but ", "what about", "how about", "also", "so ", "then ", "why ", "what else")


def previous_user_question(question: str, history: list[Message] | None) -> str | None:
    """The user's last question before this one (the history may or may not already end with this one)."""
    asked = [m.content.strip() for m in history or [] if m.role == "user" and m.content.strip()]
    if asked and asked[-1] == question.strip():
        asked.pop()
    return asked[-1] if asked else None


def looks_like_follow_up(question: str) -> bool:
    lowered = question.strip().lower()
    tokens = set(re.findall(r"[a-z]+", lowered))
    if lowered.startswith(_FOLLOW_UP_OPENERS) or tokens & _PRONOUNS:
        return True
    # "Why?" or "Any dates?" leans on the previous turn; "What is MDMA?" names its own subject.
    return len(content_terms(question)) <= 1 and not named_terms(question)


def refers_to_a_person(question: str, history: list[Message] | None) -> bool:
    """A follow-up asking what "he" or "she" said: its answer should come from that person's own works."""
    tokens = set(re.findall(r"[a-z]+", question.lower()))
    return bool(tokens & _PERSONAL_PRONOUNS) and previous_user_question(question, history) is not None


def follow_up_context(question: str, history: list[Message] | None) -> str:
    """What a follow-up leans on: the names in the previous question and what it was about (its content words),
    so that "What barriers does he say get built up during that period?" after a question on Freud's latency
    period searches for Freud's latency period. Empty for a question that stands alone."""
    previous = previous_user_question(question, history)
    if previous is None or not looks_like_follow_up(question):
        return ""
    # A capitalised word opening a sentence is not a name; any other capitalised run probably is.
    names = [run for run in capitalised_runs(previous, skip_sentence_openers=True) if run.lower() not in _PRONOUNS]
    named = {word.lower() for name in names for word in name.split()}
    topic = [term for term in content_terms(previous) if term not in named]
    return "; ".join(part for part in (", ".join(dict.fromkeys(names)), " ".join(topic)) if part)


REWRITE_INSTRUCTION = (
    "Rewrite the user's last message as one standalone question that can be understood without the "
    "conversation: resolve pronouns and references (who 'he' or 'it' is) from the earlier turns. "
    "Reply with the question only."
)


def rewrite_messages(question: str, history: list[Message], max_turns: int = 6,
                     max_chars: int = 1500) -> list[dict[str, str]]:
    """The chat messages for the one LLM call that rewrites a follow-up."""
    turns = [m for m in history if m.role in ("user", "assistant")]
    if turns and turns[-1].role == "user" and turns[-1].content.strip() == question.strip():
        turns = turns[:-1]
    lines = [f"{m.role}: {m.content[:max_chars]}" for m in turns[-max_turns:]]
    conversation = "\n".join(lines)
    return [
        {"role": "system", "content": REWRITE_INSTRUCTION},
        {"role": "user", "content": f"Conversation so far:\n{conversation}\n\nLast message: {question}"},
    ]
