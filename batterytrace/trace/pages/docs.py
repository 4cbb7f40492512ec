"""Routes: the API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from the package.

FastAPI's own docs pages load their scripts from a CDN, without integrity attributes or a content
security policy, and may be framed; an operator pasting a key into "Authorize" would hand it to
whatever the CDN or a framing page runs. These pages are FastAPI's ("Self-hosting JavaScript and
CSS for docs": the app is made with ``docs_url=None, redoc_url=None``) over the vendored copies
under ``/static/vendor`` (``scripts/vendor-assets``), so they need no internet, and they carry the
pages' headers: a strict policy with ``frame-ancestors 'none'``, ``nosniff``, no referrer.

Swagger UI's HTML starts the UI with an inline script, which ``script-src 'self'`` would block:
the policy of that page allows exactly the inline scripts the page has, by their SHA-256 hashes,
computed from the HTML it answers. ReDoc builds its search index in a worker made from a ``blob:``.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

SWAGGER_UI = "/static/vendor/swagger-ui"
REDOC = "/static/vendor/redoc"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)  # FastAPI writes these bare


def docs_headers(html: str) -> dict[str, str]:
    """The pages' headers for a docs page, its inline scripts allowed by hash and nothing else."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(html)
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'self'; img-src 'self' data:; script-src 'self'{hashes}; "
            "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def with_docs_headers(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers=docs_headers(html))


def _root_path(request: Request) -> str:
    """The prefix a proxy mounts the service under (as FastAPI's own docs routes use it)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, with the app's OAuth and Swagger UI settings."""
    app, root = request.app, _root_path(request)
    redirect = app.swagger_ui_oauth2_redirect_url
    return with_docs_headers(
        get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png",
            oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """Where an OAuth2 sign-in in Swagger UI's "Authorize" returns to (FastAPI's page)."""
    return with_docs_headers(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``, without Google Fonts (the system's fonts)."""
    app, root = request.app, _root_path(request)
    return with_docs_headers(
        get_redoc_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png",
            with_google_fonts=False,
        )
    )
