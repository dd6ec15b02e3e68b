"""Liveness and readiness probes. /healthz is open; /readyz, which names the index, needs the API key when one is
set."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from citewise.server.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="the process is alive")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="an index is loaded and the service can answer (503 until then)",
            responses={503: {"description": "not ready: no index loaded yet, or the published one is broken"},
                       401: {"description": "missing or wrong API key (when one is configured)"}})
async def readyz(service: ServiceDep) -> JSONResponse:
    # With `serve --ingest`, the background ingest's state (running, finished, failed, stopped), so a client can
    # tell an index on its way from a missing one, and a first part from the whole. indexing: the index is on its
    # way (or growing), so waiting is worth it; the chat page holds questions and keeps polling meanwhile.
    ingest = ({"indexing": service.indexing(), "ingest": service.ingest_status()}
              if service.ingest_status is not None else {})
    loaded = service.borrow()
    if loaded is None:
        reason = service.last_error or (
            f"the corpus is being indexed into {service.location}; ready once its first part is published"
            if ingest.get("indexing") else f"no index at {service.location}")
        return JSONResponse({"status": "not ready", "reason": reason, **ingest}, status_code=503)
    try:
        facts = {"generation": loaded.token, "sources": len(loaded.index.sources),
                 "passages": loaded.index.passage_count(), "engine": loaded.engine_error or "ready", **ingest}
    finally:
        loaded.release()
    if service.last_error:
        # The published generation could not be loaded: the previous one still answers, but an operator must act.
        return JSONResponse({"status": "not ready", "reason": service.last_error, "serving": facts},
                            status_code=503)
    return JSONResponse({"status": "ready", **facts})
