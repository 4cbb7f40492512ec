"""Routes: the pages (``/outlet``, ``/regulator``) and their static files (``/static/...``).

A page is public HTML: what a user may do is decided by the API calls its script makes with the
user's key. Static files are the package's ``static/`` folder, read into a table at start-up and
looked up by path (nothing outside the table can be reached), with a day of caching for the vendored
libraries and revalidation for our own scripts.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
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


@dataclass(frozen=True)
class StaticFile:
    """A packaged static file as it is answered: its bytes and its headers' values."""

    content: bytes
    media_type: str
    cache_control: str


def packaged_static_files() -> dict[str, StaticFile]:
    """Every file under the package's ``static/`` folder, by its relative POSIX path
    (``js/outlet.js``), read once.

    The table is the only way to a file: a request path is looked up as a key and never joined
    to a filesystem path, so no spelling of a path (absolute, dot segments, encoded slashes,
    backslashes, NUL) can reach another file. Opening any other file would be worse than a
    leak for the SQLite store: closing a descriptor of the store's file drops all of this
    process's POSIX locks on it, and a CLI run beside the server then deletes the ``-wal`` file
    from under it. Hidden entries (``.name``) are left out."""
    files: dict[str, StaticFile] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file():
                files[prefix + entry.name] = StaticFile(
                    entry.read_bytes(),
                    mimetypes.guess_type(entry.name)[0] or "application/octet-stream",
                    "public, max-age=86400" if prefix.startswith("vendor/") else "no-cache",
                )

    walk(resources.files(__package__).joinpath("static"), "")
    return files


STATIC_FILES = packaged_static_files()
SHOWN_PATH = 120  # characters of an unknown path that a 404 repeats


@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """A packaged file under ``static/``: vendored libraries cached for a day, our own files
    revalidated (``no-cache``)."""
    found = STATIC_FILES.get(path)
    if found is None:
        shown = path if len(path) <= SHOWN_PATH else path[: SHOWN_PATH - 1] + "…"
        raise NotFound(f"no static file {shown!r}; only the pages' own files are served under /static/")
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"Cache-Control": found.cache_control, "X-Content-Type-Options": "nosniff"},
    )


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
