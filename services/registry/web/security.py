"""Headers that make every response safer in a browser.

The content security policy allows scripts, styles, images and fonts from this
site only, and no inline script or style, so injected markup cannot run. The
API guide pages (/docs, /redoc) load their viewer from elsewhere, so they get
every header except the policy.

A change (POST, PUT, PATCH or DELETE) sent by a browser from any other origin is
refused, whatever sign-in it carries: browsers say where a request comes from in
the Origin and Sec-Fetch-Site headers, and another website cannot hide them.
Programs send neither, and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

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
API_GUIDE = ("/docs", "/redoc")
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
        if not request.url.path.startswith(API_GUIDE):
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
