"""The support scorer: trained weights load, verbatim quotes pass, unrelated text and changed numbers score lower."""

from __future__ import annotations

import json

import numpy as np
import pytest

from citewise.answers.quotes.support import MODEL_PATH, SupportScorer, load_support_scorer
from citewise.answers.quotes.support_features import FEATURES, clean_claim, feature_matrix
from citewise.evals.attribution import AttributionItem, macro_f1, metrics
from citewise.evals.support_training import best_threshold, fit_logistic

EVIDENCE = (
    "The Festival of the Greater Mysteries--and this was, of course, by far\nthe more important--began on the 15th "
    "of the month of Boedromion,\ncorresponding roughly with the month of September, and lasted until the\n23rd of "
    "the same month. The initiates bathed in the sea at Phalerum."
)


@pytest.mark.unit
def test_model_file_is_plain_json_for_every_feature() -> None:
    model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert model["features"] == list(FEATURES)
    assert len(model["weights"]) == len(model["mean"]) == len(model["scale"]) == len(FEATURES)
    assert 0.0 < model["threshold"] < 1.0


@pytest.mark.unit
def test_macro_f1_and_logistic_fit_on_known_data() -> None:
    assert macro_f1([True, False, True, False], [True, False, True, False]) == 1.0
    assert macro_f1([True, True, True, True], [True, False, True, False]) == pytest.approx((2 / 3 + 0) / 2)
    assert macro_f1([True, True], [True, True]) == 1.0  # a label in neither list does not count
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(float)
    w, _ = fit_logistic(x, y)
    assert w[0] > 0 > w[1]
    scores = 1 / (1 + np.exp(-(x @ w)))
    assert macro_f1([bool(s >= best_threshold(scores, y)) for s in scores], [bool(v) for v in y]) > 0.95
    items = [AttributionItem(str(i), "A" if i % 2 else "B", "c", "e", bool(i % 3)) for i in range(12)]
    report = metrics([bool(i % 3) for i in range(12)], items)
    assert report["macro_f1"] == 1.0 and set(report["by_subset"]) == {"A", "B"}


@pytest.mark.unit
def test_citation_markers_are_not_numbers_of_the_claim() -> None:
    assert clean_claim("Jung wrote it in 1916 [2][3, 4].").split() == ["Jung", "wrote", "it", "in", "1916", "."]


@pytest.fixture(scope="module")
def scorer(embedder) -> SupportScorer:
    return load_support_scorer(embedder)


@pytest.mark.integration
def test_scorer_loads_once_per_embedder(embedder, scorer: SupportScorer) -> None:
    assert load_support_scorer(None, embedder=embedder) is scorer
    assert scorer.features == FEATURES


@pytest.mark.integration
def test_verbatim_quote_scores_near_one(scorer: SupportScorer) -> None:
    quote = "began on the 15th of the month of Boedromion, corresponding roughly with the month of September"
    assert scorer.score(quote, EVIDENCE) >= 0.95
    assert scorer.supports(quote, EVIDENCE)


@pytest.mark.integration
def test_unrelated_evidence_scores_below_threshold(scorer: SupportScorer) -> None:
    claim = "The Greater Mysteries began on the 15th of Boedromion, roughly September."
    unrelated = ("MDMA increases the release of serotonin, norepinephrine and dopamine in the brain, and its "
                 "effects usually last three to six hours.")
    assert not scorer.supports(claim, unrelated)
    assert scorer.score(claim, unrelated) < scorer.score(claim, EVIDENCE)


@pytest.mark.integration
def test_changed_number_scores_lower_than_the_original(scorer: SupportScorer) -> None:
    original = "The Greater Mysteries began on the 15th of Boedromion and lasted until the 23rd of that month."
    changed = "The Greater Mysteries began on the 19th of Boedromion and lasted until the 23rd of that month."
    kept, altered = scorer.scores([(original, EVIDENCE), (changed, EVIDENCE)])
    assert altered < kept
    x = feature_matrix([(changed, EVIDENCE)], scorer.embedder.embed)
    assert x[0, FEATURES.index("number_missing")] == 1.0


@pytest.mark.integration
def test_known_vectors_give_the_same_scores_as_embedding_afresh(embedder, scorer: SupportScorer) -> None:
    claim = "MDMA increases the release of serotonin in the brain."
    evidence = ("MDMA acts mainly by increasing the release of serotonin. It also releases dopamine. "
                "Users report feelings of closeness to others.")
    known = {claim: embedder.embed([claim])[0]}
    fresh = scorer.scores([(claim, evidence)])
    reused = scorer.scores([(claim, evidence)], known_vectors=known)
    # int8 activations are scaled per batch, so a text embedded alone and in a batch differ in the 4th decimal.
    assert reused == pytest.approx(fresh, abs=1e-3)
    # A wrong vector for the claim must change the score: proof the known vector is really used.
    unrelated = {claim: embedder.embed(["The harvest festival honoured Demeter with processions."])[0]}
    assert scorer.scores([(claim, evidence)], known_vectors=unrelated) != pytest.approx(fresh, abs=1e-2)
