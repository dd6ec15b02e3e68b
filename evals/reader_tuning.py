"""Chooses how the offline engine uses the reader (answers/offline/engine.py, ReaderPolicy) on the TUNE half of
evals/data/questions-2.jsonl, the old development set and the questions about two of the four works the reader
never trained on; the validation half and the other two works are never read here.

    python -m citewise.evals.reader_tuning --index DIR

Prints the answer metrics of each policy of a small grid; the one with the highest gold-evidence hit whose lead hit
is no worse is written into ReaderPolicy's defaults by hand, with the figures in docs/EVALUATION.md. The reader's gate
was fitted for one read count: a row reading another runs without it ("gated": false, refusing by the hard rules
alone); refit the gate for the policy adopted (answerability_training --reader).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from citewise.answers.offline import Candidate, OfflineEngine, PartEvidence, ReaderPolicy, read_candidates
from citewise.core.paths import checkout_root
from citewise.core.settings import Settings
from citewise.evals.answers import AnswerRun, QuestionRecord, locate_gold
from citewise.evals.questions import EvalQuestion, GoldQuote, load_questions
from citewise.evals.questions_retrieval import GoldSpan
from citewise.evals.reader_data import TrainingQuestion
from citewise.evals.report import summarize

SHOWN = ("evidence_hit", "part_coverage", "off_topic_rate", "refusal_rate", "false_refusal_rate")


def lead_hit(records: list[QuestionRecord]) -> float:
    """Share of answerable questions whose first quotation overlaps a gold quotation."""
    judged = [r for r in records if r.question.answerable and r.gold]
    hits = 0
    for record in judged:
        lead = record.answer.citations[0] if record.answer.citations and not record.answer.refused else None
        hits += lead is not None and any(g.overlaps(lead.source.id, lead.start, lead.end) for g in record.gold)
    return round(hits / max(1, len(judged)), 3)


def judged_parts(run: AnswerRun, questions: list[EvalQuestion], engine: OfflineEngine | None = None
                 ) -> Iterator[tuple[list[GoldSpan], list[PartEvidence]]]:
    """For each answerable question whose gold quotations the index holds: them, and each part's evidence (read by
    `engine`, default the run's)."""
    engine = engine or run.engine
    for question in questions:
        gold, _ = locate_gold(question, run.index)
        if not question.answerable or not gold:
            continue
        plan = engine.plan(question.question, question.history or None)
        yield gold, [engine.part_evidence(plan, i) for i in range(len(plan.parts))]


def _is_gold(candidate: Candidate, gold: list[GoldSpan]) -> bool:
    return any(g.overlaps(candidate.source_id, candidate.start, candidate.end) for g in gold)


def candidate_recall(run: AnswerRun, questions: list[EvalQuestion], passages: int) -> dict[str, float]:
    """Share of answerable questions with a sentence overlapping a gold quotation among the engine's candidates when
    each part retrieves `passages` passages: all candidates, and the shortlist the reader reads (ReaderPolicy)."""
    settings = run.engine.settings
    # A part reads the larger of its quote passages and retrieval.k: both set, so fewer than the engine's own count.
    # Candidates are read before any gate, so none is needed (and the reader's was fitted for one pool only).
    engine = run.engine.reconfigured(quote_passages=passages, gated=False, settings=settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"k": passages})}))
    found = shortlisted = judged = 0
    for gold, parts in judged_parts(run, questions, engine):
        judged += 1
        found += any(_is_gold(c, gold) for evidence in parts for c in evidence.candidates)
        shortlisted += any(_is_gold(c, gold) for evidence in parts
                           for c in engine.policy.shortlist(evidence.candidates))
    return {"passages": passages, "questions": judged, "gold_among_candidates": round(found / max(1, judged), 3),
            "gold_among_read": round(shortlisted / max(1, judged), 3)}


def _win(good: float, bad: float) -> float:
    """One pair's share of a pair AUC: 1 when the answering sentence is ordered above, a half for a tie."""
    return float(good > bad) + 0.5 * float(good == bad)


