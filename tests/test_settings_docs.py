"""Every documented setting exists and does what the documents say: docs/SETTINGS.md is the settings tree itself
(its descriptions), the code reads every setting, and every setting another document names is one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings, load_settings, settings_reference, settings_table

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "evals" / "data" / "README.md"]
CODE_FOLDERS = ("answers", "bench", "citewise", "evals", "ingest", "retrieval", "server", "store")


def _sections() -> dict[str, set[str]]:
    """Section name -> its fields; top-level settings under ""."""
    sections: dict[str, set[str]] = {"": set()}
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            sections[name] = set(field.annotation.model_fields)
        else:
            sections[""].add(name)
    return sections


def _code() -> str:
    files = [path for folder in CODE_FOLDERS for path in (REPO / folder).rglob("*.py")
             if path != REPO / "citewise" / "core" / "settings.py" and ".venv" not in path.parts]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_the_settings_reference_is_the_settings_tree() -> None:
    assert settings_table() in (REPO / "docs" / "SETTINGS.md").read_text(encoding="utf-8"), (
        "docs/SETTINGS.md is out of date: paste the output of "
        "python -c 'from citewise.core.settings import settings_table as t; print(t())'")
    assert all(meaning for _, _, meaning in settings_reference()), "every setting says what it does"


def test_the_code_reads_every_setting() -> None:
    code = _code()
    unread = [f"{section}.{name}".strip(".") for section, names in _sections().items() for name in sorted(names)
              if not re.search(rf"\.{name}\b|[\"']{name}[\"']", code)]
    assert unread == []


def test_every_setting_the_documents_name_exists() -> None:
    sections = _sections()
    variables = {name for name, _, _ in settings_reference()}
    wrong: list[str] = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for name in re.findall(r"CITEWISE_[A-Z0-9_]*[A-Z0-9]", text):
            if name not in variables and name.removeprefix("CITEWISE_").lower() not in sections:
                wrong.append(f"{document.name}: {name}")
        # `llm.max_tokens`: a setting unless it names a module (`ingest.pipeline`).
        for section, name in re.findall(r"`([a-z]+)\.([a-z_]+)`?", text):
            if section in sections and section and name not in sections[section] and not (
                    (REPO / section / f"{name}.py").exists() or (REPO / section / name).is_dir()):
                wrong.append(f"{document.name}: {section}.{name}")
        # "LLM settings (`CITEWISE_LLM__*`): `local_model`, `base_url`, ...": each a field of that section.
        for section, listed in re.findall(r"`CITEWISE_([A-Z]+)__\*`\)?:([^\n]*)", text):
            wrong += [f"{document.name}: {section.lower()}.{name}" for name in re.findall(r"`([a-z_]+)`", listed)
                      if name not in sections.get(section.lower(), set())]
    assert wrong == []


def test_a_setting_that_is_gone_is_an_error_not_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    # answer.refusal_threshold was documented as "refuses below this" and ignored; it is gone, and saying it fails.
    monkeypatch.setenv("CITEWISE_ANSWER__REFUSAL_THRESHOLD", "0.5")
    with pytest.raises(CitewiseError, match="unknown setting CITEWISE_ANSWER__REFUSAL_THRESHOLD"):
        load_settings()
