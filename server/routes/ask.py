"""POST /v1/ask: the Answer contract, whole or as server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from citewise.core.answer import Answer, AnswerEngine, Message
from citewise.core.errors import CitewiseError
from citewise.core.retrieval import FilterRequest, SearchFilters
from citewise.core.settings import Settings
from citewise.retrieval.filters import resolve_filters
from citewise.server.deps import LoadedDep, SettingsDep
from citewise.server.errors import logged_error
from citewise.server.sse import SSE_HEADERS, in_thread, sse
from citewise.server.state import LoadedIndex

router = APIRouter(tags=["answers"])


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="the question (at most server.max_question_chars characters)")
    history: list[Message] = Field(default_factory=list, max_length=100,
                                   description="earlier turns, oldest first, for follow-up questions")
    engine: Literal["offline", "llm"] | None = Field(None, description="default: the answer.engine setting")
    stream: bool = Field(False, description="answer as server-sent events: text, citation, then done")
    filters: FilterRequest | None = Field(None, description="answer only from the sources these let through")


def checked_question(question: str, settings: Settings) -> str:
    question = question.strip()
    limit = settings.server.max_question_chars
    if not question:
        raise HTTPException(422, "question: must not be empty")
    if len(question) > limit:
        raise HTTPException(422, f"question: {len(question)} characters; at most {limit} are accepted")
    return question


def checked_filters(request: FilterRequest | None, loaded: LoadedIndex) -> SearchFilters:
    try:
        return resolve_filters(request, loaded.index.sources)
    except CitewiseError as exc:
        raise HTTPException(422, f"filters: {exc}") from exc


async def answer_events(engine: AnswerEngine, question: str, history: list[Message],
                        filters: SearchFilters) -> AsyncIterator[str]:
    try:
        async for event in in_thread(engine.stream(question, history, filters)):
            if event.type == "text":
                yield sse({"text": event.text or ""}, "text")
            elif event.type == "citation" and event.citation is not None:
                yield sse(event.citation.model_dump(mode="json"), "citation")
            elif event.type == "done" and event.answer is not None:
                yield sse(event.answer.model_dump(mode="json"), "done")
    except Exception as exc:  # the status line is already sent: report the failure as the stream's last event
        yield sse({"message": f"answering failed: {logged_error(exc, 'streamed /v1/ask')}"}, "error")


@router.post("/v1/ask", response_model=Answer,
             responses={200: {"content": {"text/event-stream": {}}, "description": "Answer, or SSE when stream"}})
async def ask(body: AskRequest, loaded: LoadedDep, settings: SettingsDep):
    """Answers from verified quotations of the indexed sources, or refuses with the nearest passages."""
    question = checked_question(body.question, settings)
    filters = checked_filters(body.filters, loaded)
    engine = await run_in_threadpool(loaded.engine, body.engine)
    if body.stream:
        return StreamingResponse(answer_events(engine, question, body.history, filters),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    return await run_in_threadpool(engine.answer, question, body.history, filters)
