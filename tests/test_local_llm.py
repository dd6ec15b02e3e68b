"""A real language model in the loop: SmolLM2-135M-Instruct through llama-cpp-python's server, started by the
engine as a child process, answering dev questions on the slice index. The model cites the candidate sentences
by id, and llama.cpp holds it to the ids given (an enum in the JSON schema): a model this small now writes most
answers itself, and every quotation is a sentence of the index, at its offsets."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from citewise.answers.engines import build_engine
from citewise.answers.llm.engine import AnswerStats
from citewise.answers.llm.local_model import bundled_model_path, check_runtime
from citewise.answers.quotes.verifier import locate
from citewise.core.answer import Answer, Message
from citewise.core.errors import CitewiseError
from citewise.core.process import citewise_command
from citewise.core.settings import AnswerSettings, LLMSettings, Settings
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index

pytestmark = pytest.mark.llm

REPO = Path(__file__).resolve().parent.parent
# Answerable from the slice (Eleusis, Alcoholics Anonymous, MDMA) and one no source answers.
QUESTION_IDS = ("A03", "A09", "A13", "A52", "A42")
# Small on purpose: one core, a few short passages and a short reply keep each answer to tens of seconds.
SMALL = {"threads": 1, "max_sentences": 5, "max_tokens": 256, "context_tokens": 2048, "timeout_s": 300}
QUOTED = re.compile(r"“(.*?)” \[(\d+)\]", re.DOTALL)


@pytest.fixture(scope="module")
def model() -> Path:
    path = bundled_model_path()
    try:
        check_runtime()
        missing = None if path.is_file() else f"no model at {path}"
    except CitewiseError as exc:
        missing = str(exc)
    if missing:
        if os.environ.get("LOCAL_LLM_REQUIRED") == "1":
            pytest.fail(f"the local model is required here: {missing}")
        pytest.skip(f"{missing} (bash scripts/install.sh --local-llm)")
    return path


def dev_questions() -> list[str]:
    rows = [json.loads(line) for line in (REPO / "evals/data/questions.jsonl").read_text().splitlines() if line]
    by_id = {row["id"]: row["question"] for row in rows}
    return [by_id[qid] for qid in QUESTION_IDS]


def assert_nothing_unverified(answer: Answer, index) -> None:
    """Each citation's quotation is at its offsets in the source, and each quotation shown is a citation's."""
    for citation in answer.citations:
        text = index.source_text(citation.source.id)
        assert locate(citation.quote, text, citation.start, citation.end) == (citation.start, citation.end), citation
    shown = QUOTED.findall(answer.answer)
    assert len(shown) == len(answer.citations)
    for quote, n in shown:
        assert answer.citations[int(n) - 1].quote == quote


def assert_model_answer_or_noted_fallback(answer: Answer) -> None:
    if answer.engine == "llm":
        assert answer.refused or answer.citations, answer.answer
        assert "language model" not in answer.answer.splitlines()[0]
    else:
        assert answer.answer.startswith("> Note: the language model "), answer.answer
        assert "composed by the offline engine" in answer.answer.splitlines()[0]


def test_smollm2_writes_answers_that_cite_sentences_by_id(model, slice_settings, embedder):
    settings = slice_settings.model_copy(update={"llm": LLMSettings(local_model=model, **SMALL),
                                                 "answer": AnswerSettings(max_quotes=3)})
    retriever = IndexRetriever(settings, open_index(settings), embedder=embedder)
    engine = build_engine(settings, retriever, retriever.index, name="llm", embedder=embedder)
    outcomes = []
    answers = {}
    for question in dev_questions():
        stats = AnswerStats()
        events = list(engine.stream(question, stats=stats))
        answer = events[-1].answer
        assert answer.question == question
        assert_model_answer_or_noted_fallback(answer)
        assert_nothing_unverified(answer, retriever.index)
        if stats.gate_refused:
            outcomes.append("refused")
            continue
        # llama.cpp decodes under the schema: no id outside those given, and the reply is read claim by claim.
        assert stats.unknown_ids == 0 and stats.rounds == 1, stats
        if answer.engine == "llm":
            # Every quotation is the model's, or the offline engine's for a part the model cited nothing for.
            assert stats.quotes + stats.parts_filled == len(answer.citations), stats
            assert stats.first_claim_s < stats.done_s
            assert "".join(e.text for e in events if e.type == "text") == answer.answer
        outcomes.append(answer.engine)
        answers[question] = answer
    # A follow-up: the offline engine's rules make it standalone, not the model (a 135M model's rewrites searched
    # worse), and the model answers it.
    history = [Message(role="user", content=dev_questions()[0]), Message(role="assistant", content="...")]
    stats = AnswerStats()
    follow_up = [e.answer for e in engine.stream("What else does it say about that?", history, stats=stats)
                 if e.type == "done"][0]
    assert not stats.rewritten and follow_up.citations
    assert_nothing_unverified(follow_up, retriever.index)
    # Asked again after other questions, a question gets the same answer: its prompt depends on nothing else.
    again, first = next((q, a) for q, a in answers.items() if a.engine == "llm")
    assert engine.answer(again).answer == first.answer
    print("outcomes:", outcomes)  # shown with -s
    # The copy-the-quote protocol had this model write 2 of 8 answers; citing ids, it writes most of them.
    asked = [o for o in outcomes if o != "refused"]
    assert asked and asked.count("llm") >= len(asked) - 1, outcomes
    # A local model that dies (a native crash, the OOM killer) is started again for the next request.
    server = engine.endpoint.counter
    server.process.kill()
    server.process.wait()
    assert engine.endpoint.counter.count("Say yes.") > 0
    assert engine.endpoint.complete([{"role": "user", "content": "Say yes."}], 4)
    assert server.running()


def test_ask_from_the_command_line_with_a_local_model(model, slice_settings, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEWISE_")}
    env |= {"CITEWISE_LLM__LOCAL_MODEL": str(model), "CITEWISE_INDEX": str(slice_settings.index),
            **{f"CITEWISE_LLM__{key.upper()}": str(value) for key, value in SMALL.items()}}
    done = subprocess.run(citewise_command("ask", "What are James's marks of mystical states?", "--engine", "llm",
                                           "--json"), env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    answer = Answer.model_validate_json(done.stdout)
    assert_model_answer_or_noted_fallback(answer)
    settings = Settings(index=slice_settings.index)
    assert_nothing_unverified(answer, open_index(settings))
