"""The LLM engine: a model (an OpenAI-compatible endpoint, or a GGUF run here) writes claims, each verified as it
arrives. Imported lazily: `import citewise.answers.llm` costs nothing, and the openai client is loaded only when
one of these names is first used, so the offline path never pulls it in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citewise.answers.llm.context import TokenCounter
    from citewise.answers.llm.engine import AnswerStats, LLMEngine
    from citewise.answers.llm.local_model import bundled_model_path

__all__ = ["AnswerStats", "LLMEngine", "TokenCounter", "bundled_model_path"]


def __getattr__(name: str) -> object:
    # Each import is written out (not importlib by string) so that import-linter sees it.
    if name in ("AnswerStats", "LLMEngine"):
        from citewise.answers.llm import engine as module
    elif name == "TokenCounter":
        from citewise.answers.llm import context as module
    elif name == "bundled_model_path":
        from citewise.answers.llm import local_model as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
