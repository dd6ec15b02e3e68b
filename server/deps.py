"""The request dependencies, declared once: the service state, the live index, the settings, the API key check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from citewise.core.settings import Settings
from citewise.server.state import LoadedIndex, ServiceState


async def _service(request: Request) -> ServiceState:
    return request.app.state.service


ServiceDep = Annotated[ServiceState, Depends(_service)]


async def _settings(service: ServiceDep) -> Settings:
    return service.settings


SettingsDep = Annotated[Settings, Depends(_settings)]


async def _loaded(service: ServiceDep) -> AsyncIterator[LoadedIndex]:
    # Borrowed once: the whole request, a streamed answer included (FastAPI leaves this dependency after the
    # response is sent), uses one generation, and a generation replaced meanwhile is closed when it ends.
    loaded = service.borrow()
    if loaded is None:
        raise HTTPException(503, f"index not loaded: {service.unavailable_reason()}")
    try:
        yield loaded
    finally:
        loaded.release()


LoadedDep = Annotated[LoadedIndex, Depends(_loaded)]

