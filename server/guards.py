"""Who may talk to the service: the Host header must name this service (DNS rebinding), and with an API key set,
every route but the liveness probe and the chat page's own files needs it, checked before anything reads the body."""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from citewise.server.errors import error_body
from citewise.server.middleware import is_page, send_json


def host_name(header: str) -> str:
    """'example.org:8000' -> 'example.org'; '[::1]:8000' -> '::1'; lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AllowedHostsMiddleware:
    """Refuses a request whose Host header names another host: a page on evil.example whose name was rebound to
    127.0.0.1 reaches a keyless service on loopback, but its requests still say Host: evil.example."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = {host_name(name) for name in allowed}
        self.any = "*" in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.any:
            header = dict(scope["headers"]).get(b"host")
            name = host_name(header.decode("latin-1")) if header is not None else None
            if name is not None and name not in self.allowed:
                await send_json(send, 400, error_body(400, (
                    f"host {name!r} is not served here; add it to CITEWISE_SERVER__ALLOWED_HOSTS if it names this "
                    "service")))
                return
        await self.app(scope, receive, send)


class ApiKeyMiddleware:
    """With an API key set, a request without 'Authorization: Bearer <key>' gets 401 before routing, so no route,
    schema or body validation answers first. CORS preflights pass: browsers never send credentials with them."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or _open(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode("latin-1"), self.expected):
            await self.app(scope, receive, send)
            return
        await send_json(send, 401, error_body(401, "missing or wrong API key: send 'Authorization: Bearer <key>'"),
                        headers=[(b"www-authenticate", b"Bearer")])


def _open(path: str) -> bool:
    # Open without the key: the liveness probe, and the page and its files (the page asks for the key itself and
    # sends it with every API call).
    return path == "/healthz" or is_page(path)
