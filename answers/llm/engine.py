"""The LLM engine: a model writes claims (a quotation, the passage it comes from, a sentence of its own); each claim
is verified the moment the model has finished writing it and is streamed at once. An endpoint that fails, a reply
that cannot be read, or a reply none of whose quotations verify falls back to the offline engine, with a note."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import httpx

from citewise.answers.llm.claims import ClaimChecker
from citewise.answers.llm.context import ContextTooSmall, PromptPlan, margin, messages_tokens, plan_prompt
from citewise.answers.llm.endpoint import ChatEndpoint, ContextOverflow, EndpointFailure, ReplyStream, connect
from citewise.answers.llm.protocol import MAX_LEAD_CHARS, claims_schema, format_repair_message, quote_repair_message
from citewise.answers.llm.reply import ClaimScanner, ReplyError
from citewise.answers.offline.conversation import previous_user_question, rewrite_messages
from citewise.answers.offline.engine import RETRIEVAL_K, OfflineEngine
from citewise.answers.offline.evidence import retrieve
from citewise.answers.offline.refusal import confined, refusal
from citewise.answers.output.answer_stream import StreamingAnswer
from citewise.answers.output.render import RenderedAnswer, events, nearest_passages
from citewise.answers.quotes.verifier import QuoteVerifier
from citewise.core.answer import Answer, AnswerEvent, Message
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit, Retriever, SearchFilters
from citewise.core.settings import Settings

log = logging.getLogger("citewise.llm")

REWRITE_TOKENS = 96
# A model on this machine's CPU reads a prompt at tens to hundreds of tokens a second: fewer passages, sooner answers.
LOCAL_PASSAGES = 4
ENDPOINT_PASSAGES = 8
# A repair round is skipped when the window leaves the reply fewer tokens than this.
MIN_REPAIR_TOKENS = 64
# A model that keeps offering claims that fail, or the same claim again, is looping: stop reading it.
MAX_DUPLICATES = 3


@dataclass
class AnswerStats:
    """How one answer went: the figures `citewise bench llm` reports (times in seconds from the start)."""

    started: float = field(default_factory=time.perf_counter)
    first_piece_s: float | None = None  # the model's first piece of text
    first_claim_s: float | None = None  # the first verified quotation streamed
    done_s: float | None = None
    rounds: int = 0
    passages: int = 0
    prompt_tokens: int = 0
    replies: list[str] = field(default_factory=list)  # each round's reply; the benchmark counts their tokens
    writing_s: float = 0.0  # from each reply's first piece to its end
    claims: int = 0  # offered by the model
    verified: int = 0
    fallback: str | None = None  # the note, when the offline engine answered instead
    declined: bool = False  # the model said the passages do not answer the question

    def since_start(self) -> float:
        return time.perf_counter() - self.started


class _Fallback(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.note = (f"Note: the language model {reason}; this answer was composed by the offline engine from the "
                     f"retrieved sentences.")


class LLMEngine:
    name: Literal["llm"] = "llm"

    def __init__(self, settings: Settings, retriever: Retriever, index: IndexReader, verifier: QuoteVerifier,
                 scorer, offline: OfflineEngine, endpoint: ChatEndpoint | None = None) -> None:
        self.settings = settings
        self.retriever = retriever
        self.index = index
        self.verifier = verifier
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
                if previous_user_question(question, history) is not None:
                    query = self._rewrite(question, history or [])
                hits = retrieve(self.retriever, query, max(RETRIEVAL_K, self.settings.retrieval.k), filters=filters)
                if not hits:
                    refused = refusal(question, self.name, "no_evidence", hits)
                    yield from events(self._confined(refused, filters, question, query, history))
                    return
                for event in self._answer_from(question, query, hits, stats):
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

    def _answer_from(self, question: str, query: str, hits: list[Hit], stats: AnswerStats) -> Iterator[AnswerEvent]:
        max_claims = self.settings.answer.max_quotes
        plan, reply = self._first_reply(query, hits, max_claims)
        stats.passages, stats.prompt_tokens = len(plan.passages), plan.prompt_tokens
        writer = StreamingAnswer(question, self.name, nearest_passages(hits))
        checker = ClaimChecker(self.verifier, self.index, plan.hits, self.scorer)
        longest = max(len(p.text) for p in plan.passages)
        declined, problem = False, "no reply"
        for round_number in range(1 + self.settings.llm.repair_rounds):
            stats.rounds += 1
            scanner = ClaimScanner(plan.hits, max_object_chars=longest + MAX_LEAD_CHARS + 200)
            failures: list[tuple[str, int | str, str]] = []
            try:
                yield from self._read(reply, scanner, checker, writer, failures, stats, max_claims)
            except GeneratorExit:  # the client went away: stop the model writing for nobody
                reply.stop()
                raise
            except EndpointFailure:
                if not len(writer) and round_number == 0:
                    raise
                break  # keep what verified; what the model had not finished is lost
            finally:
                self._account(reply, stats)
            if len(writer) >= max_claims:
                break
            last_round = round_number == self.settings.llm.repair_rounds
            try:
                result = scanner.finish()
            except ReplyError as exc:
                problem = str(exc)
                repair = format_repair_message(problem)
            else:
                declined = round_number == 0 and not result.claims and (result.refuse or scanner.declined)
                if declined or not failures:
                    break
                repair = quote_repair_message(failures[:max_claims])
            if last_round:
                break
            reply = self._repair(plan, repair, max_claims)
            if reply is None:
                break
        if len(writer):
            yield from writer.finish()
        elif declined:
            # The offline engine has its own refusal gate: it refuses too when the evidence is weak, and otherwise
            # answers from passages a small model failed to use.
            stats.declined = True
            raise _Fallback("found no answer in the passages it was shown")
        elif stats.claims == 0:
            raise _Fallback(f"gave no usable reply ({problem})")
        else:
            raise _Fallback(f"offered {stats.claims} quotation(s) and none of them is verbatim in the sources")

    def _read(self, reply: ReplyStream, scanner: ClaimScanner, checker: ClaimChecker, writer: StreamingAnswer,
              failures: list[tuple[str, int | str, str]], stats: AnswerStats, max_claims: int) -> Iterator[AnswerEvent]:
        """Streams the verified claims of one reply; stops reading once enough verified or the model loops."""
        offered = duplicates = 0
        tried: set[str] = set()
        for piece in reply:
            if stats.first_piece_s is None:
                stats.first_piece_s = stats.since_start()
            for claim in scanner.feed(piece):
                offered += 1
                stats.claims += 1
                said = " ".join(claim.quote.lower().split())
                if said in tried:  # the same words fare the same wherever they are said to come from
                    duplicates += 1
                    continue
                tried.add(said)
                outcome = checker.check(claim)
                log.debug("claim citing %s: %s | %r", claim.cited, "verified" if outcome.quote else
                          "duplicate" if outcome.duplicate else outcome.problem, claim.quote[:200])
                if outcome.quote is not None:
                    stats.verified += 1
                    shown = writer.add(outcome.quote)
                    if shown and stats.first_claim_s is None:
                        stats.first_claim_s = stats.since_start()
                    yield from shown
                elif outcome.duplicate:
                    duplicates += 1
                elif outcome.problem is not None:
                    failures.append((claim.quote, claim.cited, outcome.problem))
            if (len(writer) >= max_claims or duplicates >= MAX_DUPLICATES or offered > 2 * max_claims + 2
                    or scanner.runaway):
                reply.stop()
                return

    def _first_reply(self, query: str, hits: list[Hit], max_claims: int) -> tuple[PromptPlan, ReplyStream]:
        """The prompt fitted to the window and its reply opened; a server that still says it overflows gets the
        prompt once more, fitted to the window it names (or to half the room)."""
        context = self.endpoint.context_tokens
        plan = self._plan(query, hits, context, max_claims)
        try:
            return plan, self._open(plan, max_claims)
        except ContextOverflow as exc:
            smaller = exc.window if exc.window and exc.window < context else (plan.prompt_tokens + plan.max_tokens) // 2
        plan = self._plan(query, hits, smaller, max_claims)
        return plan, self._open(plan, max_claims)

    def _open(self, plan: PromptPlan, max_claims: int, messages: list[dict[str, str]] | None = None,
              max_tokens: int | None = None) -> ReplyStream:
        return self.endpoint.stream(messages or plan.messages, max_tokens or plan.max_tokens,
                                    claims_schema(max_claims, len(plan.passages)))

    def _plan(self, query: str, hits: list[Hit], context: int, max_claims: int) -> PromptPlan:
        llm = self.settings.llm
        passages = llm.max_passages or (LOCAL_PASSAGES if llm.local_model else ENDPOINT_PASSAGES)
        try:
            return plan_prompt(query, hits, self.endpoint.counter, context_tokens=context, max_tokens=llm.max_tokens,
                               max_passages=passages, max_claims=max_claims)
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
            return None  # keep what verified in the first round

    def _account(self, reply: ReplyStream, stats: AnswerStats) -> None:
        if reply.first_piece is not None and reply.ended is not None:
            stats.writing_s += reply.ended - reply.first_piece
        if reply.text:
            # Kept, not counted: a count is a tokenizer request (and may restart a local model that died mid-reply).
            stats.replies.append(reply.text)

    def _rewrite(self, question: str, history: list[Message]) -> str:
        rewritten = self.endpoint.complete(rewrite_messages(question, history), REWRITE_TOKENS).strip()
        return rewritten.strip('"“”') or question
