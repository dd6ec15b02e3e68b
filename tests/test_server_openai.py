"""The official `openai` client against a running `citewise serve`: content plus citations as annotations."""

from __future__ import annotations

import re

import openai
import pytest

from citewise.bench.server_process import ServerProcess
from citewise.core.answer import Citation
from citewise.core.settings import Settings

pytestmark = pytest.mark.integration

QUESTION = "What are the effects of MDMA on serotonin?"


@pytest.fixture(scope="module")
def client(slice_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(slice_settings.index, inherit_settings=False,
                       log_dir=tmp_path_factory.mktemp("serve_log")) as server:
        yield openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="not-needed", max_retries=0, timeout=120)


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_models_are_listed(client: openai.OpenAI) -> None:
    names = {model.id for model in client.models.list()}
    assert {"citewise", "citewise-offline", "citewise-llm"} <= names


def test_plain_completion_carries_citations_as_annotations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="citewise-offline",
                                                messages=[{"role": "user", "content": QUESTION}])
    message = completion.choices[0].message
    assert message.role == "assistant" and message.content
    assert message.annotations, "citations must reach the client as annotations"
    citations = [Citation.model_validate(annotation.model_extra["citation"]) for annotation in message.annotations]
    assert all(annotation.type == "citation" for annotation in message.annotations)
    assert {c.n for c in citations} == markers(message.content.split("Sources cited")[0])
    assert all(c.quote and c.end > c.start for c in citations)
    assert completion.model_extra["citewise"]["refused"] is False


def test_streamed_completion_ends_with_annotations(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="citewise", stream=True,
                                            messages=[{"role": "user", "content": QUESTION}])
    content, annotations, finish = [], [], None
    for chunk in stream:
        delta = chunk.choices[0].delta
        content.append(delta.content or "")
        annotations.extend((delta.model_extra or {}).get("annotations") or [])
        finish = chunk.choices[0].finish_reason or finish
    text = "".join(content)
    assert text and finish == "stop"
    citations = [Citation.model_validate(a["citation"]) for a in annotations]
    assert citations and {c.n for c in citations} == markers(text.split("Sources cited")[0])


def test_multi_turn_messages_and_unknown_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="citewise-offline", messages=[
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "MDMA releases serotonin [1]."},
        {"role": "user", "content": [{"type": "text", "text": "And what are its risks?"}]},
    ])
    assert completion.choices[0].message.content
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-imaginary", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="citewise", messages=[{"role": "assistant", "content": "hello"}])
