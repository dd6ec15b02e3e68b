"""What the reader reads for one sentence: the same text at training and at answer time."""

from __future__ import annotations

from citewise.core.sentences import unwrap

# A heading helps the reader place a sentence ("LECTURE XVI. MYSTICISM"); a long one would crowd out the sentence.
MAX_HEADING_CHARS = 80
MAX_TOKENS = 96


def reader_pair(question: str, sentence: str, heading: str | None = None) -> tuple[str, str]:
    """(question, the sentence with the heading it stands under), both with hard-wrapped lines unwrapped."""
    body = unwrap(sentence).strip()
    if heading:
        title = " ".join(heading.split())[:MAX_HEADING_CHARS]
        body = f"{title}: {body}"
    return " ".join(question.split()), body
