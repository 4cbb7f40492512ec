"""The start page at ``/``: what the service is and where to go, in Chinese or English.

Someone who opens the service's address (after ``run-demo``, or a colleague's link) used to get a
JSON 404. This page links the outlet's scanning page, the regulator's dashboard, how to reach a
battery's public page, the API documentation and the health probes. It is one small
server-rendered document with no script, so its Content-Security-Policy allows only our own
stylesheets; words come from ``messages/home.{lang}.json`` and the shared ``common``.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Cookie, Header, Query
from fastapi.responses import HTMLResponse

from batterytrace.trace.pages.i18n import LANGUAGE_COOKIE, LANGUAGES, choose_language, translate

STYLESHEETS = ("/static/css/pages.css", "/static/css/home.css")
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src data:; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
LANGUAGE_COOKIE_AGE = 365 * 86400

# Sections of links: (heading key, [(path, label key, description key)])
SECTIONS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "home.pages",
        (
            ("/outlet", "home.outlet", "home.outlet.about"),
            ("/regulator", "home.regulator", "home.regulator.about"),
        ),
    ),
    (
        "home.api",
        (
            ("/docs", "home.docs", "home.docs.about"),
            ("/redoc", "home.redoc", "home.redoc.about"),
            ("/openapi.json", "home.openapi", "home.openapi.about"),
        ),
    ),
    (
        "home.health",
        (
            ("/healthz", "home.healthz", "home.healthz.about"),
            ("/readyz", "home.readyz", "home.readyz.about"),
            ("/metrics", "home.metrics", "home.metrics.about"),
        ),
    ),
)

router = APIRouter(include_in_schema=False)

LangQuery = Annotated[str | None, Query(alias="lang", description="zh or en; remembered in a cookie")]
LangCookie = Annotated[str | None, Cookie(alias=LANGUAGE_COOKIE)]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]


def _text(language: str, key: str) -> str:
    return html.escape(translate(language, key))


def _section(language: str, heading: str, links: tuple[tuple[str, str, str], ...]) -> str:
    items = "".join(
        f'<li><a href="{path}">{_text(language, label)}</a> <code>{path}</code>'
        f'<br><span class="muted">{_text(language, about)}</span></li>'
        for path, label, about in links
    )
    return (
        f'<section class="card"><h2>{_text(language, heading)}</h2><ul class="links">{items}</ul></section>'
    )


def render_home(language: str) -> str:
    """The start page in ``language`` (the same for every caller: no data, no key)."""
    other = next(code for code in LANGUAGES if code != language)
    styles = "".join(f'<link rel="stylesheet" href="{href}">' for href in STYLESHEETS)
    public_page = (
        f'<section class="card"><h2>{_text(language, "home.public")}</h2>'
        f"<p>{_text(language, 'home.public.about')} <code>/b/&lt;code&gt;</code></p></section>"
    )
    body = (
        f'<section class="card hero"><h1>{_text(language, "home.title")}</h1>'
        f"<p>{_text(language, 'home.intro')}</p></section>"
        + _section(language, *SECTIONS[0])
        + public_page
        + "".join(_section(language, *section) for section in SECTIONS[1:])
    )
    return (
        f'<!doctype html>\n<html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_text(language, 'home.title')} · {_text(language, 'site.name')}</title>{styles}</head>"
        f'<body class="home"><header class="bar"><a class="brand" href="/">{_text(language, "site.name")}</a>'
        f'<a class="lang" id="lang-switch" href="?lang={other}" hreflang="{other}" lang="{other}">'
        f"{_text(language, 'lang.switch')}</a></header><main>{body}</main></body></html>\n"
    )


@router.get("/", response_class=HTMLResponse)
def home_page(
    lang: LangQuery = None, cookie: LangCookie = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """The start page, in the caller's language (``?lang=``, remembered; else the browser's)."""
    language = choose_language(lang, cookie, accept)
    response = HTMLResponse(render_home(language), headers=HEADERS)
    if lang and lang.lower()[:2] in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_AGE, samesite="lax")
    return response
