"""Headers that make every response safer in a browser.

The content security policy allows scripts, styles, images and fonts from this
site only, and no inline script or style, so injected markup cannot run. It
applies to every page, the API guide (/docs) included: its viewer is served
from this site (see guide.py).

A change (POST, PUT, PATCH or DELETE) sent by a browser from any other origin is
refused, whatever sign-in it carries: browsers say where a request comes from in
the Origin and Sec-Fetch-Site headers, and another website cannot hide them.
Programs send neither, and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The accept and decline links carry a token: never pass the address on to another site.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CHANGES = ("POST", "PUT", "PATCH", "DELETE")
FROM_ELSEWHERE = (
    "This change was sent from another website, so it was refused. "
    "Make changes from the registry's own pages, or from a program with an API token"
)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_elsewhere(request: Request, public_url: str) -> bool:
    """A change a browser sent from another origin (another site, or another port of this one).

    Browsers today say where a request comes from in Sec-Fetch-Site. Older ones send only Origin,
    which is "null" on this registry's own pages (their referrer policy is no-referrer), so an
    Origin of "null" is only trusted when Sec-Fetch-Site says same-origin.
    """
    if request.method not in CHANGES:
        return False
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not a browser: programs send neither header
    own = {origin_of(public_url), f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    return origin.lower() not in own


def install_secure_headers(app: FastAPI, https: bool, public_url: str = "") -> None:
    @app.middleware("http")
    async def same_origin_changes(request: Request, call_next) -> Response:
        if from_elsewhere(request, public_url):
            return JSONResponse(status_code=403, content={"detail": FROM_ELSEWHERE})
        return await call_next(request)

    @app.middleware("http")
    async def secure_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        content_type = response.headers.get("content-type", "")
        if not request.url.path.startswith("/static/") and (
            content_type.startswith("text/html") or request.url.path.startswith(("/manage", "/responses"))
        ):
            # Pages show people's details: never keep them in a shared cache or the back-forward cache of a shared computer.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def too_large(limit: int, upload: bool) -> str:
    what = "The file" if upload else "The request"
    advice = "Split the spreadsheet into smaller files and import them one after the other" if upload else "Send less at once"
    return f"{what} is too large: the most the registry takes is {limit / 1024 / 1024:g} MiB. {advice}"


class BodyLimit:
    """Refuses (413) a request body larger than the limit, from its Content-Length before reading it, or
    as it arrives: spreadsheets (multipart uploads) have their own, larger, limit. Once refused, the
    route sees the client as gone and anything it answers is dropped."""

    def __init__(self, app, body_bytes: int, upload_bytes: int):
        self.app, self.body_bytes, self.upload_bytes = app, body_bytes, upload_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.upload_bytes if upload else self.body_bytes
        refusal = PlainTextResponse(too_large(limit, upload), status_code=413, headers={"Connection": "close"})
        length = headers.get(b"content-length", b"")
        if length.isascii() and length.isdigit() and int(length) > limit:
            return await refusal(scope, receive, send)
        seen, started, refused = 0, False, False

        async def counted():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    refused = True
                    await refusal(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused:
                raise


def install_body_limits(app: FastAPI, body_bytes: int, upload_bytes: int) -> None:
    app.add_middleware(BodyLimit, body_bytes=body_bytes, upload_bytes=upload_bytes)
