"""Importing leaders from a spreadsheet."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry.adapters import spreadsheets
from services.registry.adapters.gazetteer import locate_town
from services.registry.web.deps import need, need_form, registry_of
from services.registry.domain.importing import FileProblem, parse_rows
from services.registry.handlers import leaders as leaders_handlers
from services.registry.web.pages import (
    page,
)

router = APIRouter()


@router.get("/manage/import", response_class=HTMLResponse, include_in_schema=False)
async def import_page(request: Request) -> Response:
    await need(request, "manager")
    return page(request, "import.html", {"title": "Import leaders from a spreadsheet", "section": "import", "errors": [], "error_for": {}})


@router.get("/manage/import/template.csv", include_in_schema=False)
async def template_csv(request: Request) -> Response:
    await need(request, "manager")
    return Response(spreadsheets.template_csv(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="leaders-template.csv"'})


@router.get("/manage/import/template.xlsx", include_in_schema=False)
async def template_xlsx(request: Request) -> Response:
    await need(request, "manager")
    return Response(spreadsheets.template_xlsx(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="leaders-template.xlsx"'})


@router.post("/manage/import", response_class=HTMLResponse, include_in_schema=False)
async def import_file(request: Request) -> Response:
    await need_form(request, "manager")
    form = await request.form()
    upload = form.get("file")
    registry = registry_of(request)

    def problem_page(message: str) -> Response:
        return page(request, "import.html", {
            "title": "Import leaders from a spreadsheet", "section": "import",
            "errors": [("file", message)], "error_for": {"file": message},
        }, status_code=400)

    if upload is None or isinstance(upload, str) or not upload.filename:
        return problem_page("Select a CSV or Excel file to import")
    content = await upload.read()
    if not content:
        return problem_page(f"The selected file {upload.filename} is empty")
    try:
        header, rows = spreadsheets.read_rows(upload.filename, content)
        valid, problems = parse_rows(header, rows, locate_town)
    except FileProblem as problem:
        return problem_page(f"The file {upload.filename} cannot be imported: {problem}")
    async with registry.store.unit_of_work() as uow:
        counts, conflicts = await leaders_handlers.import_leaders(uow, registry.cipher, valid, keys=registry.person_keys)
        await uow.commit()
    problems = sorted(problems + conflicts, key=lambda p: (p.row, p.column))
    return page(request, "import_report.html", {
        "title": "Import report" if not problems else "Import report: some rows need changes",
        "section": "import", "filename": upload.filename, "counts": counts, "problems": problems,
        "rows_with_problems": len({p.row for p in problems}),
    })
