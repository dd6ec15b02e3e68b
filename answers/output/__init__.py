"""What an answer looks like to its reader: Markdown rendered from verified quotes (render, markdown safety), the
health notice, and the Markdown, BibTeX and RIS exports."""

from citewise.answers.output.export import EXPORTS, ExportFormat, export_filename, to_bibtex, to_markdown, to_ris

# The function under another name: `export` is also the module's, and an import of it would read as the module.
from citewise.answers.output.export import export as export_answer
from citewise.answers.output.notice import HEALTH_NOTICE, health_notice, is_health_question
from citewise.answers.output.render import attribution, display_author, source_ref, year_and_kind

__all__ = [
    "EXPORTS",
    "HEALTH_NOTICE",
    "ExportFormat",
    "attribution",
    "display_author",
    "export_answer",
    "export_filename",
    "health_notice",
    "is_health_question",
    "source_ref",
    "to_bibtex",
    "to_markdown",
    "to_ris",
    "year_and_kind",
]
