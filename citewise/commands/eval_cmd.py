"""`citewise eval ...`: retrieval on BEIR data, answers on question files, any system's quotations, and the harness's
selftest."""

from __future__ import annotations

import typer

eval_app = typer.Typer(help="Measure retrieval and answer faithfulness.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from citewise.commands import eval_answers_cmd, eval_quotes_cmd, eval_retrieval_cmd, eval_support_cmd

    for module in (eval_retrieval_cmd, eval_answers_cmd, eval_quotes_cmd, eval_support_cmd):
        module.register(eval_app)
    app.add_typer(eval_app, name="eval")