def shortlist_auc(run: AnswerRun, questions: list[EvalQuestion]) -> dict[str, float]:
    """Within each part's shortlist (the candidates the reader reads, ReaderPolicy.shortlist), how often a sentence
    overlapping a gold quotation is ordered above one that does not: by the reader's logit, by the engine's own
    score, and by the lead's order (score plus the policy's weight times the logit)."""
    engine = run.engine
    reader_wins = engine_wins = lead_wins = pairs = judged = 0.0
    for gold, parts in judged_parts(run, questions):
        judged += 1
        for evidence in parts:
            read = engine.policy.shortlist(evidence.candidates)
            read_candidates(engine.reader, evidence.asked, read)
            directness = engine.policy.directness(read)
            good = [c for c in read if _is_gold(c, gold)]
            bad = [c for c in read if not _is_gold(c, gold)]
            for g, b in itertools.product(good, bad):
                pairs += 1
                reader_wins += _win(g.reader, b.reader)
                engine_wins += _win(g.score, b.score)
                lead_wins += _win(directness(g), directness(b))
    return {"questions": int(judged), "pairs": int(pairs), "reader_auc": round(reader_wins / max(1, pairs), 3),
            "engine_score_auc": round(engine_wins / max(1, pairs), 3),
            "lead_order_auc": round(lead_wins / max(1, pairs), 3)}


def as_eval_question(question: TrainingQuestion) -> EvalQuestion:
    """A reader's training question as an evaluation question (its answering sentences as gold)."""
    return EvalQuestion(id=question.id, question=question.question, answerable=question.answerable,
                        kind=question.kind, gold=[GoldQuote(file=a.file, quote=a.quote) for a in question.answers])


def held_out_questions(sources: tuple[str, ...] | None = None) -> list[EvalQuestion]:
    """The reader's training questions about the works it never trained on (or the given ones of them), as
    evaluation questions."""
    from citewise.evals.reader_data import load_training_questions
    from citewise.evals.reader_training import HELD_OUT_SOURCES

    folder = (checkout_root() or Path(".")) / "training" / "reader"
    return [as_eval_question(q) for q in load_training_questions(sorted(folder.glob("*.jsonl")))
            if q.source in (sources or HELD_OUT_SOURCES)]


def weighing_and_unseen() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The held-out works split in two: the first two's questions join the tune questions in choosing the
    policy; the other two are never used to choose anything and say how the engine reads works nothing saw."""
    from citewise.evals.reader_training import HELD_OUT_SOURCES

    return HELD_OUT_SOURCES[:2], HELD_OUT_SOURCES[2:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--read", default="12,24", help="read_at_most values")
    parser.add_argument("--weight", default="0,0.03,0.05,0.1", help="logit_weight values")
    parser.add_argument("--recall", action="store_true", help="instead: how often the gold sentence is among the "
                        "candidates at 12, 20, 50 and 100 passages (on --split's questions)")
    parser.add_argument("--shortlist", action="store_true", help="instead: within each part's shortlist, the "
                        "reader's order against the engine's own score (pair AUC on the questions the grid reads)")
    parser.add_argument("--split", default="tune", help="the half of questions-2.jsonl --recall reads")
    parser.add_argument("--held-out", action="store_true", help="instead: the engine with and without the reader on "
                        "the training questions about the works the reader never saw")
    args = parser.parse_args(argv)
    data = (checkout_root() or Path(".")) / "evals" / "data"
    if args.held_out:
        weighing, unseen = weighing_and_unseen()
        for with_reader in (False, True):
            run = AnswerRun(Settings(index=args.index, answer={"reader": with_reader}), "offline")
            for label, sources in (("weighing", weighing), ("unseen", unseen)):
                records = run.run(held_out_questions(sources))
                metrics = summarize(records)
                print(json.dumps({"reader": with_reader, "works": label, "questions": len(records),
                                  "lead_hit": lead_hit(records), **{k: metrics.get(k) for k in SHOWN}}), flush=True)
        return
    run = AnswerRun(Settings(index=args.index, answer={"reader": True}), "offline")
    if args.recall:
        for passages in (12, 20, 50, 100):
            print(json.dumps(candidate_recall(run, load_questions(data / "questions-2.jsonl", args.split), passages)),
                  flush=True)
        return
    questions = [*load_questions(data / "questions-2.jsonl", "tune"), *load_questions(data / "questions.jsonl"),
                 *held_out_questions(weighing_and_unseen()[0])]
    if args.shortlist:
        print(json.dumps(shortlist_auc(run, questions)), flush=True)
        return
    shipped = run.engine
    for read, weight in itertools.product([int(v) for v in args.read.split(",")],
                                          [float(v) for v in args.weight.split(",")]):
        policy = ReaderPolicy(read, weight)
        # A row whose read count the reader's gate was not fitted for refuses by the hard rules alone.
        gated = shipped.gate_fits(policy)
        run.engine = shipped.reconfigured(policy=policy, gated=gated)
        records = run.run(questions)
        metrics = summarize(records)
        print(json.dumps({"read_at_most": read, "logit_weight": weight, "gated": gated, "lead_hit": lead_hit(records),
                          **{k: metrics.get(k) for k in SHOWN}}), flush=True)
    run.engine = shipped


if __name__ == "__main__":
    main()
