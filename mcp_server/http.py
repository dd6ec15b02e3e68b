"""/mcp of `citewise serve`: the MCP server over streamable HTTP, as an ASGI endpoint inside the service's app."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from citewise.mcp_server.server import build_server
from citewise.mcp_server.service import ServiceGetter


class StreamableHttpEndpoint:
    """An ASGI app for one route (`app.add_route("/mcp", endpoint)`); `running()` must enclose the serving, in the
    app's lifespan.

    Stateless, with JSON responses: each POST is answered on its own, so any replica behind a load balancer can
    take any request and no session is kept. The service's own middleware (Host header, API key, body size) stands
    in front of it, so the SDK's DNS-rebinding check is off: it would refuse the host names the service was told to
    answer to (CITEWISE_SERVER__ALLOWED_HOSTS)."""

    def __init__(self, service: ServiceGetter) -> None:
        self.server = build_server(service)
        self.server.streamable_http_app(
            stateless_http=True, json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self.manager = self.server.session_manager

    def running(self) -> AbstractAsyncContextManager[None]:
        return self.manager.run()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)
