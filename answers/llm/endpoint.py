"""One OpenAI-compatible chat endpoint, remote or local: replies streamed, max_tokens always sent, response_format
used as far as the server accepts it, the model's tokenizer used when the server exposes it, and every failure
turned into an EndpointFailure the engine can fall back on."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai

from citewise.answers.llm.context import EstimatedTokens, TokenCounter
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings

ENDPOINT_CONTEXT_TOKENS = 8192
# The ways of asking for JSON, most constraining first; a server that refuses one is asked the next way.
RESPONSE_FORMATS = ("json schema", "json object", "prompt only")
_OVERFLOW = re.compile(r"context|too long|too many tokens|maximum.*tokens|exceed", re.IGNORECASE)
_WINDOW = re.compile(r"(?:context (?:length|window|size)|maximum context length)\D{0,20}(\d{3,7})", re.IGNORECASE)


# llama-cpp-python's server penalises by default (1.1) every token among the last 64, prompt included. A reply of
# ids repeats tokens by nature: after `"S1.` the "1" of S1.1 was just written, so the penalty steers the model to
# S1.2 (SmolLM2 cited the first sentence, the offline engine's most direct, in 13 of 43 validation answers).
LOCAL_SAMPLING = {"repeat_penalty": 1.0}


class EndpointFailure(Exception):
    """The LLM endpoint could not give a usable reply (unreachable, timed out, refused, broke off)."""


class ContextOverflow(EndpointFailure):
    """The server says the prompt does not fit; `window` is its context size when it says so."""

    def __init__(self, message: str, window: int | None) -> None:
        super().__init__(message)
        self.window = window


class ReplyStream:
    """The text pieces of one reply as they arrive; text, finish_reason and timings fill in as it is read."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self.first_piece: float | None = None
        self.ended: float | None = None
        self.text = ""
        self.finish_reason: str | None = None
        self.stopped_early = False

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in self._response:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                piece = choice.delta.content if choice.delta is not None else None
                if piece:
                    if self.first_piece is None:
                        self.first_piece = time.perf_counter()
                    self.text += piece
                    yield piece
                if choice.finish_reason:
                    self.finish_reason = choice.finish_reason
        except openai.APITimeoutError as exc:
            raise EndpointFailure("timed out while writing") from exc
        except Exception as exc:  # mid-stream the transport's own errors (httpx2) arrive unwrapped
            if self.stopped_early:
                return
            raise EndpointFailure(f"the reply broke off ({_reason(exc)})") from exc
        finally:
            self.ended = time.perf_counter()
        if not self.text and self.finish_reason is None:
            raise EndpointFailure("the reply stream ended without any text")

    def stop(self) -> None:
        """Stops reading (enough claims, or a looping model); the server sees the connection close."""
        self.stopped_early = True
        close = getattr(self._response, "close", None)
        if close is not None:
            close()


class ChatEndpoint:
    def __init__(self, client: openai.OpenAI, model: str, counter: TokenCounter, context_tokens: int,
                 label: str, before_request: Callable[[], None] | None = None,
                 sampling: dict[str, Any] | None = None) -> None:
        """`sampling`: parameters beyond OpenAI's that this server takes (sent as extra body fields)."""
        self.client = client
        self.model = model
        self.counter = counter
        self.context_tokens = context_tokens
        self.label = label  # names the endpoint in notes and benchmarks
        self.before_request = before_request
        self.sampling = sampling or {}
        self.format = 0  # index into RESPONSE_FORMATS

    def stream(self, messages: list[dict[str, str]], max_tokens: int, schema: dict | None = None) -> ReplyStream:
        while True:
            extra = self._response_format(schema)
            try:
                response = self._create(messages, max_tokens, stream=True, **extra)
                return ReplyStream(response)
            except _Refused as refused:
                if not extra or self.format + 1 >= len(RESPONSE_FORMATS):
                    raise EndpointFailure(f"request rejected: {refused}") from None
                self.format += 1  # e.g. response_format unsupported: ask the next way, and remember

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        """A short plain-text reply (a follow-up's standalone rewrite)."""
        try:
            response = self._create(messages, max_tokens, stream=False)
        except _Refused as refused:
            raise EndpointFailure(f"request rejected: {refused}") from None
        if not response.choices or response.choices[0].message.content is None:
            raise EndpointFailure("the reply has no message content")
        return response.choices[0].message.content

    def _response_format(self, schema: dict | None) -> dict:
        kind = RESPONSE_FORMATS[self.format]
        if kind == "json schema" and schema is not None:
            # llama.cpp servers read a "schema" beside json_object and constrain decoding with it.
            return {"response_format": {"type": "json_object", "schema": schema}}
        if kind in ("json schema", "json object"):
            return {"response_format": {"type": "json_object"}}
        return {}

    def _create(self, messages: list[dict[str, str]], max_tokens: int, stream: bool, **extra: Any) -> Any:
        if self.before_request is not None:
            try:
                self.before_request()
            except CitewiseError as exc:  # e.g. a local model that died and cannot be started again
                raise EndpointFailure(str(exc)) from exc
        try:
            return self.client.chat.completions.create(model=self.model, messages=messages, temperature=0,
                                                       max_tokens=max_tokens, stream=stream,
                                                       extra_body=self.sampling or None, **extra)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            reason = _reason(exc)
            if _OVERFLOW.search(reason) and "response_format" not in reason:
                window = _WINDOW.search(reason)
                raise ContextOverflow(f"the prompt does not fit: {reason}",
                                      int(window.group(1)) if window else None) from exc
            raise _Refused(reason) from exc
        except openai.APIStatusError as exc:
            raise EndpointFailure(f"HTTP {exc.status_code}: {_reason(exc)}") from exc
        except openai.APITimeoutError as exc:
            raise EndpointFailure("timed out") from exc
        except openai.APIConnectionError as exc:
            raise EndpointFailure("cannot connect") from exc
        except openai.OpenAIError as exc:
            raise EndpointFailure(_reason(exc)) from exc


