"""`citewise bench llm`: the LLM engine on dev or eval questions, in process, streamed as a user would get it: how
many answers the model wrote (not the offline engine's fallback, not the gate's refusal), time to the first
quotation and to the whole answer, the model's output tokens, its own sentences shown or suppressed, the ids it
invented, where the model and the answerability gate disagreed, and the model's reading and writing speed."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np

from citewise.answers.llm import AnswerStats, LLMEngine, TokenCounter
from citewise.bench.common import load_questions, machine
from citewise.core.answer import Answer, Message
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings
from citewise.library import Library


@dataclass
class LLMBench:
    model: str
    index: str
    questions: str
    settings: dict[str, object]
    model_start_s: float | None = None  # a local model's server, from the process start to its first answer
    answers: list[dict[str, object]] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    loadavg_before: list[float] = field(default_factory=list)
    loadavg_after: list[float] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchQuestion:
    text: str
    id: str | None = None
    answerable: bool | None = None  # known for eval questions
    history: tuple[Message, ...] = ()


def bench_questions(limit: int, questions_file: Path | None = None, split: str | None = None) -> list[BenchQuestion]:
    """The first `limit` dev questions, or of `questions_file` (an eval file, only `split` if given)."""
    if questions_file is None:
        return [BenchQuestion(q) for q in load_questions(limit)]
    from citewise.evals.questions import load_questions as load_eval_questions

    return [BenchQuestion(q.question, q.id, q.answerable, tuple(q.history))
            for q in load_eval_questions(questions_file, split)[:limit]]


def _reply_tokens(replies: list[str], counter: TokenCounter) -> int:
    """The model's reply tokens, counted here rather than while answering (each count is a tokenizer request)."""
    total = 0
    for text in replies:
        with contextlib.suppress(httpx.HTTPError):  # a reply the tokenizer would not count adds nothing
            total += counter.count(text)
    return total


def outcome(stats: AnswerStats, answer: Answer) -> str:
    """model (the model's answer), fallback (the offline engine's, with a note), or refused (by the gate)."""
    if stats.fallback is not None:
        return "fallback"
    return "refused" if answer.refused else "model"


def _row(question: BenchQuestion, stats: AnswerStats, answer: Answer, reply_tokens: int) -> dict[str, object]:
    def s(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "id": question.id, "question": question.text[:60], "answerable": question.answerable,
        "outcome": outcome(stats, answer), "engine": answer.engine, "citations": len(answer.citations),
        "first_claim_s": s(stats.first_claim_s), "done_s": s(stats.done_s), "first_token_s": s(stats.first_piece_s),
        "sentences": stats.sentences, "prompt_tokens": stats.prompt_tokens, "reply_tokens": reply_tokens,
        "rounds": stats.rounds, "claims": stats.claims, "quotes": stats.quotes, "unknown_ids": stats.unknown_ids,
        "parts_filled": stats.parts_filled,
        "duplicates": stats.duplicates, "recited": stats.recited, "leads": dict(stats.leads),
        "fell_back": stats.fallback is not None, "declined": stats.declined, "gate_refused": stats.gate_refused,
        "refused": answer.refused,
        "load_1m": round(os.getloadavg()[0], 2),  # the cores are shared: each figure with the load it was taken at
    }


def _percentile(values: list[float | None], q: float) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.percentile(present, q)), 2) if present else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def summarise(rows: list[dict[str, object]], writing_s: float, reading_s: float) -> dict[str, object]:
    outcomes = Counter(str(r["outcome"]) for r in rows)
    asked = [r for r in rows if r["rounds"]]  # the model was asked (not refused by the gate first)
    model = [r for r in rows if r["outcome"] == "model"]
    leads: Counter[str] = Counter()
    for r in rows:
        leads.update(r["leads"])  # type: ignore[arg-type]
    reply_tokens = sum(int(r["reply_tokens"]) for r in rows)
    prompt_tokens = sum(int(r["prompt_tokens"]) for r in rows)
    return {
        "answers": len(rows),
        "outcomes": dict(outcomes),  # model, fallback, refused (by the gate, without asking the model)
        "written_by_model_share_of_asked": _share(outcomes["model"], len(asked)),
        "first_claim_s": {"p50": _percentile([r["first_claim_s"] for r in model], 50),
                          "p95": _percentile([r["first_claim_s"] for r in model], 95)},
        "done_s": {"p50": _percentile([r["done_s"] for r in model], 50),
                   "p95": _percentile([r["done_s"] for r in model], 95)},
        "done_s_all": {"p50": _percentile([r["done_s"] for r in rows], 50),
                       "p95": _percentile([r["done_s"] for r in rows], 95)},
        "reply_tokens_per_answer": {"median": _percentile([r["reply_tokens"] for r in asked], 50),
                                    "mean": round(statistics.mean(int(r["reply_tokens"]) for r in asked), 1)
                                    if asked else None},
        "claims": sum(int(r["claims"]) for r in rows),
        "quotes": sum(int(r["quotes"]) for r in rows),
        "unknown_ids": sum(int(r["unknown_ids"]) for r in rows),
        "parts_filled": sum(int(r["parts_filled"]) for r in rows),
        "model_sentences": dict(leads),  # shown; unsupported (suppressed by the support judge); copied; unclean
        "disagreements": disagreements(rows),
        "writing_tokens_per_s": round(reply_tokens / writing_s, 1) if writing_s else None,
        # Time to the first token also holds retrieval and the prompt's fitting, so this understates reading speed.
        "prompt_tokens_per_s": round(prompt_tokens / reading_s, 1) if reading_s else None,
    }


def disagreements(rows: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    """By the questions' labels: what the gate refused, and what the model declined where the gate found an
    answer (the offline engine then answered)."""
    table: dict[str, dict[str, int]] = {}
    for key in ("gate_refused", "declined"):
        counts = Counter("answerable" if r["answerable"] else "unanswerable" for r in rows
                         if r[key] and r["answerable"] is not None)
        table[key] = {"answerable": counts["answerable"], "unanswerable": counts["unanswerable"]}
    return table


def bench_llm(settings: Settings, questions: int = 5, questions_file: Path | None = None,
              split: str | None = None) -> LLMBench:
    items = bench_questions(questions, questions_file, split)
    library = Library(settings)
    engine = library.generation().engine("llm")
    if not isinstance(engine, LLMEngine):
        raise CitewiseError("the llm engine could not be built")
    llm = settings.llm
    source = f"{questions_file} (split {split})" if questions_file and split else str(questions_file or "dev")
    result = LLMBench(model=engine.endpoint.label, index=library.location, questions=source,
                      settings={"threads": llm.threads, "context_tokens": engine.endpoint.context_tokens,
                                "max_tokens": llm.max_tokens, "max_sentences": llm.max_sentences,
                                "max_quotes": settings.answer.max_quotes, "repair_rounds": llm.repair_rounds},
                      loadavg_before=[round(x, 2) for x in os.getloadavg()])
    writing = reading = 0.0
    for question in items:
        stats = AnswerStats()
        history = list(question.history) or None
        done = [e.answer for e in engine.stream(question.text, history, stats=stats) if e.type == "done"][-1]
        result.answers.append(_row(question, stats, done, _reply_tokens(stats.replies, engine.endpoint.counter)))
        writing += stats.writing_s
        reading += stats.first_piece_s or 0.0
    server = getattr(engine.endpoint.counter, "seconds_to_start", None)
    result.model_start_s = None if server is None else round(server, 2)
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
