"""API tokens: how programs sign in. An admin makes one for each program, with the
least role it needs, sees it once, and revokes it when the program no longer needs it.
The registry keeps only each token's SHA-256 digest."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from services.registry.web import auth
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import page, with_message

ADMIN = Depends(auth.require_role("admin"))


class TokenRequest(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100, description="What the token is for, such as the program using it")]
    role: Literal["viewer", "manager", "admin"] = Field(description="The least role the program needs")


def token_view(row) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked": row.revoked_at is not None,
    }


router = APIRouter()


@router.post("/api-tokens", status_code=201, tags=["api tokens"], dependencies=[ADMIN])
async def create_api_token(command: TokenRequest, request: Request) -> dict:
    """Make a token; the answer holds the token itself, the only time it is shown."""
    if problems := auth.token_problem(command.name, command.role):
        raise RequestValidationError([{"loc": ("body", f), "type": "value_error", "msg": m} for f, m in problems.items()])
    made = await auth.create_token(registry_of(request), command.name, command.role, auth.person_of(request))
    return {"id": made.id, "name": made.name, "role": made.role, "token": made.token}


@router.get("/api-tokens", tags=["api tokens"], dependencies=[ADMIN])
async def list_api_tokens(request: Request) -> dict:
    return {"items": [token_view(row) for row in await auth.list_tokens(registry_of(request))]}


@router.delete("/api-tokens/{token_id}", tags=["api tokens"], dependencies=[ADMIN])
async def revoke_api_token(token_id: int, request: Request) -> Response:
    if not await auth.revoke_token(registry_of(request), token_id):
        return JSONResponse(status_code=404, content={"detail": f"There is no token {token_id} still in use"})
    return JSONResponse({"id": token_id, "revoked": True})


# ---- the admin's page ----


async def tokens_page(request: Request, values: dict, errors: dict[str, str], made=None, status_code: int = 200) -> Response:
    rows = await auth.list_tokens(registry_of(request))
    return page(
        request,
        "tokens.html",
        {
            "title": "API tokens",
            "section": "tokens",
            "tokens": rows,
            "values": values,
            "made": made,
            "errors": list(errors.items()),
            "error_for": errors,
            "roles": auth.ROLES,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/manage/tokens", response_class=HTMLResponse, include_in_schema=False)
async def tokens(request: Request) -> Response:
    await need(request, "admin")
    return await tokens_page(request, {"name": "", "role": "viewer"}, {})


@router.post("/manage/tokens", response_class=HTMLResponse, include_in_schema=False)
async def add_token(request: Request) -> Response:
    manager, form = await need_form(request, "admin")
    values = {"name": str(form.get("name") or "").strip(), "role": str(form.get("role") or "")}
    if errors := auth.token_problem(values["name"], values["role"]):
        return await tokens_page(request, values, errors, status_code=400)
    made = await auth.create_token(registry_of(request), values["name"], values["role"], manager.email)
    return await tokens_page(request, {"name": "", "role": "viewer"}, {}, made=made)


@router.post("/manage/tokens/{token_id}/revoke", response_class=HTMLResponse, include_in_schema=False)
async def revoke(token_id: int, request: Request) -> Response:
    await need_form(request, "admin")
    revoked = await auth.revoke_token(registry_of(request), token_id)
    return with_message(
        "/manage/tokens", f"Token {token_id} has been revoked" if revoked else f"Token {token_id} was already revoked"
    )
