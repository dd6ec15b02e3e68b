"""An answer rendered while its quotations are still arriving: each verified quotation is streamed as soon as it
is added, and the finished answer is exactly the text streamed.

It renders through answers/output/render.py on the growing list of quotes and sends only the new pieces, so the prose
is the same as a whole answer's; it relies on render_answer writing each quotation's text from the ones before it
only (true of paragraphs, leads and connectives), which tests/test_llm_engine.py checks.
"""

from __future__ import annotations

from collections.abc import Iterator

from citewise.answers.output.render import RenderedAnswer, VerifiedQuote, render_answer
from citewise.core.answer import AnswerEvent, Citation, NearestPassage

Piece = tuple[str, Citation | None]


def _body(pieces: list[Piece]) -> list[Piece]:
    """The pieces up to the last quotation: what later quotations cannot change (the Sources list can)."""
    last = max((i for i, (_, citation) in enumerate(pieces) if citation is not None), default=-1)
    return pieces[: last + 1]


def piece_events(pieces: list[Piece]) -> Iterator[AnswerEvent]:
    for text, citation in pieces:
        yield AnswerEvent(type="text", text=text)
        if citation is not None:
            yield AnswerEvent(type="citation", citation=citation)


class StreamingAnswer:
    def __init__(self, question: str, engine: str, nearest: list[NearestPassage],
                 unanswered: list[str] | None = None, note: str | None = None) -> None:
        """`unanswered`: parts of the question no evidence answers, named after the prose (render_answer); `note`
        opens the answer (render_answer), so it is streamed with the first quotation."""
        self.question = question
        self.engine = engine
        self.note = note
        self.nearest = nearest
        self.unanswered = unanswered or []
        self.quotes: list[VerifiedQuote] = []
        self._sent: list[Piece] = []
        self._diverged = False

    def __len__(self) -> int:
        return len(self.quotes)

    def add(self, quote: VerifiedQuote) -> list[AnswerEvent]:
        """The events that show `quote`: the text leading to it, its citation."""
        self.quotes.append(quote)
        body = _body(self._render().pieces)
        if self._diverged or body[: len(self._sent)] != self._sent:
            # The renderer rewrote text already sent; stop streaming and let the final answer stand alone.
            self._diverged = True
            return []
        new = body[len(self._sent):]
        self._sent = body
        return list(piece_events(new))

    def finish(self) -> list[AnswerEvent]:
        """The rest of the text (the Sources cited list), then the whole answer."""
        rendered = self._render()
        rest = [] if self._diverged else list(piece_events(rendered.pieces[len(self._sent):]))
        return [*rest, AnswerEvent(type="done", answer=rendered.answer)]

    def _render(self) -> RenderedAnswer:
        return render_answer(self.question, self.quotes, self.engine, self.note, nearest=self.nearest,
                             unanswered=self.unanswered)
