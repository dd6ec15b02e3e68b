"""Reading a model's reply claim by claim, while it is still being written.

Every {...} object holding a "quote" is a claim, parsed the moment its closing brace arrives. That one rule
covers clean JSON, JSON fenced or wrapped in prose, a reply cut off at max_tokens (the claims closed before the cut
are kept) and a reply whose JSON breaks halfway (the well-formed claims on either side are kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from citewise.core.retrieval import Hit

_PASSAGE_KEYS = ("passage", "passage_id", "passage_n", "n", "id")


@dataclass(frozen=True)
class Claim:
    text: str
    quote: str
    passage_id: str  # a retrieved passage's id, or what the model wrote when it names none of them
    cited: int | str  # as the model wrote it (a passage number, normally), for repair requests


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

    def __init__(self, hits: list[Hit], max_object_chars: int = 20_000) -> None:
        self.hits = hits
        self.max_object_chars = max_object_chars
        self.text = ""
        self.claims: list[Claim] = []
        self.refuse = False
        self.declined = False  # a well-formed {"claims": [], ...}: the model chose to give none
        self.malformed = 0  # objects that looked like claims but are not valid JSON or lack a quote
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
            return f"{self.malformed} claim object(s) are not valid JSON or have no quote"
        if "{" not in self.text:
            return "the reply holds no JSON object"
        if self._open:
            return "the reply's JSON is cut off before its first claim ends"
        return "the reply's JSON holds no claims"

    def _object(self, raw: str) -> Claim | None:
        try:
            data = json.loads(raw, strict=False)  # strict=False: raw newlines inside strings, as small models write
        except json.JSONDecodeError:
            if '"quote"' in raw:
                self.malformed += 1
            return None
        if not isinstance(data, dict):
            return None
        if "quote" not in data:
            self._outer(data)
            return None
        quote = _strip_quote_marks(str(data.get("quote") or "").strip())
        cited = next((data[key] for key in _PASSAGE_KEYS if data.get(key) not in (None, "")), None)
        passage_id = passage_id_for(cited, self.hits)
        if not quote or passage_id is None:
            self.malformed += 1
            return None
        text = data.get("text") or data.get("claim") or ""
        return Claim(str(text).strip(), quote, passage_id, cited if isinstance(cited, int | str) else str(cited))

    def _outer(self, data: dict) -> None:
        if data.get("refuse") is True:
            self.refuse = True
        if "claims" not in data:
            return
        if not isinstance(data["claims"], list):
            self.malformed += 1
        elif not data["claims"]:
            self.declined = True


def parse_reply(content: str | None, hits: list[Hit]) -> Reply:
    """A whole reply (not streamed) read the same way."""
    scanner = ClaimScanner(hits)
    scanner.feed(content or "")
    if scanner.malformed and not scanner.claims and not scanner.declined:
        raise ReplyError(scanner.problem())
    return scanner.finish()


def passage_id_for(value: object, hits: list[Hit]) -> str | None:
    """A passage number (1, "2", "P2", "[3]") or id as the model wrote it, as a passage id; an id we never gave
    is kept as written, for the engine to look for the quote itself."""
    if value is None or isinstance(value, bool):
        return None
    raw = str(value).strip()
    if not raw:
        return None
    if any(h.passage.id == raw for h in hits):
        return raw
    number = raw.strip("[]").removeprefix("P").removeprefix("p").strip()
    if number.isdigit() and 1 <= int(number) <= len(hits):
        return hits[int(number) - 1].passage.id
    return raw


def _strip_quote_marks(quote: str) -> str:
    """Models often wrap the quote in quotation marks of their own."""
    pairs = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»"}
    if len(quote) >= 2 and pairs.get(quote[0]) == quote[-1]:
        return quote[1:-1].strip()
    return quote
