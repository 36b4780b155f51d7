"""The API guide (/docs) and the description it shows (/openapi.json), for signed-in people only.

The guide's viewer (Swagger UI) is served from this site's own files, pinned in static/swagger/VERSION
(rebuilt by build_swagger.sh), so the page loads nothing from elsewhere and keeps the content
security policy. Trying a change from the guide with the browser's session is refused, as it sends
no form token: programs use an API token.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.registry.web.auth import require_role
from services.registry.web.deps import need

GUIDE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pairing registry: API guide</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger/guide.js"></script>
</body>
</html>
"""


def install_api_guide(app: FastAPI) -> None:
    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def api_guide(request: Request) -> HTMLResponse:
        await need(request)
        return HTMLResponse(GUIDE_PAGE)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_role("viewer"))])
    async def api_description(request: Request) -> JSONResponse:
        return JSONResponse(request.app.openapi())
