"""citewise: answers built from verified, verbatim quotations of their sources.

    import citewise

    with citewise.open(".citewise") as library:          # or a postgresql:// URL; None: as the settings say
        answer = library.ask("What are James's marks of mystical states?")

`open` is citewise.library.open_library (imported on first call, so `import citewise.core...` stays light).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citewise.core.embedding import Embedder
    from citewise.core.settings import Settings
    from citewise.library import Library

__version__ = "0.1.0"
__all__ = ["__version__", "open"]


def open(index: str | os.PathLike[str] | None = None, *, settings: Settings | None = None,  # noqa: A001
         embedder: Embedder | None = None) -> Library:
    """The index at `index` (a folder, or a postgresql:// URL; None: the one the settings name) as a Library with
    .ask(question, filters=..., engine=...), .search(query, k=..., mode=..., filters=...) and .sources()."""
    from citewise.library import open_library

    return open_library(index, settings=settings, embedder=embedder)
