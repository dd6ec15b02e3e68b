"""One claim of the model, checked: its quotation by the verifier (re-cited when it sits in another retrieved
passage), its own sentence by the support judge, which decides whether that sentence is shown at all."""

from __future__ import annotations

import re
from dataclasses import dataclass

from citewise.answers.llm.protocol import MAX_LEAD_CHARS
from citewise.answers.llm.reply import Claim
from citewise.answers.output.render import VerifiedQuote
from citewise.answers.quotes.verifier import QuoteStatus, QuoteVerifier, locate
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit
from citewise.core.sentences import unwrap

# Words in quotation marks inside the model's own sentence would read as a quotation nobody verified.
_QUOTED_WORDS = re.compile(r"[\"“”«»„]\s*[^\"“”«»„\s]+(?:\s+[^\"“”«»„\s]+){2,}\s*[\"“”«»„]")
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


@dataclass(frozen=True)
class ClaimCheck:
    quote: VerifiedQuote | None = None
    problem: str | None = None  # why the quotation failed, as the repair request tells the model
    duplicate: bool = False


def clean_lead(text: str) -> str | None:
    """The model's sentence without [n] markers of its own; None when it cannot be shown (empty, running on,
    or holding words in quotation marks)."""
    text = " ".join(_MARKER.sub("", text or "").split())
    if not text or len(text) > MAX_LEAD_CHARS or _QUOTED_WORDS.search(text):
        return None
    return text


class ClaimChecker:
    """Checks the claims of one answer against the passages the model was shown."""

    def __init__(self, verifier: QuoteVerifier, index: IndexReader, hits: list[Hit], scorer) -> None:
        self.verifier = verifier
        self.index = index
        self.scorer = scorer
        self.retrieved = {h.passage.id: h for h in hits}
        self.hits = hits
        self._seen: set[tuple[str, int, int]] = set()

    def check(self, claim: Claim) -> ClaimCheck:
        cited = claim.passage_id if claim.passage_id in self.retrieved else self._holding_passage(claim.quote)
        if cited is None:
            return ClaimCheck(problem=f"it cites passage {claim.cited}, which was not given, and no given passage "
                                      f"holds the quotation")
        match = self.verifier.verify(claim.quote, cited, list(self.retrieved))
        recitable = match.status is QuoteStatus.MISATTRIBUTED and match.passage_id in self.retrieved
        if match.status is not QuoteStatus.VERIFIED and not recitable:
            return ClaimCheck(problem=f"{match.status.value}: {match.detail}")
        hit = self.retrieved.get(match.passage_id or "")
        if hit is None:  # verbatim in a passage of the cited source that the model was not shown
            return ClaimCheck(problem="the quotation is not in any of the passages provided")
        key = (hit.source.id, match.start, match.end)
        if key in self._seen:
            return ClaimCheck(duplicate=True)
        self._seen.add(key)
        quote = VerifiedQuote(unwrap(claim.quote), hit.source, hit.passage, match.start, match.end)
        self._judge_lead(quote, clean_lead(claim.text))
        return ClaimCheck(quote=quote)

    def _judge_lead(self, quote: VerifiedQuote, lead: str | None) -> None:
        """The model's sentence leads the quotation only if the cited passage supports it; otherwise the quotation
        is introduced by its attribution alone. The citation's support is that of the sentence actually shown."""
        evidence = unwrap(quote.passage.text)
        pairs = [(quote.quote, evidence)] + ([(lead, evidence)] if lead else [])
        scores = self.scorer.scores(pairs)
        if lead and scores[1] >= self.scorer.threshold:
            quote.lead, quote.support = lead, float(scores[1])
        else:
            quote.support = float(scores[0])

    def _holding_passage(self, quote: str) -> str | None:
        """For a claim citing a passage we never gave: the given passage that holds the quote, if one does."""
        for hit in self.hits:
            text = self.index.source_text(hit.source.id)
            if locate(quote, text, hit.passage.start, hit.passage.end) is not None:
                return hit.passage.id
        return None
