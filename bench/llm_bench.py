"""`citewise bench llm`: the LLM engine on dev questions, in process, streamed as a user would get it: time to the
first verified claim and to the whole answer, the share of the model's quotations that verify, the share of
answers that fell back to the offline engine, and the model's reading and writing speed."""

from __future__ import annotations

import contextlib
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from citewise.answers.llm import AnswerStats, LLMEngine, TokenCounter
from citewise.bench.common import load_questions, machine
from citewise.core.answer import Answer
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings
from citewise.library import Library


@dataclass
class LLMBench:
    model: str
    index: str
    settings: dict[str, object]
    model_start_s: float | None = None  # a local model's server, from the process start to its first answer
    answers: list[dict[str, object]] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    loadavg_before: list[float] = field(default_factory=list)
    loadavg_after: list[float] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


def _reply_tokens(replies: list[str], counter: TokenCounter) -> int:
    """The model's reply tokens, counted here rather than while answering (each count is a tokenizer request)."""
    total = 0
    for text in replies:
        with contextlib.suppress(httpx.HTTPError):  # a reply the tokenizer would not count adds nothing
            total += counter.count(text)
    return total


def _row(question: str, stats: AnswerStats, answer: Answer, reply_tokens: int) -> dict[str, object]:
    def s(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "question": question[:60], "engine": answer.engine, "citations": len(answer.citations),
        "first_claim_s": s(stats.first_claim_s), "done_s": s(stats.done_s), "first_token_s": s(stats.first_piece_s),
        "passages": stats.passages, "prompt_tokens": stats.prompt_tokens, "reply_tokens": reply_tokens,
        "rounds": stats.rounds, "claims": stats.claims, "verified": stats.verified,
        "fell_back": stats.fallback is not None, "declined": stats.declined, "refused": answer.refused,
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def summarise(rows: list[dict[str, object]], writing_s: float, reading_s: float) -> dict[str, object]:
    claims = sum(int(r["claims"]) for r in rows)
    reply_tokens = sum(int(r["reply_tokens"]) for r in rows)
    prompt_tokens = sum(int(r["prompt_tokens"]) for r in rows)
    return {
        "answers": len(rows),
        "median_first_claim_s": _median([r["first_claim_s"] for r in rows]),
        "median_done_s": _median([r["done_s"] for r in rows]),
        "median_first_token_s": _median([r["first_token_s"] for r in rows]),
        "quotes_offered": claims,
        "quotes_verified_share": round(sum(int(r["verified"]) for r in rows) / claims, 3) if claims else None,
        "fell_back_share": round(sum(bool(r["fell_back"]) for r in rows) / len(rows), 3) if rows else None,
        "declined_share": round(sum(bool(r["declined"]) for r in rows) / len(rows), 3) if rows else None,
        "refused_share": round(sum(bool(r["refused"]) for r in rows) / len(rows), 3) if rows else None,
        "writing_tokens_per_s": round(reply_tokens / writing_s, 1) if writing_s else None,
        # Time to the first token also holds retrieval and the prompt's fitting, so this understates reading speed.
        "prompt_tokens_per_s": round(prompt_tokens / reading_s, 1) if reading_s else None,
    }


def bench_llm(settings: Settings, questions: int = 5) -> LLMBench:
    library = Library(settings)
    engine = library.generation().engine("llm")
    if not isinstance(engine, LLMEngine):
        raise CitewiseError("the llm engine could not be built")
    llm = settings.llm
    result = LLMBench(model=engine.endpoint.label, index=library.location,
                      settings={"threads": llm.threads, "context_tokens": engine.endpoint.context_tokens,
                                "max_tokens": llm.max_tokens, "max_passages": llm.max_passages,
                                "max_quotes": settings.answer.max_quotes, "repair_rounds": llm.repair_rounds},
                      loadavg_before=[round(x, 2) for x in os.getloadavg()])
    server = getattr(engine.endpoint.counter, "seconds_to_start", None)
    result.model_start_s = None if server is None else round(server, 2)
    writing = reading = 0.0
    for question in load_questions(questions):
        stats = AnswerStats()
        done = [event.answer for event in engine.stream(question, stats=stats) if event.type == "done"][-1]
        result.answers.append(_row(question, stats, done, _reply_tokens(stats.replies, engine.endpoint.counter)))
        writing += stats.writing_s
        reading += stats.first_piece_s or 0.0
    result.summary = summarise(result.answers, writing, reading)
    result.loadavg_after = [round(x, 2) for x in os.getloadavg()]
    result.machine = machine()
    return result


def as_dict(result: LLMBench) -> dict[str, object]:
    return asdict(result)


def default_model(settings: Settings) -> Path | None:
    """The model to benchmark when none is configured: the one `install.sh --local-llm` fetched, if present."""
    from citewise.answers.llm import bundled_model_path

    if settings.llm.local_model or settings.llm.base_url or os.environ.get("OPENAI_BASE_URL"):
        return None
    path = bundled_model_path()
    return path if path.is_file() else None
