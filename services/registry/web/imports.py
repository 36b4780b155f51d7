"""Importing leaders from a spreadsheet."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm.exc import StaleDataError

from services.common.collector import collector_paused
from services.registry.adapters import spreadsheets
from services.registry.domain.importing import FileProblem
from services.registry.handlers import leaders as leaders_handlers
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import (
    page,
)

router = APIRouter()


@router.get("/manage/import", response_class=HTMLResponse, include_in_schema=False)
async def import_page(request: Request) -> Response:
    await need(request, "manager")
    return page(
        request, "import.html", {"title": "Import leaders from a spreadsheet", "section": "import", "errors": [], "error_for": {}}
    )


@router.get("/manage/import/template.csv", include_in_schema=False)
async def template_csv(request: Request) -> Response:
    await need(request, "manager")
    return Response(
        spreadsheets.template_csv(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="leaders-template.csv"'},
    )


@router.get("/manage/import/template.xlsx", include_in_schema=False)
async def template_xlsx(request: Request) -> Response:
    await need(request, "manager")
    return Response(
        spreadsheets.template_xlsx(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="leaders-template.xlsx"'},
    )


@router.post("/manage/import", response_class=HTMLResponse, include_in_schema=False)
async def import_file(request: Request) -> Response:
    await need_form(request, "manager")
    form = await request.form()
    upload = form.get("file")
    registry = registry_of(request)

    def problem_page(message: str) -> Response:
        return page(
            request,
            "import.html",
            {
                "title": "Import leaders from a spreadsheet",
                "section": "import",
                "errors": [("file", message)],
                "error_for": {"file": message},
            },
            status_code=400,
        )

    if upload is None or isinstance(upload, str) or not upload.filename:
        return problem_page("Select a CSV or Excel file to import")
    content = await upload.read()
    if not content:
        return problem_page(f"The selected file {upload.filename} is empty")
    try:
        with collector_paused():  # bulk work: services/common/collector.py
            async with registry.store.unit_of_work() as uow:
                report = await leaders_handlers.import_spreadsheet(
                    uow, registry.cipher, upload.filename, content, keys=registry.person_keys, part_done=uow.commit_part
                )
                await uow.commit()
    except FileProblem as problem:
        return problem_page(f"The file {upload.filename} cannot be imported: {problem}")
    except StaleDataError:
        return problem_page(leaders_handlers.CHANGED_MEANWHILE)
    return page(
        request,
        "import_report.html",
        {
            "title": "Import report" if not report.problems else "Import report: some rows need changes",
            "section": "import",
            "filename": upload.filename,
            "counts": report.counts,
            "problems": report.problems,
            "rows_with_problems": report.rows_with_problems,
        },
    )
