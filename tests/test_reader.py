"""The reader: its shipped model matches its card, it reads an answer above sentences merely on the topic, its
training data loads and checks itself, and the offline engine leads with the sentence it picks."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

import pytest

from citewise.answers.offline.evidence import quotable_spans
from citewise.answers.reader import MODEL_PATH, SentenceReader, reader_pair
from citewise.core.errors import CitewiseError
from citewise.core.types import Passage, Source
from citewise.evals.reader_data import SourceSentences, load_training_questions, question_pairs

REPO = Path(__file__).resolve().parent.parent
CARD = MODEL_PATH.with_name("READER-CARD.md")


@pytest.mark.unit
def test_a_pair_is_the_question_and_the_unwrapped_sentence_under_its_heading() -> None:
    question, body = reader_pair("  How much\nlaudanum? ", "I descended\nsuddenly.", "CHAPTER  II\n")
    assert question == "How much laudanum?"
    assert body == "CHAPTER II: I descended suddenly."
    assert reader_pair("q", "A sentence.")[1] == "A sentence."


@pytest.mark.unit
def test_the_shipped_model_is_the_one_its_card_describes() -> None:
    card = CARD.read_text(encoding="utf-8")
    digest = re.search(r"sha256 `([0-9a-f]{64})`", card)
    assert digest, "the card names the model's sha256"
    assert hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest() == digest.group(1)
    assert MODEL_PATH.stat().st_size <= 25_000_000
    for needed in ("SQuAD 2.0", "CC BY-SA 4.0", "SciFact", "python -m citewise.evals.reader_training", "held-out"):
        assert needed in card


@pytest.mark.integration
@pytest.mark.xfail(strict=True, reason="the shipped reader scores De Quincey's dose sentence 0.017, below an on-topic "
                   "sentence about his schoolmaster (0.052): the issue's own example is not met yet "
                   "(docs/EVALUATION.md, 'The reader'); strict, so a reader that passes it must drop this mark")
def test_the_reader_reads_the_answer_above_sentences_on_the_topic() -> None:
    # De Quincey is one of the works the reader never trained on (HELD_OUT_SOURCES).
    reader = SentenceReader(workers=2)
    text = (REPO / "corpus" / "de-quincey-1821-confessions-of-an-english-opium-eater.txt").read_text(encoding="utf-8")

    def sentence(first: str, last: str) -> str:
        start = text.index(first)
        return text[start:text.index(last, start) + len(last)]

    question = "How much laudanum was De Quincey taking at his heaviest, and how far did he cut back?"
    answer = sentence("Strange as\nit may sound, I had a little", "or one-eighth\npart.")
    on_topic = [sentence("For some time I heard him", "the\nArchididascalus."),
                sentence("It was a year of\nbrilliant water", "cloudy melancholy of opium.")]
    scores = reader.scores(question, [(s, None) for s in (answer, *on_topic)])
    assert scores[0] > max(scores[1:])


@pytest.mark.integration
def test_a_pair_scores_the_same_alone_or_among_others() -> None:
    # int8 activations are quantised over the whole input, so pairs are never batched together.
    reader = SentenceReader(workers=2)
    question = "What did Freud call the royal road to the unconscious?"
    pairs = [("The interpretation of dreams is the royal road to a knowledge of the unconscious.", None),
             ("Dreams are the guardians of sleep.", "CHAPTER V"), ("The unconscious is timeless.", None)]
    together = reader.logits(question, pairs)
    alone = [reader.logits(question, [pair])[0] for pair in pairs]
    assert together.tolist() == pytest.approx(alone)
    probabilities = reader.scores(question, pairs)
    assert ((probabilities > 0) & (probabilities < 1)).all()


@pytest.mark.unit
def test_a_bad_training_line_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    good = ('{"id": "R-1", "source": "a.txt", "question": "q?", "answerable": true, "kind": "lookup", '
            '"answers": [{"file": "a.txt", "quote": "A."}], "near": []}')
    path = tmp_path / "q.jsonl"
    path.write_text(good + "\n" + good.replace('"R-1"', '"R-2"').replace("true", "false") + "\n", encoding="utf-8")
    with pytest.raises(CitewiseError, match=r"q\.jsonl:2: answerable=False but 1 answers"):
        load_training_questions([path])
    path.write_text(good + "\n" + good + "\n", encoding="utf-8")
    with pytest.raises(CitewiseError, match=r"q\.jsonl:2: id 'R-1' appears twice"):
        load_training_questions([path])
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(CitewiseError, match=r"q\.jsonl:1: not a training question"):
        load_training_questions([path])


@pytest.mark.unit
def test_the_shipped_training_questions_load_and_quote_their_files_verbatim() -> None:
    questions = load_training_questions(sorted((REPO / "training" / "reader").rglob("*.jsonl")))
    assert len(questions) >= 1000
    unanswerable = sum(not q.answerable or q.kind == "near_miss" for q in questions)
    assert unanswerable >= len(questions) / 4
    for question in questions:
        for quote in (*question.answers, *question.near):
            assert quote.quote in _corpus_text(quote.file), (question.id, quote.quote[:60])


@functools.cache
def _corpus_text(file: str) -> str:
    return (REPO / "corpus" / file).read_text(encoding="utf-8")


def _gold_spans() -> dict[str, list[tuple[int, int, str]]]:
    """Where each gold quotation of the evaluation sets stands in its file."""
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for name in ("questions.jsonl", "questions-2.jsonl", "questions-3.jsonl"):
        for line in (REPO / "evals" / "data" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("split", "").endswith("-seen"):  # questions-3: kept apart because the reader saw their gold
                continue
            golds = [*row.get("gold", []), *(g for part in row.get("parts", []) for g in part.get("gold", []))]
            for gold in golds:
                at = _corpus_text(gold["file"]).find(gold["quote"])
                if at >= 0:
                    spans.setdefault(gold["file"], []).append((at, at + len(gold["quote"]), row["id"]))
    return spans


@pytest.mark.unit
def test_no_training_quotation_overlaps_an_evaluation_gold_quotation() -> None:
    # The reader must never have been taught, either way, the very sentences its evaluation is read from.
    gold = _gold_spans()
    clashes = []
    for question in load_training_questions(sorted((REPO / "training" / "reader").rglob("*.jsonl"))):
        for quote in (*question.answers, *question.near):
            at = _corpus_text(quote.file).find(quote.quote)
            clashes += [(question.id, gold_id) for start, end, gold_id in gold.get(quote.file, [])
                        if min(end, at + len(quote.quote)) > max(start, at)]
    assert clashes == []


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


@pytest.mark.unit
def test_the_gates_off_corpus_questions_are_unanswerable_and_none_is_an_evaluation_question_reworded() -> None:
    from citewise.evals.questions import load_questions

    written = load_questions(REPO / "training" / "gate" / "off-corpus.jsonl")
    assert len(written) >= 150 and not any(q.answerable for q in written)
    evaluation = [q.question for name in ("questions.jsonl", "questions-2.jsonl", "questions-3.jsonl")
                  for q in load_questions(REPO / "evals" / "data" / name) if not (q.split or "").endswith("-seen")]
    # Writers of everyday questions converge ("explain the offside rule"): such twins were dropped, as here.
    twins = [(q.id, other) for q in written for other in evaluation
             if len(_words(q.question) & _words(other)) >= 0.4 * len(_words(q.question) | _words(other))]
    assert twins == []


@pytest.mark.unit
def test_the_training_command_reads_the_top_folder_and_only_the_folders_it_is_given(tmp_path: Path) -> None:
    from citewise.evals.reader_training import main, training_question_files

    shipped = training_question_files(REPO)
    assert [p.name for p in shipped] == ["w1.jsonl", "w2.jsonl", "w3.jsonl", "w4.jsonl"]
    second = REPO / "training" / "reader" / "second-round"
    assert training_question_files(REPO, [second])[4:] == sorted(second.glob("*.jsonl"))
    with pytest.raises(SystemExit):
        main(["--index", str(tmp_path), "--also", str(tmp_path / "nowhere")])


class _OneSource:
    """The CorpusSentences of a one-file corpus."""

    def __init__(self, text: str) -> None:
        from citewise.core.sentences import sentence_spans

        self.sentences = SourceSentences(text, sentence_spans(text), [(0, "CHAPTER I")])

    def of(self, file: str) -> SourceSentences:
        return self.sentences


@pytest.mark.unit
def test_pairs_label_answers_judged_and_mined_non_answers() -> None:
    from citewise.evals.reader_data import Quote, TrainingQuestion

    text = ("He took forty grains a day. Opium was cheap in London. The druggist was kind to him.\n\n"
            "He walked in Oxford Street at night.")
    question = TrainingQuestion("R-1", "a.txt", "How much did he take?", True, "lookup",
                                (Quote("a.txt", "He took forty grains a day."),),
                                (Quote("a.txt", "Opium was cheap in London."),))
    mined = [("a.txt", 0, 27), ("a.txt", text.index("The druggist"), text.index("him.") + 4)]
    pairs = question_pairs(question, _OneSource(text), mined)
    by_origin = {p.origin: p for p in pairs}
    assert by_origin["ours-answer"].label == 1.0 and by_origin["ours-answer"].sentence == "He took forty grains a day."
    assert by_origin["ours-answer"].heading == "CHAPTER I"
    assert by_origin["ours-near"].label == 0.0 and by_origin["ours-near"].weight == 1.0
    # The mined answer itself is not made a non-answer; the other mined sentence is, with less weight.
    assert [p.sentence for p in pairs if p.origin == "ours-mined"] == ["The druggist was kind to him."]
    assert by_origin["ours-mined"].weight < 1.0


@pytest.mark.unit
def test_a_question_whose_candidates_were_all_judged_has_no_presumed_non_answers(tmp_path: Path) -> None:
    from citewise.evals.reader_data import load_training_questions

    text = "He took forty grains a day. Opium was cheap in London. The druggist was kind to him."
    row = {"id": "J-1", "source": "a.txt", "question": "How much did he take?", "answerable": True,
           "kind": "lookup", "answers": [{"file": "a.txt", "quote": "He took forty grains a day."}],
           "near": [{"file": "a.txt", "quote": "Opium was cheap in London."}], "mined": False}
    (tmp_path / "judged.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    question, = load_training_questions([tmp_path / "judged.jsonl"])
    mined = [("a.txt", text.index("The druggist"), len(text))]
    pairs = question_pairs(question, _OneSource(text), mined)
    assert sorted(p.origin for p in pairs) == ["ours-answer", "ours-near"]
    assert all(p.weight == 1.0 for p in pairs)


@pytest.mark.unit
def test_a_sentence_pointing_back_is_quoted_with_the_one_before_it() -> None:
    text = ("The first stage of the mystic way is the cleansing of the self from all that hinders it. "
            "This is the meaning of purgation.\n\nThis alone says nothing at all here.")
    source = Source("s", "u.txt", "Essentials", "Evelyn Underhill", 1920, "", "", "", len(text))
    passage = Passage("p", "s", 0, 0, len(text), text, 40)
    spans = [text[s:e] for s, e in quotable_spans(passage, text, source)]
    assert ("The first stage of the mystic way is the cleansing of the self from all that hinders it. "
            "This is the meaning of purgation.") in spans
    assert "This is the meaning of purgation." not in spans
    # After a paragraph break there is nothing to take along: the pointer is not quoted.
    assert not any(span.startswith("This alone") for span in spans)


@pytest.mark.unit
@pytest.mark.parametrize("pointer", [
    "But as ex-alcoholics, we can say that his explanation makes good sense.",
    "Obviously this explanation is absolutely unsatisfactory from a scientific standpoint.",
    "But that will not do in psychoanalysis.",
])
def test_a_sentence_weighing_what_the_one_before_says_is_quoted_with_it(pointer: str) -> None:
    before = "The doctor's theory that we have an allergy to alcohol interests us."
    text = f"{before} {pointer}\n\nOn this account the doctor wrote a second letter to the committee."
    source = Source("s", "b.txt", "Big Book", "Alcoholics Anonymous", 1939, "", "", "", len(text))
    # Spans are cached by passage id, which stands for one text.
    passage = Passage(f"weighing-{pointer}", "s", 0, 0, len(text), text, 40)
    spans = [text[s:e] for s, e in quotable_spans(passage, text, source)]
    assert f"{before} {pointer}" in spans
    assert pointer not in spans
    # An idiom is no pointer: the sentence after the break is quoted alone.
    assert "On this account the doctor wrote a second letter to the committee." in spans


@pytest.mark.unit
def test_a_question_the_text_answers_at_once_is_quoted_with_its_answer() -> None:
    text = ("Prayer has had many definitions in the books of the mystics. In the first place, what do we mean by "
            "prayer? Surely just this: that part of our active and conscious life which is deliberately orientated "
            "towards spiritual reality.\n\nWhat then is the soul of all this? Nobody in the whole book can say.")
    source = Source("s", "u.txt", "Essentials", "Evelyn Underhill", 1920, "", "", "", len(text))
    # Spans are cached by passage id: one of its own.
    passage = Passage("p-asks", "s", 0, 0, len(text), text, 40)
    spans = [text[s:e] for s, e in quotable_spans(passage, text, source)]
    answer = ("Surely just this: that part of our active and conscious life which is deliberately orientated "
              "towards spiritual reality.")
    assert f"In the first place, what do we mean by prayer? {answer}" in spans and answer in spans
    # The question alone says nothing; a question never borrows across a paragraph break.
    assert "In the first place, what do we mean by prayer?" not in spans
    assert not any("prayer? " in span and "soul" in span for span in spans)
    assert "What then is the soul of all this? Nobody in the whole book can say." in spans


@pytest.mark.unit
def test_a_reading_list_at_the_back_of_a_book_is_never_quoted() -> None:
    chapter = "The Dithyramb was, to begin with, a spring ritual of the whole people.\n\n"
    books = ("[More recent works on Greek drama: A.W. PICKARD-CAMBRIDGE, _Dithyramb_, _Tragedy and Comedy_, 1927; "
             "G. THOMSON, _Aeschylus and Athens_, 1941.]")
    text = chapter + "BIBLIOGRAPHY\n\n" + books
    source = Source("s", "h.txt", "Ancient Art and Ritual", "Jane Ellen Harrison", 1913, "", "", "", len(text))
    headings = [(0, "CHAPTER VII. RITUAL, ART AND LIFE"), (len(chapter), "BIBLIOGRAPHY")]
    spans = [text[s:e] for s, e in quotable_spans(Passage("p-books", "s", 0, 0, len(text), text, 60), text, source,
                                                  lambda: headings)]
    assert spans == [chapter.strip()]
    # The same words under a chapter's heading are quoted: the heading decides, not the words.
    under_a_chapter = [(0, "CHAPTER VII. RITUAL, ART AND LIFE")]
    spans = [text[s:e] for s, e in quotable_spans(Passage("p-chapter", "s", 0, 0, len(text), text, 60), text, source,
                                                  lambda: under_a_chapter)]
    assert books in spans


def _engine(settings, embedder, reader: bool):  # noqa: ANN001, ANN202 - an OfflineEngine
    from citewise.answers.engines import build_engine
    from citewise.retrieval.retriever import IndexRetriever
    from citewise.store import open_index

    settings = settings.model_copy(update={"answer": settings.answer.model_copy(update={"reader": reader})})
    retriever = IndexRetriever(settings, open_index(settings), embedder=embedder)
    return build_engine(settings, retriever, retriever.index, name="offline", embedder=embedder)


@pytest.mark.integration
def test_the_reader_reads_each_parts_best_candidates_and_helps_choose_the_quotes_and_the_lead(slice_settings,
                                                                                              embedder) -> None:
    from citewise.core.sentences import unwrap

    reading, plain = _engine(slice_settings, embedder, True), _engine(slice_settings, embedder, False)
    question = "How long did the Greater Mysteries at Eleusis last?"
    evidence = reading.part_evidence(reading.plan(question), 0)
    # The reader leaves the engine's scores, and so the gate's other features, as they are ...
    unread = plain.part_evidence(plain.plan(question), 0)
    scores = {(c.start, c.end): c.score for c in unread.candidates}
    assert all(scores[(c.start, c.end)] == c.score for c in evidence.candidates)
    assert {name: evidence.features[name] for name in unread.features} == unread.features
    # ... and adds the mean of its logits over the part's best-scored candidates, the ones it reads (and only those).
    shortlist = sorted(evidence.candidates, key=lambda c: -c.score)[:reading.policy.read_at_most]
    assert len(evidence.candidates) > len(shortlist)
    assert all((c.reader is not None) == (c in shortlist) for c in evidence.candidates)
    assert "reader_mean_logit" not in unread.features
    assert evidence.features["reader_mean_logit"] == pytest.approx(sum(c.reader for c in shortlist) / len(shortlist))
    chosen = reading.choose([evidence], 1)
    # The lead is the candidate that the engine's score and the reader's logit together rate highest.
    directness = reading.policy.directness(evidence.candidates)
    assert chosen[0] is max(evidence.candidates, key=directness)
    answer = reading.answer(question)
    assert not answer.refused
    assert [c.quote for c in answer.citations] == [unwrap(c.text) for c in chosen]


@pytest.mark.integration
def test_the_gate_reads_the_nearest_passages_while_quotes_may_come_from_farther(slice_settings, embedder) -> None:
    from citewise.answers.offline import engine as offline_engine

    question = "What happened on the second day of the Greater Mysteries?"
    wide = _engine(slice_settings, embedder, False)
    evidence = wide.part_evidence(wide.plan(question), 0)
    near = {h.passage.id for h in evidence.hits[:offline_engine.GATE_PASSAGES]}
    assert len(evidence.hits) > len(near)
    assert evidence.nearest and all(c.hit.passage.id in near for c in evidence.nearest)
    assert any(c.hit.passage.id not in near for c in evidence.candidates)
    # Quoting from farther passages changes nothing the gate reads: the same features as an engine that reads only
    # the nearest passages.
    narrow = wide.reconfigured(quote_passages=offline_engine.GATE_PASSAGES)
    alone = narrow.part_evidence(narrow.plan(question), 0)
    assert len(alone.candidates) < len(evidence.candidates)
    assert alone.features == evidence.features


@pytest.mark.unit
def test_the_gate_with_the_reader_was_fitted_on_the_mean_over_the_candidates_the_reader_reads() -> None:
    from citewise.answers.offline import READER_GATE_FEATURES, READER_GATE_PATH, AnswerabilityModel, ReaderPolicy
    from citewise.answers.offline.engine import QUOTE_PASSAGES

    gate = AnswerabilityModel.load(READER_GATE_PATH, READER_GATE_FEATURES)
    assert (gate.reader_reads, gate.quote_passages) == (ReaderPolicy().read_at_most, QUOTE_PASSAGES)
    assert gate.features[-1] == "reader_mean_logit"


@pytest.mark.integration
def test_the_engine_judges_by_the_gate_of_the_way_it_runs(slice_settings, embedder) -> None:
    from citewise.answers.offline import GATE_FEATURES, READER_GATE_FEATURES, OfflineEngine, ReaderPolicy
    from citewise.answers.offline.engine import QUOTE_PASSAGES

    reading, plain = _engine(slice_settings, embedder, True), _engine(slice_settings, embedder, False)
    # With the reader a part passes two gates: the reader's and the one the engine without it uses.
    assert reading.gate.features == READER_GATE_FEATURES
    assert reading.gate.requires is not None and reading.gate.requires.features == GATE_FEATURES
    assert plain.gate.features == GATE_FEATURES and plain.gate.requires is None
    evidence = reading.part_evidence(reading.plan("How long did the Greater Mysteries at Eleusis last?"), 0)
    features = dict(evidence.features)
    assert reading.gate.answerable(features)
    features["best_passage_cosine"] = -1.0  # nothing the search found is near the question
    assert not reading.gate.requires.answerable(features) and not reading.gate.answerable(features)
    # A reader reading another number of candidates than the gate was fitted with is refused, naming the refit.
    with pytest.raises(ValueError, match="answerability_training --reader"):
        OfflineEngine(plain.settings, plain.retriever, plain.index, plain.embedder, plain.verifier, plain.scorer,
                      reader=reading.reader, policy=ReaderPolicy(read_at_most=12))
    # Tuning and mining try other pools on a copy, checked as at construction; the engine itself cannot be changed.
    assert reading.gate_fits() and not reading.gate_fits(quote_passages=20)
    assert not reading.gate_fits(ReaderPolicy(read_at_most=12)) and plain.gate_fits(ReaderPolicy(read_at_most=12))
    with pytest.raises(ValueError, match="answerability_training --reader"):
        reading.reconfigured(quote_passages=20)
    wider = reading.reconfigured(quote_passages=20, gated=False)
    assert (wider.quote_passages, wider.gate, wider.reader) == (20, None, reading.reader)
    assert reading.quote_passages == QUOTE_PASSAGES != wider.quote_passages and reading.gate is not None
    with pytest.raises(AttributeError):
        reading.policy = ReaderPolicy(read_at_most=12)
