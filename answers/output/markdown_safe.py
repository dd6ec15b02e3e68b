"""Text put into the Markdown of an answer, made inert: clients render that Markdown (most chat UIs do), and a
source's text, title, author or file name, or an LLM's words about them, must never become live markup there."""

from __future__ import annotations

import html
import re

from citewise.core.controls import escape_controls, printable

# An inline link whose address would run code or smuggle content: `[x](javascript:...)`, also with the white space
# and control characters browsers drop from an address ("java\tscript:") and with the address in <angle brackets>.
_SCHEME_CHARS = r"[\s\x00-\x1f]*".join("javascript")
_LINK_TO_SCRIPT = re.compile(
    r"\]\((?=[\s\x00-\x1f<]*(?:" + "|".join(
        (_SCHEME_CHARS, r"[\s\x00-\x1f]*".join("vbscript"), r"[\s\x00-\x1f]*".join("data"))) + r")[\s\x00-\x1f]*:)",
    re.IGNORECASE)


def markdown_text(text: str) -> str:
    """`text` to show as itself inside Markdown: HTML escaped (&, <, >), so no tag or entity in it is live, links
    to javascript:, vbscript: or data: addresses broken (the '(' after ']' escaped, so it links nowhere), and
    control characters but line breaks and tabs written as escapes (the Markdown also reaches terminals)."""
    return _LINK_TO_SCRIPT.sub(r"]\\(", html.escape(escape_controls(text), quote=False))


def markdown_code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds (the fence is one backtick longer than its
    longest run of them); inside a code span nothing is markup. Its line breaks and other unprintable characters
    are written as escapes ('\\n'): a blank line would end the span and let what follows be live HTML."""
    text = printable(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"
