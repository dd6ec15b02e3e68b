"""How the offline engine picks each part's quotes from its scored candidates (answers/offline/evidence.py)."""

from __future__ import annotations

import numpy as np
import pytest

from citewise.answers.offline.evidence import Candidate, select_for_part
from citewise.core.retrieval import Hit
from citewise.core.sentences import sentence_spans
from citewise.core.types import Passage, Source

pytestmark = pytest.mark.unit

TEXT = ("Antoninus, when he would purge himself of the death of Avidius Cassius, elected to be initiated. "
        "Nero sought admission into the Mysteries, but was rejected because of the many slaughters. "
        "Nero sought admission into the Mysteries, but was rejected because of the many slaughters. ")


def _source(name: str) -> Source:
    return Source(id=name, file=f"{name}.txt", title=name, author="Dudley Wright", year=1919, licence="", origin="",
                  file_sha256="", chars=len(TEXT))


def _candidates(source_ids: list[str], vectors: list[list[float]], scores: list[float]) -> list[Candidate]:
    found = []
    for (start, end), source_id, vector, score in zip(sentence_spans(TEXT), source_ids, vectors, scores, strict=True):
        source = _source(source_id)
        passage = Passage(id=f"p-{source_id}", source_id=source_id, ordinal=0, start=0, end=len(TEXT), text=TEXT,
                          tokens=60)
        unit = np.asarray(vector, dtype=np.float32) / np.linalg.norm(vector)
        found.append(Candidate(Hit(passage, source, 1.0), start, end, TEXT[start:end], score=score, vector=unit))
    return found


def test_two_sentences_of_one_passage_are_not_duplicates_however_close_their_pooled_vectors():
    # Vectors pooled from one passage lie close (cosine ~0.99 here); the second sentence is the answer.
    antoninus, nero, _ = _candidates(["wright"] * 3, [[1, 0.1], [1, 0.12], [1, 0.12]], [1.0, 0.95, 0.0])
    chosen = select_for_part([antoninus, nero], limit=3, taken=[])
    assert [c.text[:4] for c in chosen] == ["Anto", "Nero"]
    # ... also when another part took the first one.
    assert select_for_part([nero], limit=3, taken=[antoninus]) == [nero]


def test_the_same_words_twice_in_one_work_are_quoted_once():
    _, nero, again = _candidates(["wright"] * 3, [[1, 0], [1, 0.5], [0, 1]], [0.0, 1.0, 0.99])
    assert select_for_part([nero, again], limit=3, taken=[]) == [nero]


def test_close_sentences_of_two_works_are_still_duplicates():
    antoninus, nero, _ = _candidates(["wright", "frazer", "frazer"], [[1, 0.1], [1, 0.12], [0, 1]],
                                     [1.0, 0.95, 0.0])
    assert select_for_part([antoninus, nero], limit=3, taken=[]) == [antoninus]


def test_the_reader_picks_the_lead_among_the_chosen_quotes_and_leaves_the_rest_in_the_authors_order():
    from citewise.answers.offline import ReaderPolicy
    from citewise.answers.offline.evidence import reading_order

    antoninus, nero, again = _candidates(["w", "w", "w"], [[1, 0], [0, 1], [1, 1]], [1.0, 0.9, 0.8])
    assert reading_order([antoninus, nero, again]) == [antoninus, nero, again]
    antoninus.reader, nero.reader = -2.0, 3.0  # the reader finds that Nero's sentence answers; `again` was not read
    policy = ReaderPolicy(logit_weight=0.05)
    directness = policy.directness([antoninus, nero, again])
    assert directness(nero) == pytest.approx(0.9 + 0.05 * 3.0)
    assert directness(again) == pytest.approx(0.8 + 0.05 * -2.0)  # unread: the lowest logit read
    assert reading_order([antoninus, nero, again], directness) == [nero, antoninus, again]
    # A small weight keeps the engine's lead where the reader barely prefers another.
    nero.reader = -1.0
    assert reading_order([antoninus, nero, again], policy.directness([antoninus, nero, again]))[0] is antoninus


def test_with_the_reader_a_part_quotes_what_score_and_logit_rate_highest():
    from citewise.answers.offline import ReaderPolicy

    on_topic, answer, other = _candidates(["w", "w", "w"], [[1, 0], [0, 1], [1, 1]], [1.0, 0.8, 0.9])
    on_topic.reader, answer.reader, other.reader = -4.0, 4.0, -4.0
    assert select_for_part([on_topic, answer, other], limit=1, taken=[]) == [on_topic]
    directness = ReaderPolicy(logit_weight=0.05).directness([on_topic, answer, other])
    assert select_for_part([on_topic, answer, other], limit=1, taken=[], rank=directness) == [answer]
