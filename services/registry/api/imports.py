"""Importing leaders from a spreadsheet, and the blank spreadsheets to fill in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from services.common.collector import collector_paused
from services.registry.adapters import spreadsheets
from services.registry.domain.importing import FileProblem
from services.registry.handlers import leaders
from services.registry.web.deps import MANAGER, registry_of

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
        with collector_paused():  # bulk work: services/common/collector.py
            async with registry.store.unit_of_work() as uow:
                report = await leaders.import_spreadsheet(
                    uow, registry.cipher, file.filename or "", content, keys=registry.person_keys, part_done=uow.commit_part
                )
                await uow.commit()
    except FileProblem as problem:
        return JSONResponse(status_code=422, content={"detail": f"The file cannot be imported: {problem}"})
    except StaleDataError:
        return JSONResponse(status_code=409, content={"detail": leaders.CHANGED_MEANWHILE})
    return JSONResponse(
        {
            **report.counts,
            "rows_with_problems": report.rows_with_problems,
            "problems": [{"row": p.row, "column": p.column, "message": p.message} for p in report.problems],
        }
    )
