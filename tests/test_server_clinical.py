"""The API for clinicians over real HTTP: kinds on sources and citations, filters on /v1/ask and /v1/search,
the health notice, /v1/export, and a source's structure for the passage panel."""

from __future__ import annotations

import bibtexparser
import httpx
import pytest
import rispy

from citewise.answers.output.notice import HEALTH_NOTICE
from citewise.bench.server_process import ServerProcess
from citewise.core.answer import Answer
from citewise.core.settings import Settings

pytestmark = pytest.mark.integration

CLINICAL = "Is MDMA-assisted therapy approved for PTSD?"


@pytest.fixture(scope="module")
def client(slice_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(slice_settings.index, inherit_settings=False,
                       log_dir=tmp_path_factory.mktemp("serve_log")) as server, \
            httpx.Client(base_url=server.base_url, timeout=120) as http:
        yield http


def test_sources_and_search_hits_carry_their_kind(client: httpx.Client) -> None:
    sources = client.get("/v1/sources").json()
    kinds = {s["file"]: s["kind"] for s in sources}
    assert kinds["wikipedia-2025-mdma.md"] == "encyclopedia article"
    assert kinds["wright-1919-eleusinian-mysteries-and-rites.txt"] == "book"
    assert next(s for s in sources if "medlineplus" in s["file"])["aliases"] == ["MedlinePlus"]
    hits = client.get("/v1/search", params={"q": "ecstasy", "kind": "government health information"}).json()["hits"]
    assert hits and {h["source"]["kind"] for h in hits} == {"government health information"}
    recent = client.get("/v1/search", params={"q": "mysteries of Eleusis", "since": 2000}).json()["hits"]
    assert recent and all(h["source"]["year"] >= 2000 for h in recent)
    named = client.get("/v1/search", params={"q": "ecstasy", "source": "MedlinePlus"}).json()["hits"]
    assert named and {h["source"]["file"] for h in named} == {"medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md"}
    bad = client.get("/v1/search", params={"q": "x", "kind": "horoscope"})
    assert bad.status_code == 422 and "horoscope" in bad.json()["error"]["message"]


def test_ask_under_filters_with_the_notice(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={"question": CLINICAL, "filters": {"since": 2020}})
    assert response.status_code == 200, response.text
    answer = Answer.model_validate(response.json())
    assert not answer.refused and answer.citations
    assert all(c.source.kind and c.source.year >= 2020 for c in answer.citations)
    assert answer.filters is not None and answer.filters.since == 2020
    assert answer.notice == HEALTH_NOTICE and answer.answer.count(HEALTH_NOTICE) == 1
    refused = client.post("/v1/ask", json={"question": CLINICAL, "filters": {"kinds": ["book"]}}).json()
    assert refused["refused"] and refused["excluded_by_filters"]
    assert "excluded the evidence" in refused["answer"]
    wrong = client.post("/v1/ask", json={"question": CLINICAL, "filters": {"sources": ["Nature 2031"]}})
    assert wrong.status_code == 422 and wrong.json()["error"]["message"].startswith("filters: source 'Nature 2031'")
    typo = client.post("/v1/ask", json={"question": CLINICAL, "filters": {"snice": 2020}})
    assert typo.status_code == 422


def test_export_gives_files_a_reference_manager_reads(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": CLINICAL}).json()
    cited = {c["source"]["file"] for c in answer["citations"]}
    bib = client.post("/v1/export", json={"answer": answer, "format": "bibtex"})
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    filename = "citewise-is-mdma-assisted-therapy-approved-for-ptsd.bib"
    assert bib.headers["content-disposition"] == f'attachment; filename="{filename}"'
    library = bibtexparser.parse_string(bib.text)
    assert not library.failed_blocks and len(library.entries) == len(cited)
    ris = client.post("/v1/export", json={"answer": answer, "format": "ris"})
    assert len(rispy.loads(ris.text)) == len(cited)
    markdown = client.post("/v1/export", json={"answer": answer, "format": "md"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith(f"# {CLINICAL}") and HEALTH_NOTICE in markdown.text
    assert client.post("/v1/export", json={"answer": answer, "format": "docx"}).status_code == 422


def test_source_text_gives_its_format_and_headings(client: httpx.Client) -> None:
    sources = {s["file"]: s for s in client.get("/v1/sources").json()}
    mdma = sources["wikipedia-2025-mdma.md"]
    span = client.get(f"/v1/sources/{mdma['id']}/text", params={"start": 3000, "end": 3100, "context": 5000}).json()
    assert span["format"] == "markdown"
    window = span["before"] + span["text"] + span["after"]
    assert span["headings"], "the MDMA article has headings within 5,000 characters of offset 3,000"
    for heading in span["headings"]:
        at = heading["start"] - span["context_start"]
        assert window[at:at + len(heading["text"])] == heading["text"]
    book = sources["wright-1919-eleusinian-mysteries-and-rites.txt"]
    assert client.get(f"/v1/sources/{book['id']}/text", params={"start": 0, "end": 10}).json()["format"] == "text"
