"""Answers built from verified quotations, in rooms of one idea each: `offline` (the composing engine), `llm` (a
model writes, the verifier checks), `quotes` (verifier and support scorer), `output` (rendering, exports, notice)
and `reader` (the sentence reader). Code outside answers/ imports `citewise.answers` or one room, never a module
inside a room (an import-linter contract). Names load lazily: importing one room does not import the others."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citewise.answers.engines import EngineParts, build_engine, engine_names, register_engine

__all__ = ["EngineParts", "build_engine", "engine_names", "register_engine"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from citewise.answers import engines

        return getattr(engines, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
