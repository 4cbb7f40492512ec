"""Routes: the pages (``/outlet``, ``/regulator``) and their static files (``/static/...``).

A page is public HTML: what a user may do is decided by the API calls its script makes with the
user's key. Static files are served from the package (``static/``), never from outside it, with a
day of caching for the vendored libraries and revalidation for our own scripts.
"""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Cookie, Header, Query
from fastapi.responses import HTMLResponse, Response

from batterytrace.events.errors import NotFound
from batterytrace.trace.pages.i18n import LANGUAGE_COOKIE, LANGUAGES, choose_language
from batterytrace.trace.pages.shell import render_page

router = APIRouter(tags=["pages"], include_in_schema=False)

# page path -> (template, title message, scripts under /static)
PAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {}
_HTML_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")

LangQuery = Annotated[str | None, Query(alias="lang", description="zh or en; remembered in a cookie")]
LangCookie = Annotated[str | None, Cookie(alias=LANGUAGE_COOKIE)]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]


def page(path: str, template: str, title_key: str, scripts: tuple[str, ...]) -> None:
    """Serve ``templates/{template}.html`` at ``path``, in the caller's language."""

    def show(lang: LangQuery = None, cookie: LangCookie = None, accept: AcceptLanguage = None) -> Response:
        language = choose_language(lang, cookie, accept)
        response = HTMLResponse(
            render_page(template, language, title_key=title_key, scripts=scripts), headers=_HTML_HEADERS
        )
        if lang and lang.lower()[:2] in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
        return response

    show.__name__ = f"page_{template}"
    router.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse)
    PAGES[path] = (template, title_key, scripts)


@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """A file under the package's ``static/`` folder."""
    parts = PurePosixPath(path).parts
    if not parts or any(part in ("..", "") or part.startswith(".") for part in parts):
        raise NotFound(f"no static file {path!r}")
    content = _static_bytes(parts)
    if content is None:
        raise NotFound(f"no static file {path!r}")
    media_type = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    cache = "public, max-age=86400" if parts[0] == "vendor" else "no-cache"
    return Response(content, media_type=media_type, headers={"Cache-Control": cache})


@lru_cache(maxsize=128)  # bounded: the key comes from the request, misses included
def _static_bytes(parts: tuple[str, ...]) -> bytes | None:
    """A packaged static file's bytes, read once (the files ship with the package and do not
    change while it runs); None where there is no such file."""
    resource = resources.files(__package__).joinpath("static", *parts)
    return resource.read_bytes() if resource.is_file() else None


page("/outlet", "outlet", "outlet.title", ("vendor/zxing-wasm/zxing-reader.js", "js/outlet.js"))
page(
    "/regulator",
    "regulator",
    "regulator.title",
    (
        "vendor/echarts/echarts.min.js",
        "js/regulator-data.js",
        "js/regulator-charts.js",
        "js/regulator-tables.js",
        "js/regulator.js",
    ),
)
