"""The LLM engine: a model writes the prose, every quotation it offers is verified, and an endpoint failure
falls back to the offline engine with a visible note."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Literal

import openai

from citewise.answers.conversation import previous_user_question, rewrite_messages
from citewise.answers.evidence import retrieve
from citewise.answers.filtered import confined
from citewise.answers.llm_protocol import Claim, Reply, ReplyError, answer_messages, parse_reply, repair_message
from citewise.answers.offline import RETRIEVAL_K, OfflineEngine
from citewise.answers.render import RenderedAnswer, VerifiedQuote, events, nearest_passages, refusal, render_answer
from citewise.answers.verifier import QuoteStatus, QuoteVerifier, locate
from citewise.core.answer import Answer, AnswerEvent, Message
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit, Retriever, SearchFilters
from citewise.core.settings import Settings
from citewise.ingest.sentences import unwrap


class EndpointFailure(Exception):
    """The LLM endpoint could not give a usable reply (unreachable, timed out, 5xx, not our JSON)."""


def make_client(settings: Settings) -> openai.OpenAI:
    base_url = settings.llm.base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = settings.llm.api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        if not base_url:
            raise CitewiseError("the llm engine needs OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI "
                                "endpoint); or use --engine offline")
        api_key = "unused"  # local OpenAI-compatible servers often need no key, but the client insists on one
    # One retry: a dead endpoint should fall back to the offline engine quickly, not after minutes of backoff.
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=settings.llm.timeout_s, max_retries=1)


class LLMEngine:
    name: Literal["llm"] = "llm"

    def __init__(self, settings: Settings, retriever: Retriever, index: IndexReader, verifier: QuoteVerifier,
                 scorer, offline: OfflineEngine, client: openai.OpenAI | None = None) -> None:
        self.settings = settings
        self.retriever = retriever
        self.index = index
        self.verifier = verifier
        self.scorer = scorer
        self.offline = offline
        self.client = client or make_client(settings)
        self._json_mode = True

    def answer(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Answer:
        return self.compose(question, history, filters).answer

    def stream(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Iterator[AnswerEvent]:
        # The model's text is only shown once its quotations are verified, so nothing streams before that.
        yield from events(self.compose(question, history, filters))

    def compose(self, question: str, history: list[Message] | None = None,
                filters: SearchFilters | None = None) -> RenderedAnswer:
        query = question
        try:
            if previous_user_question(question, history) is not None:
                query = self._rewrite(question, history or [])
            hits = retrieve(self.retriever, query, max(RETRIEVAL_K, self.settings.retrieval.k), filters=filters)
            rendered = refusal(question, self.name, hits) if not hits else self._answer_from(question, query, hits)
        except EndpointFailure as exc:
            note = (f"Note: the language model endpoint failed ({exc}); this answer was composed by the offline "
                    f"engine from the retrieved sentences.")
            return self.offline.compose(question, history, note=note,
                                        query=None if query == question else query, filters=filters)
        # Whether the filters excluded the evidence is asked of the offline engine: no second model call.
        return confined(rendered, filters, self.index.sources,
                        lambda: self.offline.compose(question, history, query=None if query == question else query))

    def _answer_from(self, question: str, query: str, hits: list[Hit]) -> RenderedAnswer:
        messages = answer_messages(query, hits, self.settings.answer.max_quotes)
        content = self._complete(messages)
        reply = self._parse(content, hits)
        if reply.refuse:
            return refusal(question, self.name, hits)
        quotes, failures = self._check(reply.claims, hits)
        for _ in range(self.settings.llm.repair_rounds):
            if not failures:
                break
            messages = [*messages, {"role": "assistant", "content": content}, repair_message(failures)]
            try:
                content = self._complete(messages)
                repaired = self._parse(content, hits)
            except EndpointFailure:
                break  # keep what verified in the first round; the failed quotes are dropped
            more, failures = self._check(repaired.claims, hits, already=quotes)
            quotes += more
        quotes = quotes[: self.settings.answer.max_quotes]
        if not quotes:
            return refusal(question, self.name, hits)
        self._score_support(quotes)
        return render_answer(question, quotes, self.name, nearest=nearest_passages(hits))

    def _check(self, claims: list[Claim], hits: list[Hit],
               already: list[VerifiedQuote] | None = None) -> tuple[list[VerifiedQuote], list[tuple[Claim, str]]]:
        """Verified quotes (misattributions within the retrieved set re-cited) and the failures with reasons."""
        retrieved = {h.passage.id: h for h in hits}
        seen = {(q.source.id, q.start, q.end) for q in already or []}
        quotes: list[VerifiedQuote] = []
        failures: list[tuple[Claim, str]] = []
        for claim in claims:
            cited = claim.passage_id if claim.passage_id in retrieved else self._holding_passage(claim.quote, hits)
            match = self.verifier.verify(claim.quote, cited or claim.passage_id, list(retrieved))
            recitable = match.status is QuoteStatus.MISATTRIBUTED and match.passage_id in retrieved
            if match.status is not QuoteStatus.VERIFIED and not recitable:
                failures.append((claim, f"{match.status.value}: {match.detail}"))
                continue
            hit = retrieved.get(match.passage_id or "")
            if hit is None:  # verified in a passage of the cited source that was not retrieved
                failures.append((claim, "the quotation is not in any of the passages provided"))
                continue
            key = (hit.source.id, match.start, match.end)
            if key in seen:
                continue
            seen.add(key)
            quotes.append(VerifiedQuote(unwrap(claim.quote), hit.source, hit.passage, match.start, match.end,
                                        lead=claim.text or None))
        return quotes, failures

    def _holding_passage(self, quote: str, hits: list[Hit]) -> str | None:
        """For a claim citing an id we never gave: the retrieved passage that holds the quote, if one does."""
        for hit in hits:
            text = self.index.source_text(hit.source.id)
            if locate(quote, text, hit.passage.start, hit.passage.end) is not None:
                return hit.passage.id
        return None

    def _score_support(self, quotes: list[VerifiedQuote]) -> None:
        pairs = [((q.lead or q.quote), unwrap(q.passage.text)) for q in quotes]
        for quote, support in zip(quotes, self.scorer.scores(pairs), strict=True):
            quote.support = float(support)

    def _rewrite(self, question: str, history: list[Message]) -> str:
        rewritten = self._complete(rewrite_messages(question, history), json_reply=False).strip()
        return rewritten.strip('"“”') or question

    def _parse(self, content: str, hits: list[Hit]) -> Reply:
        try:
            return parse_reply(content, hits)
        except ReplyError as exc:
            raise EndpointFailure(f"unusable reply: {exc}") from exc

    def _complete(self, messages: list[dict[str, str]], json_reply: bool = True) -> str:
        extra = {"response_format": {"type": "json_object"}} if json_reply and self._json_mode else {}
        try:
            response = self.client.chat.completions.create(
                model=self.settings.llm.model, messages=messages, temperature=0, **extra)
        except openai.BadRequestError as exc:
            if not extra:
                raise EndpointFailure(f"request rejected: {_reason(exc)}") from exc
            self._json_mode = False  # some OpenAI-compatible servers reject response_format; ask in the prompt only
            return self._complete(messages, json_reply)
        except openai.APIStatusError as exc:
            raise EndpointFailure(f"HTTP {exc.status_code}: {_reason(exc)}") from exc
        except openai.APITimeoutError as exc:
            raise EndpointFailure("timed out") from exc
        except openai.APIConnectionError as exc:
            raise EndpointFailure("cannot connect") from exc
        except openai.OpenAIError as exc:
            raise EndpointFailure(_reason(exc)) from exc
        if not response.choices or response.choices[0].message.content is None:
            raise EndpointFailure("the reply has no message content")
        return response.choices[0].message.content


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
