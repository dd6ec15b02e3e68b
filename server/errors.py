"""One JSON error shape for every failure ({"error": {"message", "type", "code"}}, as OpenAI clients expect)."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from citewise.core.errors import CitewiseError

log = logging.getLogger("citewise.server")

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          413: "request_too_large", 422: "invalid_request_error", 503: "service_unavailable"}


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class ErrorBody(BaseModel):
    """Every error the API sends, in the shape OpenAI clients expect."""

    error: ErrorDetail


_DECLARED = {400: "invalid input (a CitewiseError: an unknown engine, a bad span, ...)",
             401: "missing or wrong API key (when one is configured)", 404: "no such source or model",
             413: "request body too large", 422: "the request does not match the schema",
             500: "internal error: an id to find it in the service's log", 503: "no index loaded yet"}
# Declared on every API route, so the OpenAPI schema says what a client can get back.
ERROR_RESPONSES: dict[int | str, dict] = {status: {"model": ErrorBody, "description": description}
                                          for status, description in _DECLARED.items()}


def logged_error(exc: BaseException, where: str) -> str:
    """Logs an internal error under a new id and returns what the client is told: the id, never the exception's
    text, which may hold paths, SQL or corpus text."""
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s in %s", error_id, where, exc_info=exc)
    return f"internal error (id {error_id}); the service's log has the details"


def error_body(status: int, message: str) -> dict:
    """The one error shape, whether a handler or a middleware (before routing) sends it."""
    return {"error": {"message": message, "type": _TYPES.get(status, "api_error"), "code": status}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, logged_error(exc, f"{request.method} {request.url.path}"))

    @app.exception_handler(CitewiseError)
    async def user_error(_: Request, exc: CitewiseError) -> JSONResponse:
        return error_response(400, str(exc))
