"""Liveness and readiness probes (open even when an API key is configured)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="the process is alive")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="an index is loaded and the service can answer (503 until then)")
async def readyz(service: ServiceDep) -> JSONResponse:
    loaded = service.current
    if loaded is None:
        reason = service.last_error or f"no index at {service.settings.index}"
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready", "generation": loaded.token, "sources": len(loaded.index.sources),
                         "passages": loaded.index.passage_count(), "engine": loaded.engine_error or "ready"})
