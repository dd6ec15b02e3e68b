"""`citewise remove SOURCE...`: takes sources out of the index by id or recorded file path, and publishes the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from citewise.core.errors import CitewiseError, IndexMissingError
from citewise.core.index import IndexStore
from citewise.core.types import Source


@dataclass
class RemoveReport:
    index_dir: str
    removed: list[Source] = field(default_factory=list)
    sources: int = 0  # left in the index
    passages: int = 0


def remove_sources(store: IndexStore, names: Sequence[str]) -> RemoveReport:
    """Removes the sources named by id or by the file path `citewise sources` shows; an unknown name changes
    nothing."""
    if not names:
        raise CitewiseError("name at least one source to remove (its id or file, as `citewise sources` lists them)")
    if store.current_token() is None:
        raise IndexMissingError(f"no index at {store.location}: nothing to remove")
    with store.writing() as writer:
        by_file = writer.sources_by_file()
        by_id = {source.id: source for source in by_file.values()}
        chosen: dict[str, Source] = {}
        unknown: list[str] = []
        for name in names:
            source = by_id.get(name) or by_file.get(name)
            if source is None:
                unknown.append(name)
            else:
                chosen[source.id] = source
        if unknown:
            raise CitewiseError(f"no source {', '.join(map(repr, unknown))} in {store.location} (see `citewise "
                                "sources`); nothing was removed")
        for source in chosen.values():
            writer.remove_source(source.id)
        facts = writer.publish()
    return RemoveReport(index_dir=store.location, removed=list(chosen.values()),
                        sources=len(by_file) - len(chosen), passages=int(facts["passages"]))
