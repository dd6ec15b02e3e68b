"""Fits the offline engine's answerability gates (answers/offline/answerability.py):

    python -m citewise.evals.answerability_training --index DIR            # answerability_model.json (no reader)
    python -m citewise.evals.answerability_training --index DIR --reader   # answerability_reader_model.json

Training questions: the old development set (evals/data/questions.jsonl) and the TUNE half of
evals/data/questions-2.jsonl; the validation half is never read here. With --reader also the reader's training
questions that the shipped reader never trained on, so that its logits on them are those of a question it never saw:
the second round (training/reader/second-round/) and the first round's about two of the works it was never trained
on (the other two, Rank and Harrison, stay unread, as the works nothing was fitted on), and questions off the corpus
(training/gate/off-corpus.jsonl). That gate is used together with the one without the reader, so its threshold is
chosen for the two together. Each part of a question is one
example, labelled with its question's answerability. Questions refused before the gate (they name a work or author the
index lacks) are left out. The threshold is chosen on out-of-fold probabilities (folds by question): the highest
share of unanswerable questions refused while at most MAX_FALSE_REFUSALS of the answerable ones are.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from citewise.answers.offline import (
    GATE_FEATURES,
    GATE_PATH,
    READER_GATE_FEATURES,
    READER_GATE_PATH,
    AnswerabilityModel,
)
from citewise.answers.quotes import sigmoid
from citewise.core.paths import checkout_root
from citewise.core.settings import Settings
from citewise.evals.questions import EvalQuestion, load_questions
from citewise.evals.support_training import fit_logistic

MAX_FALSE_REFUSALS = 0.04
L2 = 1.0
FOLDS = 5


def training_questions(data_dir: Path) -> list[EvalQuestion]:
    return [*load_questions(data_dir / "questions.jsonl"), *load_questions(data_dir / "questions-2.jsonl", "tune")]


def unread_training_questions(checkout: Path) -> list[EvalQuestion]:
    """The reader's training questions it never trained on, but for the works kept for judging the engine on works
    nothing saw, and the questions written off the corpus for the gate (training/gate/)."""
    from citewise.evals.reader_data import load_training_questions
    from citewise.evals.reader_tuning import as_eval_question, held_out_questions, weighing_and_unseen

    second_round = sorted((checkout / "training" / "reader" / "second-round").glob("*.jsonl"))
    if not second_round:
        raise SystemExit(f"no second-round reader questions in {checkout / 'training' / 'reader' / 'second-round'}")
    weighing, _ = weighing_and_unseen()
    return [*held_out_questions(weighing), *map(as_eval_question, load_training_questions(second_round)),
            *load_questions(checkout / "training" / "gate" / "off-corpus.jsonl")]


def part_examples(engine, questions: list[EvalQuestion], features: tuple[str, ...]  # noqa: ANN001
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, question number) per part the gate would judge."""
    rows, labels, groups = [], [], []
    for number, question in enumerate(questions):
        plan = engine.plan(question.question, question.history or None)
        if plan.missing:
            continue
        for i in range(len(plan.parts)):
            evidence = engine.part_evidence(plan, i)
            if not evidence.candidates or evidence.strength.missing_names:
                continue
            rows.append([evidence.features[name] for name in features])
            labels.append(1.0 if question.answerable else 0.0)
            groups.append(number)
    return np.asarray(rows), np.asarray(labels), np.asarray(groups)


