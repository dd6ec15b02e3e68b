"""OpenAI-compatible /v1/models and /v1/chat/completions; citations travel as structured message annotations."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from citewise.answers import engine_names
from citewise.core.answer import Answer, AnswerEngine, Message
from citewise.server.deps import LoadedDep, SettingsDep
from citewise.server.errors import logged_error
from citewise.server.routes.ask import checked_question
from citewise.server.sse import SSE_HEADERS, in_thread, sse

router = APIRouter(tags=["openai"])

MODEL_PREFIX = "citewise"
CREATED = int(time.time())


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    @field_validator("content")
    @classmethod
    def _text_parts_hold_text(cls, content: str | list[dict[str, Any]] | None):
        # {"type": "text", "text": null} must not become the question "None".
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "text" and not isinstance(part.get("text"), str):
                raise ValueError("a content part of type 'text' needs a string 'text'")
        return content

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    # Sampling options (temperature, max_tokens, ...) are accepted and ignored: answers are quotations.
    model_config = ConfigDict(extra="allow")

    model: str = MODEL_PREFIX
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


def engine_for_model(model: str, default: str) -> str:
    """citewise -> the default engine; citewise-offline / citewise-llm (or plain offline / llm) -> that engine."""
    name = model.removeprefix(f"{MODEL_PREFIX}-") if model != MODEL_PREFIX else default
    if name not in engine_names():
        known = ", ".join([MODEL_PREFIX] + [f"{MODEL_PREFIX}-{n}" for n in engine_names()])
        raise HTTPException(404, f"model {model!r} does not exist; use one of {known} (see /v1/models)")
    return name


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """The last user message is the question; the turns before it are the history."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise HTTPException(422, "messages: no message with role 'user'")
    history = []
    for message in messages[:last_user]:
        role = "system" if message.role == "developer" else message.role
        if role in ("system", "user", "assistant") and message.text():
            history.append(Message(role=role, content=message.text()))
    return messages[last_user].text(), history


def annotations(answer: Answer) -> list[dict]:
    return [{"type": "citation", "citation": c.model_dump(mode="json")} for c in answer.citations]


def extras(answer: Answer) -> dict:
    """What the Markdown alone does not say, under one namespaced key (clients read it from model_extra)."""
    return {"refused": answer.refused, "refusal_reason": answer.refusal_reason, "engine": answer.engine,
            "nearest": [p.model_dump(mode="json") for p in answer.nearest]}


@router.get("/v1/models")
async def list_models(settings: SettingsDep) -> dict:
    names = [MODEL_PREFIX] + [f"{MODEL_PREFIX}-{name}" for name in engine_names()]
    return {"object": "list", "data": [{"id": name, "object": "model", "created": CREATED, "owned_by": "citewise"}
                                       for name in names]}


def _chunk(completion_id: str, model: str, delta: dict, finish: str | None = None, **extra: Any) -> str:
    return sse({"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})


async def chunks(engine: AnswerEngine, question: str, history: list[Message], model: str) -> AsyncIterator[str]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    yield _chunk(completion_id, model, {"role": "assistant", "content": ""})
    try:
        async for event in in_thread(engine.stream(question, history)):
            if event.type == "text" and event.text:
                yield _chunk(completion_id, model, {"content": event.text})
            elif event.type == "done" and event.answer is not None:
                yield _chunk(completion_id, model, {"annotations": annotations(event.answer)}, "stop",
                             citewise=extras(event.answer))
    except Exception as exc:  # headers are sent: the error goes in the stream, as OpenAI's own API does
        message = f"answering failed: {logged_error(exc, 'streamed /v1/chat/completions')}"
        yield sse({"error": {"message": message, "type": "api_error", "code": 500}})
    yield sse("[DONE]")


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, loaded: LoadedDep, settings: SettingsDep):
    """Answers the last user message; the Markdown answer is the content, each citation an annotation."""
    engine_name = engine_for_model(body.model, settings.answer.engine)
    question, history = split_messages(body.messages)
    question = checked_question(question, settings)
    engine = await run_in_threadpool(loaded.engine, engine_name)
    if body.stream:
        return StreamingResponse(chunks(engine, question, history, body.model), media_type="text/event-stream",
                                 headers=SSE_HEADERS)
    answer = await run_in_threadpool(engine.answer, question, history)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": body.model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
            "role": "assistant", "content": answer.answer, "refusal": None, "annotations": annotations(answer)}}],
        "usage": None, "citewise": extras(answer),
    }
