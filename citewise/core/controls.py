"""Text from files, made safe to show: the one place control characters are escaped, for the terminal (the CLI's
output) and for exports and Markdown answers. A file's name, its metadata or its text must not drive a terminal
(ESC sequences, BEL), forge a line of output, or reorder what is shown (bidirectional controls)."""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (ESC [ and ESC ] start terminal sequences; 0x9b is CSI on its own in some
# terminals), and the bidirectional embeddings, overrides and isolates, which reorder the text around them.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u202a-\u202e\u2066-\u2069]")


def _escaped(character: str) -> str:
    return character.encode("unicode_escape").decode("ascii")  # '\x1b', '\n', '\u202e': visible, and inert


def escape_controls(text: str, keep: str = "\n\t") -> str:
    """`text` with every control character but those in `keep` written as its escape ('\\x1b'); for text shown
    over several lines (an answer's Markdown, a quotation), where line breaks and tabs are the text's own."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda m: m.group() if m.group() in keep else _escaped(m.group()), text)


def one_line(text: str | None) -> str:
    """`text` on one line: runs of white space (line breaks included) as one space, other controls escaped; for a
    field of metadata in an export or a row of output."""
    return escape_controls(" ".join((text or "").split()), keep="")


def printable(text: str) -> str:
    """`text` with every character Python does not deem printable escaped (a newline as \\n), controls and also
    invisible format characters and unusual spaces; for a file name or a reason read from a file, printed where a
    look-alike must not pass for another name."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escaped(ch) for ch in text)