def question_rates(scores: np.ndarray, groups: np.ndarray, threshold: float, answerable: dict[int, bool]
                   ) -> tuple[float, float]:
    """(share of unanswerable questions refused, share of answerable ones refused) at `threshold`: a question is
    refused when none of its parts passes (a question with no judged part is refused anyway)."""
    passed = {g: False for g in answerable}
    for score, group in zip(scores, groups, strict=True):
        passed[int(group)] |= bool(score >= threshold)
    unanswerable = [g for g, a in answerable.items() if not a]
    answerables = [g for g, a in answerable.items() if a]
    refused = sum(not passed[g] for g in unanswerable) / max(1, len(unanswerable))
    false = sum(not passed[g] for g in answerables) / max(1, len(answerables))
    return refused, false


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, answerable: dict[int, bool],
        features: tuple[str, ...], trained_on: str, passes_required: np.ndarray | None = None) -> dict[str, object]:
    """`passes_required`: per part, whether it passes the gate this one requires; the threshold is then chosen for
    the two together."""
    order = np.random.default_rng(0).permutation(sorted(set(groups.tolist())))
    oof = np.zeros(len(y))
    for k in range(FOLDS):
        held = set(order[k::FOLDS].tolist())
        test = np.asarray([g in held for g in groups])
        mean, scale = x[~test].mean(0), x[~test].std(0) + 1e-9
        w, b = fit_logistic((x[~test] - mean) / scale, y[~test], l2=L2)
        oof[test] = sigmoid(((x[test] - mean) / scale) @ w + b)
    if passes_required is not None:
        oof = np.where(passes_required, oof, 0.0)
    best = (-1.0, 0.5, 0.0, 0.0)
    for threshold in np.unique(np.round(oof, 3)):
        refused, false = question_rates(oof, groups, float(threshold), answerable)
        if false <= MAX_FALSE_REFUSALS and refused > best[0]:
            best = (refused, float(threshold), refused, false)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    w, b = fit_logistic((x - mean) / scale, y, l2=L2)
    return {"features": list(features), "mean": mean.tolist(), "scale": scale.tolist(), "weights": w.tolist(),
            "bias": b, "threshold": best[1], "l2": L2,
            "cv_refusal_rate": round(best[2], 4), "cv_false_refusal_rate": round(best[3], 4),
            "trained_on": f"{len(answerable)} questions ({len(y)} parts): {trained_on}; threshold by 5-fold CV over "
                          "questions"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="an index of the demo corpus")
    parser.add_argument("--data", type=Path, default=(checkout_root() or Path(".")) / "evals" / "data")
    parser.add_argument("--reader", action="store_true", help="fit the gate the engine uses with the reader on")
    parser.add_argument("--out", type=Path, help="where to write it [default: the engine's gate file]")
    args = parser.parse_args()
    features = READER_GATE_FEATURES if args.reader else GATE_FEATURES
    out = args.out or (READER_GATE_PATH if args.reader else GATE_PATH)
    from citewise.answers.offline import OfflineEngine
    from citewise.answers.quotes import QuoteVerifier, load_support_scorer
    from citewise.retrieval.retriever import IndexRetriever
    from citewise.store import open_index

    settings = Settings(index=args.index, answer={"reader": args.reader})
    retriever = IndexRetriever(settings, open_index(settings))
    # No gate: the features of the parts must not depend on the gate being fitted.
    engine = OfflineEngine(settings, retriever, retriever.index, retriever.embedder, QuoteVerifier(retriever.index),
                           load_support_scorer(settings, embedder=retriever.embedder), gated=False)
    questions = training_questions(args.data)
    trained_on = "evals/data/questions.jsonl and the tune half of evals/data/questions-2.jsonl"
    if args.reader:
        questions += unread_training_questions(checkout_root() or Path("."))
        trained_on += (", the reader's second-round training questions, its first-round ones about the two "
                       "weighing works and training/gate/off-corpus.jsonl")
    x, y, groups = part_examples(engine, questions, features)
    answerable = {g: questions[g].answerable for g in sorted(set(groups.tolist()))}
    required = None
    if args.reader:
        # Alone, a gate reading the reader answered everyday questions far from the corpus that this one refuses.
        first = AnswerabilityModel.load(GATE_PATH)
        columns = [features.index(name) for name in first.features]
        required = np.asarray([first.answerable(dict(zip(first.features, row[columns], strict=True))) for row in x])
    model = fit(x, y, groups, answerable, features, trained_on, required)
    if args.reader:
        # The pool the features were read from: the engine's own, which the gate's check compares with.
        model["reader_reads"] = engine.policy.read_at_most
        model["quote_passages"] = engine.quote_passages
        model["requires"] = GATE_PATH.name
    out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: model[k] for k in ("threshold", "cv_refusal_rate", "cv_false_refusal_rate", "trained_on")},
                     indent=1))
    print(json.dumps(dict(zip(features, (round(v, 3) for v in model["weights"]), strict=True)), indent=1))


if __name__ == "__main__":
    main()
