"""Reading a model's reply claim by claim, while it is still being written.

Every {...} object holding a "cite" is a claim, parsed the moment its closing brace arrives. That one rule
covers clean JSON, JSON fenced or wrapped in prose, a reply cut off at max_tokens (the claims closed before the cut
are kept) and a reply whose JSON breaks halfway (the well-formed claims on either side are kept).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass

_CITE_KEYS = ("cite", "cites", "citations", "ids", "id")
# "S3.2", "s3.2", "[S3.2]", "3.2": what a model without a schema writes for the id S3.2.
_ID = re.compile(r"^\[?\s*[Ss]?\s*(\d+)\s*\.\s*(\d+)\s*\]?$")


@dataclass(frozen=True)
class Claim:
    text: str
    cites: tuple[str, ...]  # the ids cited that were given, in the model's order
    unknown: int = 0  # ids cited that were not given (a server that ignores the schema): dropped and counted


@dataclass(frozen=True)
class Reply:
    claims: list[Claim]
    refuse: bool


class ReplyError(ValueError):
    """The model's reply holds nothing we can read as claims."""


class ClaimScanner:
    """Feed it the reply as it streams; each call returns the claims completed by that piece.

    It tracks JSON strings and braces itself (rather than re-parsing the growing text) so that a claim is known
    to be complete at its closing brace, and so that one malformed object does not hide the ones after it.
    """

    def __init__(self, ids: Collection[str], max_object_chars: int = 20_000) -> None:
        self.ids = frozenset(ids)
        self.max_object_chars = max_object_chars
        self.text = ""
        self.claims: list[Claim] = []
        self.refuse = False
        self.declined = False  # a well-formed {"claims": [], ...}: the model chose to give none
        self.malformed = 0  # objects that looked like claims but are not valid JSON or cite nothing
        self._scanned = 0
        self._open: list[int] = []
        self._in_string = False
        self._escaped = False
        self._closing = False  # a string's quote mark was just read: closing, unless what follows says otherwise
        self._last_brace = 0

    @property
    def runaway(self) -> bool:
        """No brace for longer than any claim could run: the model is looping inside a string or in prose."""
        return len(self.text) - self._last_brace > self.max_object_chars

    def feed(self, piece: str) -> list[Claim]:
        self.text += piece
        found: list[Claim] = []
        for i in range(self._scanned, len(self.text)):
            claim = self._step(i, self.text[i])
            if claim is not None:
                found.append(claim)
        self._scanned = len(self.text)
        self.claims += found
        return found

    def _step(self, i: int, ch: str) -> Claim | None:
        if self._closing:
            # A string's closing quote must be followed by one of :,}] — else it was a quotation mark the model
            # forgot to escape, and the string goes on (one stray mark must not turn the rest inside out).
            if ch.isspace():
                return None
            self._closing = False
            self._in_string = ch not in ":,}]"
        if self._in_string:
            if self._escaped:
                self._escaped = False
            elif ch == "\\":
                self._escaped = True
            elif ch == '"':
                self._in_string, self._closing = False, True
        elif ch == '"':
            self._in_string = True
        elif ch == "{":
            self._open.append(i)
            self._last_brace = i
        elif ch == "}" and self._open:
            self._last_brace = i
            return self._object(self.text[self._open.pop() : i + 1])
        return None

    def finish(self) -> Reply:
        """The reply so far as a whole; ReplyError when it holds neither a claim nor a readable claims object."""
        if self.claims or self.declined or self.refuse:
            return Reply(list(self.claims), self.refuse)
        raise ReplyError(self.problem())

    def problem(self) -> str:
        if not self.text.strip():
            return "the model returned an empty reply"
        if self.malformed:
            return f"{self.malformed} claim object(s) are not valid JSON or cite no sentence"
        if "{" not in self.text:
            return "the reply holds no JSON object"
        if self._open:
            return "the reply's JSON is cut off before its first claim ends"
        return "the reply's JSON holds no claims"

    def _object(self, raw: str) -> Claim | None:
        try:
            data = json.loads(raw, strict=False)  # strict=False: raw newlines inside strings, as small models write
        except json.JSONDecodeError:
            if '"cite' in raw:
                self.malformed += 1
            return None
        if not isinstance(data, dict):
            return None
        cited = next((data[key] for key in _CITE_KEYS if data.get(key) not in (None, "", [])), None)
        if cited is None:
            self._outer(data)
            return None
        values = cited if isinstance(cited, list) else re.split(r"[,;\s]+(?=\[?[Ss]?\d)", str(cited).strip())
        written = [normalise_id(value) for value in values]
        known = tuple(dict.fromkeys(i for i in written if i in self.ids))
        text = data.get("text") or data.get("claim") or ""
        return Claim(str(text).strip(), known, unknown=sum(i not in self.ids for i in written))

    def _outer(self, data: dict) -> None:
        if data.get("refuse") is True:
            self.refuse = True
        if "claims" not in data:
            return
        if not isinstance(data["claims"], list):
            self.malformed += 1
        elif not data["claims"]:
            self.declined = True


def parse_reply(content: str | None, ids: Collection[str]) -> Reply:
    """A whole reply (not streamed) read the same way."""
    scanner = ClaimScanner(ids)
    scanner.feed(content or "")
    if scanner.malformed and not scanner.claims and not scanner.declined:
        raise ReplyError(scanner.problem())
    return scanner.finish()


def normalise_id(value: object) -> str:
    """A sentence id as the model wrote it, in the form we gave ("[s3.2]" -> "S3.2"); anything else as written."""
    raw = str(value).strip()
    match = _ID.match(raw)
    return f"S{int(match.group(1))}.{int(match.group(2))}" if match else raw
