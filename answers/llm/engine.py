"""The LLM engine: the model is shown the offline engine's candidate sentences, numbered, and writes claims that
cite them by id. Each claim is shown the moment the model has finished writing it: the cited sentences' own text
as quotations (verbatim by construction), led by the model's sentence when they support it. An endpoint that
fails, a reply that cannot be read or cites no sentence given, or a model that finds no answer where the offline
engine's gate finds one, falls back to the offline engine, with a note."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import httpx

from citewise.answers.llm.claims import ClaimChecker
from citewise.answers.llm.context import ContextTooSmall, PromptPlan, margin, messages_tokens, plan_prompt
from citewise.answers.llm.endpoint import ChatEndpoint, ContextOverflow, EndpointFailure, ReplyStream, connect
from citewise.answers.llm.protocol import MAX_LEAD_CHARS, claims_schema, format_repair_message
from citewise.answers.llm.reply import ClaimScanner, ReplyError
from citewise.answers.offline.conversation import previous_user_question, rewrite_messages
from citewise.answers.offline.engine import OfflineEngine, QuestionEvidence
from citewise.answers.offline.evidence import Candidate
from citewise.answers.offline.refusal import confined
from citewise.answers.offline.spelling import respelling_note
from citewise.answers.output.answer_stream import StreamingAnswer
from citewise.answers.output.render import RenderedAnswer, VerifiedQuote, events, nearest_passages
from citewise.core.answer import Answer, AnswerEvent, Message
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import SearchFilters
from citewise.core.settings import Settings
from citewise.ingest.embedder import single_threaded

log = logging.getLogger("citewise.llm")

REWRITE_TOKENS = 96
# A model on this machine's CPU reads a prompt at tens to hundreds of tokens a second: fewer sentences, sooner
# answers. Either way they are the offline engine's best, in its order.
LOCAL_SENTENCES = 6
ENDPOINT_SENTENCES = 16
# ... and at least this many, when the candidates allow.
MIN_SENTENCES = 4
# A repair round is skipped when the window leaves the reply fewer tokens than this.
MIN_REPAIR_TOKENS = 64
# A model that keeps citing sentences already shown is looping: stop reading it.
MAX_DUPLICATES = 3


@dataclass
class AnswerStats:
    """How one answer went: the figures `citewise bench llm` reports (times in seconds from the start)."""

    started: float = field(default_factory=time.perf_counter)
    first_piece_s: float | None = None  # the model's first piece of text
    first_claim_s: float | None = None  # the first quotation streamed
    done_s: float | None = None
    rounds: int = 0
    sentences: int = 0  # candidate sentences shown to the model
    prompt_tokens: int = 0
    replies: list[str] = field(default_factory=list)  # each round's reply; the benchmark counts their tokens
    writing_s: float = 0.0  # from each reply's first piece to its end
    claims: int = 0  # offered by the model
    quotes: int = 0  # quotations shown (a claim may cite two sentences)
    unknown_ids: int = 0  # ids cited that were not given: dropped
    duplicates: int = 0  # claims citing only sentences already shown
    recited: int = 0  # claims whose text repeats another sentence given than the one cited: cite that one
    leads: Counter[str] = field(default_factory=Counter)  # the model's sentences: shown, unsupported, ...
    fallback: str | None = None  # the note, when the offline engine answered instead
    declined: bool = False  # the model said the sentences do not answer the question
    gate_refused: bool = False  # the offline engine's answerability refused: the model was not asked
    rewritten: bool = False  # a follow-up made standalone by the model (not by the offline engine's rules)
    parts_filled: int = 0  # parts of the question the model cited nothing for: the offline engine's quote added

    def since_start(self) -> float:
        return time.perf_counter() - self.started


class _Fallback(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.note = (f"Note: the language model {reason}; this answer was composed by the offline engine from the "
                     f"retrieved sentences.")


class LLMEngine:
    name: Literal["llm"] = "llm"

    def __init__(self, settings: Settings, index: IndexReader, scorer, offline: OfflineEngine,
                 endpoint: ChatEndpoint | None = None) -> None:
        """`offline` gathers the evidence (and answers when the model cannot); `scorer` judges the model's
        sentences."""
        self.settings = settings
        self.index = index
        self.scorer = scorer
        self.offline = offline
        self.endpoint = endpoint or connect(settings)

    def answer(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Answer:
        for event in self.stream(question, history, filters):
            if event.type == "done" and event.answer is not None:
                return event.answer
        raise RuntimeError("the answer stream ended without an answer")

    def stream(self, question: str, history: list[Message] | None = None, filters: SearchFilters | None = None,
               stats: AnswerStats | None = None) -> Iterator[AnswerEvent]:
        stats = stats if stats is not None else AnswerStats()
        query = question
        try:
            try:
                # A follow-up is made standalone by the model behind an endpoint; the local model's rewrites searched
                # worse than the offline engine's rules (docs/EVALUATION.md), so there the rules make it.
                if previous_user_question(question, history) is not None and not self.settings.llm.local_model:
                    query = self._rewrite(question, history or [])
                    stats.rewritten = True
                with single_threaded():
                    found = self.offline.gather(question, history, None if query == question else query, filters)
                refused = self.offline.refused(question, found, engine=self.name)
                if refused is not None:
                    # The gate decides whether there is an answer, not the model (docs/EVALUATION.md has why).
                    stats.gate_refused = True
                    yield from events(self._confined(refused, filters, question, query, history))
                    return
                for event in self._answer_from(question, query, found, stats):
                    if event.type == "done" and event.answer is not None:
                        event.answer = self._confined(RenderedAnswer(event.answer), filters, question, query,
                                                      history).answer
                    yield event
            except EndpointFailure as exc:  # raised only before anything was streamed
                raise _Fallback(f"endpoint failed ({exc})") from exc
        except _Fallback as fallback:
            stats.fallback = fallback.note
            yield from events(self.offline.compose(question, history, note=fallback.note,
                                                   query=None if query == question else query, filters=filters))
        finally:
            stats.done_s = stats.since_start()

    def _confined(self, rendered: RenderedAnswer, filters: SearchFilters | None, question: str, query: str,
                  history: list[Message] | None) -> RenderedAnswer:
        """The answer echoes its filters; a refusal under filters says whether they excluded the evidence (asked of
        the offline engine: no second model call)."""
        return confined(rendered, filters, self.index.sources,
                        lambda: self.offline.compose(question, history, query=None if query == question else query))

    def _answer_from(self, question: str, query: str, found: QuestionEvidence,
                     stats: AnswerStats) -> Iterator[AnswerEvent]:
        answer_quotes = self.offline.choose(found.answerable, len(found.plan.parts))
        # As many quotations as the offline engine's answer holds (a question in parts may take one or two more).
        max_quotes = max(self.settings.answer.max_quotes, len(answer_quotes))
        chosen = prompt_candidates(self.offline, found, self._max_sentences(), answer_quotes)
        plan, reply = self._first_reply(query, chosen, max_quotes)
        stats.sentences, stats.prompt_tokens = len(plan.sentences), plan.prompt_tokens
        writer = StreamingAnswer(question, self.name, nearest_passages(found.hits),
                                 unanswered=self.offline.unanswered_parts(found),
                                 note=respelling_note(found.plan.respelt))
        checker = ClaimChecker(plan.sentences, partial(self.offline.verified_quotes, evidence=found.answerable),
                               self.scorer)
        declined, problem = False, "no reply"
        for round_number in range(1 + self.settings.llm.repair_rounds):
            stats.rounds += 1
            scanner = ClaimScanner(plan.ids, max_object_chars=MAX_LEAD_CHARS + 200)
            try:
                yield from self._read(reply, scanner, checker, writer, stats, max_quotes)
            except GeneratorExit:  # the client went away: stop the model writing for nobody
                reply.stop()
                raise
            except EndpointFailure:
                if not len(writer) and round_number == 0:
                    raise
                break  # keep what was shown; what the model had not finished is lost
            finally:
                self._account(reply, stats)
                stats.recited = checker.recited
            if len(writer) or scanner.claims:
                break
            try:
                declined = not scanner.finish().claims
                break
            except ReplyError as exc:  # only a reply we could not read is asked for again
                problem = str(exc)
            if round_number == self.settings.llm.repair_rounds:
                break
            reply = self._repair(plan, format_repair_message(problem), max_quotes)
            if reply is None:
                break
        if len(writer):
            for quote in self._uncited_parts(found, writer):
                stats.parts_filled += 1
                yield from writer.add(quote)
            yield from writer.finish()
        elif declined:
            # The gate found an answer here: the offline engine gives it, rather than a refusal the gate disputes.
            stats.declined = True
            raise _Fallback("found no answer among the sentences it was shown")
        elif stats.claims == 0:
            raise _Fallback(f"gave no usable reply ({problem})")
        else:
            raise _Fallback(f"cited {stats.unknown_ids} sentence id(s), none of them among those it was given")

    def _read(self, reply: ReplyStream, scanner: ClaimScanner, checker: ClaimChecker, writer: StreamingAnswer,
              stats: AnswerStats, max_quotes: int) -> Iterator[AnswerEvent]:
        """Streams the quotations of one reply, claim by claim; stops reading once enough are shown or the model
        loops."""
        offered = 0
        for piece in reply:
            if stats.first_piece_s is None:
                stats.first_piece_s = stats.since_start()
            for claim in scanner.feed(piece):
                offered += 1
                stats.claims += 1
                stats.unknown_ids += claim.unknown
                outcome = checker.check(claim)
                log.debug("claim citing %s (%d unknown): %s, lead %s | %r", claim.cites, claim.unknown,
                          "duplicate" if outcome.duplicate else f"{len(outcome.quotes)} quotation(s)", outcome.lead,
                          claim.text[:200])
                stats.duplicates += outcome.duplicate
                if outcome.lead is not None:
                    stats.leads[outcome.lead] += 1
                for quote in outcome.quotes[: max_quotes - len(writer)]:
                    stats.quotes += 1
                    shown = writer.add(quote)
                    if shown and stats.first_claim_s is None:
                        stats.first_claim_s = stats.since_start()
                    yield from shown
            if (len(writer) >= max_quotes or stats.duplicates >= MAX_DUPLICATES or offered > 2 * max_quotes + 2
                    or scanner.runaway):
                reply.stop()
                return

    def _uncited_parts(self, found: QuestionEvidence, writer: StreamingAnswer) -> list[VerifiedQuote]:
        """For each answerable part of a compound or comparison question that the model cited no sentence for, the
        offline engine's most direct quote for it: a small model tends to answer the first part and stop, and every
        part the gate found evidence for is to be answered (docs/EVALUATION.md has the figures)."""
        if len(found.plan.parts) < 2:
            return []
        cited = {quote.part for quote in writer.quotes}
        missing = [item for item in found.answerable if item.candidates and item.candidates[0].part not in cited]
        if not missing:
            return []
        shown = {(q.source.id, q.start, q.end) for q in writer.quotes}
        chosen = [first for item in missing for first in self.offline.choose([item], 1, 1)[:1]]
        return [q for q in self.offline.verified_quotes(chosen, found.answerable)
                if (q.source.id, q.start, q.end) not in shown]

    def _max_sentences(self) -> int:
        llm = self.settings.llm
        return llm.max_sentences or (LOCAL_SENTENCES if llm.local_model else ENDPOINT_SENTENCES)

    def _first_reply(self, query: str, chosen: list[Candidate], max_claims: int) -> tuple[PromptPlan, ReplyStream]:
        """The prompt fitted to the window and its reply opened; a server that still says it overflows gets the
        prompt once more, fitted to the window it names (or to half the room)."""
        context = self.endpoint.context_tokens
        plan = self._plan(query, chosen, context, max_claims)
        try:
            return plan, self._open(plan, max_claims)
        except ContextOverflow as exc:
            smaller = exc.window if exc.window and exc.window < context else (plan.prompt_tokens + plan.max_tokens) // 2
        plan = self._plan(query, chosen, smaller, max_claims)
        return plan, self._open(plan, max_claims)

    def _open(self, plan: PromptPlan, max_claims: int, messages: list[dict[str, str]] | None = None,
              max_tokens: int | None = None) -> ReplyStream:
        return self.endpoint.stream(messages or plan.messages, max_tokens or plan.max_tokens,
                                    claims_schema(max_claims, plan.ids))

    def _plan(self, query: str, chosen: list[Candidate], context: int, max_claims: int) -> PromptPlan:
        llm = self.settings.llm
        try:
            return plan_prompt(query, chosen, self.index.source_text, self.endpoint.counter, context_tokens=context,
                               max_tokens=llm.max_tokens, max_sentences=self._max_sentences(), max_claims=max_claims)
        except ContextTooSmall as exc:
            raise _Fallback(f"could not be used ({exc})") from exc
        except httpx.HTTPError as exc:
            raise EndpointFailure(f"its tokenizer did not answer ({type(exc).__name__})") from exc
        except CitewiseError as exc:  # a local model that died and cannot be started again
            raise EndpointFailure(str(exc)) from exc

    def _repair(self, plan: PromptPlan, repair: dict[str, str], max_claims: int) -> ReplyStream | None:
        """The repair request: the same prompt (so a server's prompt cache is reused) and what to fix."""
        messages = [*plan.messages, repair]
        try:
            window = plan.context_tokens
            room = window - messages_tokens(messages, self.endpoint.counter) - margin(window)
            if room < MIN_REPAIR_TOKENS:
                return None
            return self._open(plan, max_claims, messages, min(plan.max_tokens, room))
        except (EndpointFailure, httpx.HTTPError):
            return None  # keep what was shown in the first round

    def _account(self, reply: ReplyStream, stats: AnswerStats) -> None:
        if reply.first_piece is not None and reply.ended is not None:
            stats.writing_s += reply.ended - reply.first_piece
        if reply.text:
            # Kept, not counted: a count is a tokenizer request (and may restart a local model that died mid-reply).
            stats.replies.append(reply.text)

    def _rewrite(self, question: str, history: list[Message]) -> str:
        rewritten = self.endpoint.complete(rewrite_messages(question, history), REWRITE_TOKENS).strip()
        return rewritten.strip('"“”') or question


def prompt_candidates(offline: OfflineEngine, found: QuestionEvidence, limit: int,
                      answer_quotes: list[Candidate] | None = None) -> list[Candidate]:
    """The sentences shown to the model: the offline engine's own answer first (`answer_quotes`, or chosen here), so
    that the model is never shown less than that answer quotes, then its next choices, up to `limit`; topped up to
    MIN_SENTENCES with its next best candidates. (The first `limit` of a wider choice gave a question in two parts
    four sentences for its first part and cut the third of its second, which the offline answer quotes.) For a
    lookup the engine may choose only one or two (4 of 57 tune questions), and SmolLM2 shown a single sentence
    declined in two of four first trials."""
    parts = len(found.plan.parts)
    first = offline.choose(found.answerable, parts) if answer_quotes is None else answer_quotes
    taken = {_span(c) for c in first}
    wider = offline.choose(found.answerable, parts, limit)
    chosen = (list(first) + [c for c in wider if _span(c) not in taken])[:limit]
    if len(chosen) >= MIN_SENTENCES:
        return chosen
    spare = sorted((c for part in found.answerable for c in part.candidates), key=lambda c: -c.score)
    for candidate in spare:
        if len(chosen) >= min(MIN_SENTENCES, limit):
            break
        if not any(candidate.overlaps(c) for c in chosen):  # a span already shown overlaps itself
            chosen.append(candidate)
    return chosen


def _span(candidate: Candidate) -> tuple[str, int, int]:
    return candidate.source_id, candidate.start, candidate.end
