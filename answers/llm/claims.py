"""One claim of the model, checked: the sentences it cites become quotations (their own text from the index, with
its offsets), and its own sentence is shown before them only when those sentences support it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from citewise.answers.llm.protocol import MAX_LEAD_CHARS, MAX_TEXT_CHARS, PromptSentence
from citewise.answers.llm.reply import Claim
from citewise.answers.output.render import VerifiedQuote
from citewise.core.sentences import sentence_spans, unwrap
from citewise.core.text import words

# Words in quotation marks inside the model's own sentence would read as a quotation nobody verified.
_QUOTED_WORDS = re.compile(r"[\"“”«»„]\s*[^\"“”«»„\s]+(?:\s+[^\"“”«»„\s]+){2,}\s*[\"“”«»„]")
_MARKER = re.compile(r"\s*\[(?:\d+|[Ss]\d+\.\d+)(?:\s*,\s*(?:\d+|[Ss]\d+\.\d+))*\]")
# A lead that is the quotation again (most of its words, in a sentence nearly as long) adds nothing to it.
COPIED_SHARE = 0.9
COPIED_LENGTH = 0.6

# What became of the model's own sentence: shown; suppressed by the support judge; or not shown for being empty,
# running on, holding words in quotation marks, or repeating the quotation.
LeadOutcome = Literal["shown", "unsupported", "unclean", "copied"]


@dataclass(frozen=True)
class ClaimCheck:
    quotes: list[VerifiedQuote] = field(default_factory=list)  # the sentences it cites not shown before, in order
    duplicate: bool = False  # every sentence it cites was already shown
    lead: LeadOutcome | None = None  # None when there was nothing new to lead


def clean_lead(text: str) -> str | None:
    """The model's sentence without [n] or [S1.2] markers of its own; None when it cannot be shown (empty, running
    on or cut off at the schema's maxLength, more than one sentence, trailing off, or holding words in quotation
    marks)."""
    cut = len(text or "") >= MAX_TEXT_CHARS and not (text or "").rstrip().endswith((".", "!", "?"))
    text = " ".join(_MARKER.sub("", text or "").split())
    if (not text or cut or len(text) > MAX_LEAD_CHARS or _QUOTED_WORDS.search(text) or text.endswith(("...", "…"))
            or len(sentence_spans(text)) > 1):
        return None
    return text


def repeats(lead: str, quoted: str) -> bool:
    """Whether the lead is the quotation said again."""
    lead_words, quote_words = words(lead.lower()), words(quoted.lower())
    if not lead_words or not quote_words:
        return False
    vocabulary = set(quote_words)
    inside = sum(w in vocabulary for w in lead_words) / len(lead_words)
    return inside >= COPIED_SHARE and len(lead_words) >= COPIED_LENGTH * len(quote_words)


class ClaimChecker:
    """Checks the claims of one answer against the sentences the model was shown.

    `verify(candidates)` turns candidate sentences into VerifiedQuotes (the offline engine's own step: the verifier
    locates each in its passage, the support scorer scores it); `scorer` judges the model's sentences."""

    def __init__(self, sentences: list[PromptSentence], verify, scorer) -> None:
        self.by_id = {s.id: s for s in sentences}
        self.verify = verify
        self.scorer = scorer
        self._shown: set[str] = set()
        self.recited = 0  # claims whose cited id was replaced by the sentence their text repeats

    def check(self, claim: Claim) -> ClaimCheck:
        cited = self._recited(claim) or [self.by_id[i] for i in claim.cites if i in self.by_id]
        new = [s for s in cited if s.id not in self._shown]
        if not new:
            return ClaimCheck(duplicate=bool(cited))
        self._shown.update(s.id for s in new)
        quotes = self.verify([s.candidate for s in new])
        if not quotes:
            return ClaimCheck()
        return ClaimCheck(quotes, lead=self._judge_lead(quotes[0], cited, clean_lead(claim.text)))

    def _recited(self, claim: Claim) -> list[PromptSentence] | None:
        """A small model may write out one sentence and cite the id next to it: when its own sentence is another
        given sentence said again, and not the one it cites, the claim cites that sentence instead."""
        lead = clean_lead(claim.text)
        cited = " ".join(unwrap(self.by_id[i].candidate.text) for i in claim.cites if i in self.by_id)
        if lead is None or not cited or repeats(lead, cited):
            return None
        meant = [s for s in self.by_id.values() if s.id not in self._shown and repeats(lead, unwrap(s.candidate.text))]
        if len(meant) == 1:
            self.recited += 1
            return meant
        return None

    def _judge_lead(self, quote: VerifiedQuote, cited: list[PromptSentence], lead: str | None) -> LeadOutcome:
        """The model's sentence leads the first new quotation only if the sentences it cites support it; otherwise
        the quotation is introduced by its attribution alone. The citation's support is then that of the lead."""
        if lead is None:
            return "unclean"
        evidence = " ".join(unwrap(s.candidate.text) for s in cited)
        if repeats(lead, evidence):
            return "copied"
        # Embedded afresh, not from the index: a stored sentence vector carries its passage's context, and the
        # judge must weigh the lead against the words it stands beside, nothing else.
        support = self.scorer.scores([(lead, evidence)])[0]
        if support < self.scorer.threshold:
            return "unsupported"
        quote.lead, quote.support = lead, float(support)
        return "shown"
