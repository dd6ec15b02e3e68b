"""Filters as a reader states them (a year, kinds of source, sources by name) resolved against an index."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from citewise.core.errors import CitewiseError
from citewise.core.retrieval import FilterRequest, SearchFilters
from citewise.core.types import Source


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def source_names(source: Source) -> set[str]:
    """Every name a reader may use for a source: its id, file (with or without folder and extension), title,
    aliases."""
    path = PurePosixPath(source.file)
    names = {source.id, source.file, path.name, path.stem, source.title, *source.aliases}
    return {_normal(name) for name in names if name}


def resolve_sources(names: Iterable[str], sources: Mapping[str, Source]) -> frozenset[str]:
    """Source ids for names given by id, file name, alias or title (case-insensitive); an unknown name is an
    error that says where to look."""
    by_name: dict[str, set[str]] = {}
    for source in sources.values():
        for name in source_names(source):
            by_name.setdefault(name, set()).add(source.id)
    found: set[str] = set()
    for name in names:
        ids = by_name.get(_normal(name))
        if not ids:
            raise CitewiseError(f"source {name!r} is not in the index: name it by id, file name, alias or title "
                                "(see `citewise sources` or /v1/sources)")
        found |= ids
    return frozenset(found)


def index_kinds(sources: Mapping[str, Source]) -> list[str]:
    return sorted({source.kind for source in sources.values() if source.kind})


def resolve_filters(request: FilterRequest | None, sources: Mapping[str, Source]) -> SearchFilters:
    """SearchFilters for the request; an unknown kind or source, or an empty year range, is a CitewiseError."""
    if request is None or request.is_empty():
        return SearchFilters()
    if request.since is not None and request.until is not None and request.since > request.until:
        raise CitewiseError(f"the year range is empty: since {request.since} is after until {request.until}")
    kinds = frozenset(_normal(kind) for kind in request.kinds if kind.strip())
    known = index_kinds(sources)
    unknown = sorted(kinds - set(known))
    if unknown:
        raise CitewiseError(f"no source in the index is of kind {unknown[0]!r}; the kinds are: "
                            + (", ".join(known) or "none (the manifest gives no kind column)"))
    return SearchFilters(
        source_ids=resolve_sources(request.sources, sources) if request.sources else frozenset(),
        authors=frozenset(author for author in request.authors if author.strip()),
        year_min=request.since, year_max=request.until, kinds=kinds,
    )