class _Refused(Exception):
    """A 400/422 that is not about the prompt's length: perhaps the response_format."""


def extras_token_count(root: str, text: str, timeout_s: float, headers: dict[str, str] | None = None) -> int:
    """Tokens of `text` in the model's own tokenizer, asked of llama-cpp-python's server at `root` (no /v1)."""
    response = httpx.post(f"{root}/extras/tokenize/count", json={"input": text}, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return int(response.json()["count"])


class ServerTokenizer:
    """The model's own tokenizer behind an llama.cpp-style endpoint, when it has one; else an estimate."""

    def __init__(self, root: str, api_key: str | None, timeout_s: float = 5.0) -> None:
        self.root = root.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s
        self._ask: Callable[[str], int] | None = None
        self._estimate: EstimatedTokens | None = None
        self._probed = False

    def count(self, text: str) -> int:
        if not self._probed:
            self._probe()
        if self._ask is not None:
            try:
                return self._ask(text)
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                self._ask = None
        if self._estimate is None:
            self._estimate = EstimatedTokens()
        return self._estimate.count(text)

    def _probe(self) -> None:
        """llama-cpp-python: POST /extras/tokenize/count; llama.cpp's server: POST /tokenize."""
        self._probed = True
        for ask in (self._extras_count, self._llama_tokenize):
            try:
                if ask("probe") > 0:
                    self._ask = ask
                    return
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                continue

    def _extras_count(self, text: str) -> int:
        return extras_token_count(self.root, text, self.timeout_s, self.headers)

    def _llama_tokenize(self, text: str) -> int:
        response = httpx.post(f"{self.root}/tokenize", json={"content": text}, headers=self.headers,
                              timeout=self.timeout_s)
        response.raise_for_status()
        return len(response.json()["tokens"])


def connect(settings: Settings) -> ChatEndpoint:
    """The local model when llm.local_model is set, else the configured OpenAI-compatible endpoint."""
    llm = settings.llm
    if llm.local_model is not None:
        from citewise.answers.llm.local_model import local_server

        server = local_server(llm)
        client = openai.OpenAI(base_url=server.base_url, api_key="local", timeout=llm.timeout_s, max_retries=0)

        def running_server() -> None:
            server.ensure_running()
            if str(client.base_url).rstrip("/") != server.base_url:  # started again, on another port
                client.base_url = server.base_url

        return ChatEndpoint(client, server.alias, server, server.context_tokens, f"local {server.alias}",
                            before_request=running_server, sampling=LOCAL_SAMPLING)
    base_url = llm.base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = llm.api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        if not base_url:
            raise CitewiseError("the llm engine needs CITEWISE_LLM__LOCAL_MODEL (a .gguf file), or OPENAI_API_KEY "
                                "(and OPENAI_BASE_URL for a non-OpenAI endpoint); or use --engine offline")
        api_key = "unused"  # local OpenAI-compatible servers often need no key, but the client insists on one
    # One retry: a dead endpoint should fall back to the offline engine quickly, not after minutes of backoff.
    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=llm.timeout_s, max_retries=1)
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    counter = ServerTokenizer(root, api_key) if base_url else EstimatedTokens()
    return ChatEndpoint(client, llm.model, counter, llm.context_tokens or ENDPOINT_CONTEXT_TOKENS, llm.model)


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
