"""Importing leaders from a spreadsheet, and the blank spreadsheets to fill in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from services.registry.adapters import spreadsheets
from services.registry.adapters.gazetteer import locate_town
from services.registry.web.deps import MANAGER, registry_of
from services.registry.domain.importing import FileProblem, parse_rows
from services.registry.handlers import leaders

router = APIRouter()


@router.get("/leaders/import/template.csv", tags=["import"], response_class=Response, dependencies=[MANAGER])
async def import_template_csv() -> Response:
    return Response(
        spreadsheets.template_csv(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="leaders-template.csv"'},
    )


@router.get("/leaders/import/template.xlsx", tags=["import"], response_class=Response, dependencies=[MANAGER])
async def import_template_xlsx() -> Response:
    return Response(
        spreadsheets.template_xlsx(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="leaders-template.xlsx"'},
    )


@router.post("/leaders/import", tags=["import"], dependencies=[MANAGER])
async def import_leaders(request: Request, file: Annotated[UploadFile, File()]) -> JSONResponse:
    """Store every valid row and report every invalid one; the same file again changes nothing."""
    registry = registry_of(request)
    content = await file.read()
    try:
        header, rows = spreadsheets.read_rows(file.filename or "", content)
        valid, problems = parse_rows(header, rows, locate_town)
    except FileProblem as problem:
        return JSONResponse(status_code=422, content={"detail": f"The file cannot be imported: {problem}"})
    async with registry.store.unit_of_work() as uow:
        counts, conflicts = await leaders.import_leaders(uow, registry.cipher, valid, keys=registry.person_keys)
        await uow.commit()
    problems = sorted(problems + conflicts, key=lambda p: (p.row, p.column))
    return JSONResponse(
        {
            **counts,
            "rows_with_problems": len({p.row for p in problems}),
            "problems": [{"row": p.row, "column": p.column, "message": p.message} for p in problems],
        }
    )
