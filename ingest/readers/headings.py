"""Headings of hard-wrapped plain text (Project Gutenberg style), found by layout: short capitalised blocks."""

from __future__ import annotations

import re

_TXT_HEADING_WORD = re.compile(r"^(chapter|lecture|book|part|section|preface|introduction|contents)\b", re.I)
_TOC_COLUMNS = re.compile(r"\S {3,}\S")
_TRAILING_NUMBER = re.compile(r"(?:^|[\s,])\d+\.?$")
_INITIAL = re.compile(r"(?:^|[\s.])[A-HJ-UWYZ]\.")
_BARE_LABEL = re.compile(r"^(?:(?:chapter|lecture|book|part|section|letter)\s+)?[ivxlcdm\d]+\.?$|"
                         r"^\w+[ -](?:lecture|chapter|book|part)\.?$", re.I)
_COLUMN_TITLE = re.compile(r"^(?:page|pag|chap|chapter|lecture)\.?$", re.I)
_FOOTNOTE_MARK = re.compile(r"(?:\[[A-Z\d]{1,4}\]|(?<=[A-Z])\d+)$")
_NUMBERED_TITLE = re.compile(r"^(?:[IVXLC]+|\d{1,3})\.\s+[A-Z]")
_SECTION = re.compile(r"^(?:\d{1,3}\.\s|[IVXLC]+\.?$|\d{1,3}\.?$)")  # a part of the chapter heading before it
_SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"})
# What may separate a label from its title: white space, Markdown marks, page markers like '{{253}}'.
_BETWEEN_HEADINGS = re.compile(r"[\s#=]+|\{\{\d+\}\}|\[(?:Pg|Page) ?\d+\]")
_NEXT_BLOCK_INDENT = re.compile(r"[ \t]*\n(?:[ \t]*\n)+([ \t]*)\S")
# Headings kept even when indented text follows them (an epigraph, an index, letters).
_STRUCTURAL = re.compile(r"^(?:chapter|lecture|book|part|section|preface|introduction|contents|table of contents|"
                         r"index|(?:foot)?notes|appendix|bibliography|glossary|[IVXLC]+\b|\d+\b)", re.I)
_NOTES_TITLE = re.compile(r"^(?:foot)?notes:?$", re.I)
_BACK_MATTER = re.compile(r"^(?:the end|index|contents|table of contents|bibliography|appendix|(?:foot)?notes)\b", re.I)
_RUN_GAP = 200  # headings closer than this (in characters) belong to one title page or contents list


def plain_text_headings(text: str) -> list[tuple[int, str]]:
    """Short blocks standing alone between blank lines, in capitals or starting 'CHAPTER', 'LECTURE', ...

    Tables of contents, index entries, footnote lines and signatures look like that too; they are filtered
    out, a bare label ('CHAPTER IV', 'III', 'FIFTH LECTURE') is joined to the title that follows it,
    and of a dense run of such lines (a title page, a contents list) only the first and last are kept.
    """
    candidates: list[tuple[int, int, str, bool]] = []
    for start, end, lines in _short_blocks(text):
        heading = _block_heading(lines)
        if heading:
            # Kept for now: a poem title may still turn out to be the title line after a chapter label.
            verse = not _STRUCTURAL.match(heading) and _introduces_verse(text, end)
            candidates.append((start, end, heading, verse))
    return _thin_runs(merge_label_headings(text, candidates))


def _short_blocks(text: str, most_lines: int = 3) -> list[tuple[int, int, list[str]]]:
    """(start, end, stripped lines) of each blank-line separated block of at most `most_lines` lines."""
    blocks: list[tuple[int, int, list[str]]] = []
    block: list[tuple[int, str]] = []
    offset = 0
    for line in [*text.split("\n"), ""]:
        stripped = line.strip()
        if stripped:
            block.append((offset + line.index(stripped[0]), stripped))
        elif block:
            if len(block) <= most_lines:
                blocks.append((block[0][0], block[-1][0] + len(block[-1][1]), [b[1] for b in block]))
            block = []
        offset += len(line) + 1
    return blocks


def _introduces_verse(text: str, end: int) -> bool:
    """A poem's title or a speaker's name in a quoted play: the next block is indented, unlike body text."""
    following = _NEXT_BLOCK_INDENT.match(text, end)
    return bool(following) and len(following.group(1).expandtabs(4)) >= 4


