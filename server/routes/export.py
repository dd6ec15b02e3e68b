"""POST /v1/export: an answer to take away, as Markdown with its bibliography, or its bibliography as BibTeX/RIS."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from citewise.answers import output
from citewise.answers.output import EXPORTS, ExportFormat, export_filename
from citewise.core.answer import Answer
from citewise.server.deps import LoadedDep

router = APIRouter(tags=["answers"])


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Answer = Field(description="an answer as /v1/ask returned it")
    format: ExportFormat = Field(description="md: the answer with a full bibliography; bibtex or ris: the cited "
                                             "sources, from the index's metadata")


@router.post("/v1/export", response_class=Response,
             responses={200: {"content": {kind.media_type.split(";")[0]: {} for kind in EXPORTS.values()},
                              "description": "the file, as an attachment"}})
async def export_answer(body: ExportRequest, loaded: LoadedDep) -> Response:
    """The answer as a file: Markdown, BibTeX or RIS. Sources are described from the index where it still holds
    them, else from the citation itself."""
    text = output.export_answer(body.answer, loaded.index.sources, body.format)
    filename = export_filename(body.answer, body.format)
    return Response(text, media_type=EXPORTS[body.format].media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
