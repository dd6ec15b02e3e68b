"""A small OpenAI-compatible server on loopback for tests: replies are queued by the test, requests recorded.

It scripts what a real model will not do on demand: an error of a given status and message (context overflow,
response_format refused), a reply cut off at max_tokens, and a streamed reply that pauses at a chosen point
until the test lets it go on."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PIECE_CHARS = 12  # a streamed reply arrives in pieces of this many characters, as tokens would


@dataclass
class ScriptedReply:
    content: str | None = None  # the assistant message text
    status: int = 200  # anything but 200 is sent as an OpenAI-style error body
    message: str = "scripted failure"
    code: str | None = None
    finish: str = "stop"
    pause_after: str | None = None  # a streamed reply waits after this text until the test calls resume()


@dataclass
class FakeOpenAI:
    """`with FakeOpenAI() as fake:` serves on fake.base_url until the block ends."""

    replies: deque[ScriptedReply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    model: str = "fake-model"

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.paused = threading.Event()  # set while a streamed reply waits at its pause_after point
        self._resume = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, content: str | dict, finish: str = "stop", pause_after: str | None = None) -> None:
        text = json.dumps(content) if isinstance(content, dict) else content
        if pause_after is not None:
            self.paused.clear()
            self._resume.clear()
        self.replies.append(ScriptedReply(text, finish=finish, pause_after=pause_after))

    def fail(self, status: int = 500, message: str = "scripted failure", code: str | None = None) -> None:
        self.replies.append(ScriptedReply(status=status, message=message, code=code))

    def resume(self) -> None:
        self._resume.set()

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._resume.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _completion(model: str, content: str, finish: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, model: str, reply: ScriptedReply) -> None:
            content = reply.content or ""
            pause = content.find(reply.pause_after) + len(reply.pause_after) if reply.pause_after else -1
            cuts = sorted({*range(0, len(content), PIECE_CHARS), *([pause] if pause > 0 else []), len(content)})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                self.wfile.write(_chunk(model, {"role": "assistant", "content": ""}))
                for start, end in zip(cuts, cuts[1:], strict=False):
                    if start == pause:
                        self.wfile.flush()
                        fake.paused.set()
                        fake._resume.wait(timeout=120)
                    self.wfile.write(_chunk(model, {"content": content[start:end]}))
                    self.wfile.flush()
                self.wfile.write(_chunk(model, {}, reply.finish))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading, as the engine does once it has enough

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "test"}]})
            else:
                self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                return
            fake.requests.append(body)
            if not fake.replies:
                self._send(500, {"error": {"message": "no scripted reply left", "type": "server_error"}})
                return
            reply = fake.replies.popleft()
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": reply.message, "type": "invalid_request_error",
                                                    "code": reply.code}})
                return
            model = body.get("model", fake.model)
            if body.get("stream"):
                self._stream(model, reply)
            else:
                self._send(200, _completion(model, reply.content or "", reply.finish))

    return Handler
