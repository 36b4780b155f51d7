"""Headers that make every response safer in a browser.

The content security policy allows scripts, styles, images and fonts from this
site only, and no inline script or style, so injected markup cannot run. The
API guide pages (/docs, /redoc) load their viewer from elsewhere, so they get
every header except the policy.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

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


def install_secure_headers(app: FastAPI, https: bool) -> None:
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