def _block_heading(lines: list[str]) -> str | None:
    if any(len(line) > 80 for line in lines):
        return None
    if len(lines) == 1:
        line = lines[0]
        fits = len(line) >= 3 or bool(_BARE_LABEL.match(line))
        return _clean_heading(line) if fits and _looks_like_heading(line) else None
    # A label on the line above its title ('CHAPTER I' / 'CONCERNING THE TWO KINDS OF THINKING'), or a
    # capitalised title wrapped onto a second line.
    rest = lines[1:] if _BARE_LABEL.match(lines[0]) else lines
    if not all(_looks_like_heading(line) and _capitalised(line) for line in rest):
        return None
    title = " ".join(_clean_heading(line) for line in rest)
    return title if rest is lines else f"{_clean_heading(lines[0])}{_label_joiner(lines[0])}{title}"


def _looks_like_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 3 and not _BARE_LABEL.match(line):
        return False
    named = bool(_TXT_HEADING_WORD.match(line))
    if _COLUMN_TITLE.match(line) or ", see " in line:
        return False  # 'PAGE' over a contents list, 'AURELIUS, see MARCUS.' in an index
    if line.endswith(":") and not _NOTES_TITLE.match(line):
        return False  # 'Chapter v:' introducing a quotation, 'PORTIA:'
    if not named and _TRAILING_NUMBER.search(line):
        return False  # 'ACHILLES, 86.' index entries, '61 TRINE: p. 117.' footnote lines
    if _TOC_COLUMNS.search(line) or "=" in line or (line[0] in "([" and line[-1] in ")]"):
        return False  # contents lines with page numbers, sigla tables, '((LACUNA))'
    if not named and line.endswith(".") and len(line.split()) <= 4 and _INITIAL.search(line):
        return False  # signatures: 'J. G. FRAZER.', 'B. M. H.'
    return _capitalised(line) or named or bool(_BARE_LABEL.match(line)) or _numbered_title(line)


def _capitalised(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _label_joiner(label: str) -> str:
    return " " if label.endswith(".") else ". "


def _numbered_title(line: str) -> bool:
    """'I. The King of the Wood', '3. Recapitulation': a number, then words in title case, no full stop."""
    if not _NUMBERED_TITLE.match(line) or line.endswith(".") or len(line) > 70:
        return False
    words = [w for w in line.split()[1:] if w[0].isalpha()]
    capitalised = [w for w in words if w[0].isupper() or w.lower() in _SMALL_WORDS]
    return bool(words) and len(capitalised) == len(words)


def _clean_heading(line: str) -> str:
    return " ".join(_FOOTNOTE_MARK.sub("", line).split())


def merge_label_headings(text: str, candidates: list[tuple[int, int, str, bool]]) -> list[tuple[int, str]]:
    """(start, end, heading, introduces verse) -> (start, heading).

    A bare label is merged with the title lines right after it ('CHAPTER IV' + 'THE ORPHICS'), and a numbered
    section ('3. Recapitulation', a lone 'III') is prefixed with the chapter heading it belongs to.
    """
    merged: list[tuple[int, str]] = []
    chapter = ""
    index = 0
    while index < len(candidates):
        start, end, heading, verse = candidates[index]
        labelled, last_part = bool(_BARE_LABEL.match(heading)), heading
        while index + 1 < len(candidates):
            next_start, next_end, next_heading, _ = candidates[index + 1]
            if _BETWEEN_HEADINGS.sub("", text[end:next_start]):
                break
            # After a label comes its title; after that, capitalised subtitles ('THE THRACIAN WORSHIP ...').
            # A label right after a heading belongs to it too ('NOTES TO CHAPTER XIV' / 'PART II').
            word_label = _BARE_LABEL.match(next_heading) and not _SECTION.match(next_heading)
            if not (_BARE_LABEL.match(last_part) or word_label
                    or (labelled and _capitalised(next_heading) and len(heading) < 160)):
                break
            heading += _label_joiner(heading) + next_heading
            labelled = labelled or bool(_BARE_LABEL.match(next_heading))
            last_part, end, verse = next_heading, next_end, False
            index += 1
        index += 1
        if verse:
            continue  # a poem's title or a speaker's name, not a heading
        if _SECTION.match(heading) and chapter:
            merged.append((start, f"{chapter} — {heading}"))
            continue
        if _NOTES_TITLE.match(heading) and chapter and not _BACK_MATTER.match(chapter):
            merged.append((start, f"{chapter} — {heading.rstrip(':')}"))  # a chapter's own notes
            continue
        chapter = heading
        merged.append((start, heading))
    return merged


def _thin_runs(headings: list[tuple[int, str]]) -> list[tuple[int, str]]:
    kept: list[tuple[int, str]] = []
    run: list[tuple[int, str]] = []
    for heading in [*headings, (-1, "")]:
        if run and heading[0] >= 0 and heading[0] - run[-1][0] < _RUN_GAP:
            run.append(heading)
            continue
        kept.extend(run if len(run) < 3 else [run[0], run[-1]])
        run = [heading]
    return [h for h in kept if h[0] >= 0]
