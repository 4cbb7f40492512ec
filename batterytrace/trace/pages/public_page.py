"""The battery's public page as HTML, in Chinese or English.

Whoever scans a battery's QR code lands here, most often on a phone, so the page is one small
server-rendered document: no data fetched by script, the shared stylesheet plus its own, and one
tiny script (``/static/js/public.js``) that only offers "use my location". Everything comes from
our own origin, so the Content-Security-Policy can stay at ``'self'`` with no inline code.

Words come from ``messages/public.{lang}.json`` (and the shared ``common``). Field values in the
page data are the language-neutral ones the JSON answer carries (``"retired"``, ``"pack"``,
``"lithium iron phosphate"``); they are translated here, so programs and people read the same
record. Every value a participant typed (names, addresses) is escaped, and so are our own
messages, so a stray ``<`` in a translation cannot break the page.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from batterytrace.events.conventions import BATTERY_TYPES
from batterytrace.events.zone import shown_time
from batterytrace.trace.pages.i18n import LANGUAGES, translate
from batterytrace.trace.pages.problem_text import problem_text

STATIC = "/static"
SCRIPT = f"{STATIC}/js/public.js"
STYLESHEETS = (f"{STATIC}/css/pages.css", f"{STATIC}/css/public.css")

# The JSON answer carries the chemistry's English name; its battery-type letter keys the message.
_CHEMISTRY_LETTER = {name: letter for letter, name in BATTERY_TYPES.items()}

# How urgent a state is to the person holding the battery: the badge's colour.
TONES = {
    "produced": "active",
    "assembled": "active",
    "installed": "active",
    "at swap station": "active",  # charged, waiting for the next vehicle
    "in scrapped vehicle": "transit",  # on its way out through the dismantler
    "removed": "action",
    "retired": "action",
    "collected": "transit",
    "handed over": "transit",
    "cascade-reused": "second",
    "recycled": "done",
}


class Html(str):
    """Markup we built ourselves (already escaped): placed into a message as it is."""


def _key(value: str) -> str:
    """A field value as a message-key segment (``"handed over"`` -> ``handed_over``)."""
    return value.replace(" ", "_").replace("-", "_").replace("'", "")


def text(language: str, key: str, **values: object) -> str:
    """A message as HTML: its template escaped, then its values escaped unless they are ``Html``."""
    template = html.escape(translate(language, key))
    if not values:
        return template
    safe = {
        name: value if isinstance(value, Html) else html.escape(str(value)) for name, value in values.items()
    }
    return template.format(**safe)


def _word(language: str, group: str, value: str, fallback: str | None = None) -> str:
    """A field value in the page's language; ``fallback`` (else the value itself) where no
    message names it, so a state added later still shows."""
    key = f"public.{group}.{_key(value)}"
    words = translate(language, key)
    if words == key:
        words = value if fallback is None else fallback
    return html.escape(words)


def chemistry(language: str, name: str) -> str:
    """The chemistry's name in ``language`` (from the English name the views store)."""
    letter = _CHEMISTRY_LETTER.get(name)
    return text(language, f"public.chemistry.{letter}") if letter else _word(language, "chemistry", name)


def shown_name(language: str, record: Mapping[str, Any], field: str = "name") -> str:
    """A name as this page shows it: on an English page the English one (``{field}_en``) where
    the record has one, else the registered (Chinese) name; the same rule as the pages' script
    (``BT.nameOf`` in static/js/common.js). Not escaped."""
    english = record.get(f"{field}_en") if language == "en" else None
    return str(english or record.get(field) or "")


def _switch(language: str, near: tuple[float, float] | None) -> str:
    """The link to the other language, keeping the location the points were chosen for."""
    other = next(code for code in LANGUAGES if code != language)
    query: dict[str, object] = {"lang": other}
    if near is not None:
        query.update(lat=near[0], lon=near[1])
    return (
        f'<a class="lang" id="lang-switch" href="?{html.escape(urlencode(query))}" hreflang="{other}" '
        f'lang="{other}">{text(language, "lang.switch")}</a>'
    )


def _document(language: str, title: str, body: str, near: tuple[float, float] | None) -> str:
    styles = "".join(f'<link rel="stylesheet" href="{href}">' for href in STYLESHEETS)
    return (
        f'<!doctype html>\n<html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{title} · {text(language, 'site.name')}</title>{styles}"
        f'<script src="{SCRIPT}" defer></script></head>'
        f'<body class="public"><header class="bar"><span class="brand">{text(language, "site.name")}</span>'
        f"{_switch(language, near)}</header><main>{body}</main></body></html>\n"
    )


def _badge(language: str, state: str) -> str:
    tone = TONES.get(state, "done")
    return (
        f'<span class="state tone-{tone}" id="state" data-state="{html.escape(state)}">'
        f"{_word(language, 'state', state)}</span>"
    )


def _facts(language: str, page: dict[str, Any]) -> str:
    maker = shown_name(language, page, "manufacturer_name")
    rows = (
        ("public.level", _word(language, "level", page["level"])),
        ("public.chemistry", chemistry(language, page["chemistry"])),
        ("public.maker", html.escape(maker) if maker else text(language, "public.maker_unknown")),
        ("public.produced", html.escape(page["production_month"])),
    )
    items = "".join(f"<dt>{text(language, key)}</dt><dd>{value}</dd>" for key, value in rows)
    return (
        '<section class="card" aria-labelledby="facts">'
        f'<h2 id="facts">{text(language, "public.facts")}</h2><dl class="facts">{items}</dl></section>'
    )


def _second_life(language: str, page: dict[str, Any]) -> str:
    """Both directions of the lineage the public may see: made from retired batteries, and
    reused into a second-life product (linked: its page is ``/b/{product}``, relative here)."""
    origin = "public.second_life.product" if page["second_life"] else "public.second_life.original"
    lines = [text(language, origin)]
    if page["second_life_product"]:
        product = html.escape(page["second_life_product"])
        link = Html(f'<a class="code" id="second-life-product" href="{product}">{product}</a>')
        lines.append(text(language, "public.second_life.reused_into", product=link))
    else:
        lines.append(text(language, "public.second_life.not_reused"))
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    return (
        '<section class="card" aria-labelledby="life">'
        f'<h2 id="life">{text(language, "public.second_life")}</h2>{paragraphs}</section>'
    )


def _held_at(language: str, page: dict[str, Any]) -> str:
    """Where the battery is held, when a collection point has it: it is handed in already, so
    that point is said here once rather than listed as a place to bring it."""
    point = page.get("held_at")
    if not point:
        return ""
    address = f'<p class="muted" id="held-at-address">{html.escape(point["address"])}</p>'
    said = text(language, "public.held_at", name=shown_name(language, point))
    held = f'<p class="held" id="held-at">{said}</p>'
    return held + (address if point["address"] else "")


def _points(language: str, page: dict[str, Any]) -> str:
    near = page["collection_points_near"]
    caption = text(language, f"public.near.{_key(near)}" if near else "public.near.none")
    items = []
    for point in page["collection_points"]:
        distance = point["distance_km"]
        far = (
            f'<span class="distance">{text(language, "public.distance", km=f"{distance:.1f}")}</span>'
            if distance is not None
            else ""
        )
        items.append(
            f'<li><span class="name">{html.escape(shown_name(language, point))}</span>{far}'
            f'<span class="address">{html.escape(point["address"])}</span></li>'
        )
    none = "public.no_other_points" if page.get("held_at") else "public.no_points"
    listing = (
        f'<ol class="points" id="points">{"".join(items)}</ol>' if items else f"<p>{text(language, none)}</p>"
    )
    return (
        '<section class="card" aria-labelledby="return">'
        f'<h2 id="return">{text(language, "public.return")}</h2>{_held_at(language, page)}'
        f'<p class="muted" id="points-near">{caption}</p>{listing}'
        f'<button id="near" type="button" class="secondary" hidden '
        f'data-denied="{text(language, "public.location_denied")}">{text(language, "public.use_location")}'
        '</button><p class="muted" id="near-status" role="status" hidden></p></section>'
    )


def _qr(language: str, code: str) -> str:
    return (
        '<section class="card qr" aria-labelledby="qr">'
        f'<h2 id="qr">{text(language, "public.qr")}</h2>'
        f'<a href="{code}/qr.png" id="qr-link"><img src="{code}/qr.svg" width="160" height="160" '
        f'alt="{text(language, "public.qr_alt")}"></a>'
        f'<p class="muted">{text(language, "public.qr_hint")}</p>'
        f'<p class="formats"><a href="{code}/qr.png">PNG</a> · <a href="{code}/qr.svg">SVG</a> · '
        '<a href="?format=json">JSON</a></p></section>'
    )


def _ledger(language: str, page: dict[str, Any]) -> str:
    """Which signed checkpoint of the tamper-evidence ledger covers the battery's history (or
    that none does yet); nothing where the ledger signs no checkpoints (no ``ledger_checkpoint``)."""
    if "ledger_checkpoint" not in page:
        return ""
    checkpoint = page["ledger_checkpoint"]
    said = (
        text(language, "public.ledger.pending")
        if checkpoint is None
        else text(
            language,
            "public.ledger.covered",
            size=checkpoint["tree_size"],
            signed=shown_time(checkpoint["signed_at"]),
        )
    )
    return f'<p class="ledger" id="ledger">{said}</p>'


def render_public_page(
    page: dict[str, Any], language: str, *, near: tuple[float, float] | None = None
) -> str:
    """The public page in ``language``; ``near`` is the location the caller gave (kept by the
    language switch). Links are relative to ``/b/{code}``."""
    code = html.escape(page["code"])
    state = page["state"]
    hero = (
        '<section class="card hero" aria-labelledby="title">'
        f'<h1 id="title"><span class="kind">{text(language, "public.heading")}</span>'
        f'<span class="code">{code}</span></h1>'
        f'<p class="status"><span class="label">{text(language, "public.status")}</span>'
        f"{_badge(language, state)}</p>"
        f'<p class="meaning" id="meaning">{_word(language, "meaning", state, fallback="")}</p></section>'
    )
    footer = f'<footer class="muted">{_ledger(language, page)}{text(language, "public.footer")}</footer>'
    facts, life, points = _facts(language, page), _second_life(language, page), _points(language, page)
    # Returning the battery matters most when it is out of use: the points come first then.
    middle = (points, facts, life) if TONES.get(state) == "action" else (facts, life, points)
    body = hero + "".join(middle) + _qr(language, code) + footer
    return _document(language, text(language, "public.title", code=page["code"]), body, near)


def render_error_page(
    status: int,
    message: str,
    language: str,
    *,
    code: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> str:
    """An error as a page (an unknown or mistyped code, views behind), in ``language``: the
    refusal's message key ``code`` with its ``params`` in words of the page's language, the
    English ``message`` only where the catalogue has no such key."""
    key = f"public.error.{status}"
    title = text(language, key if translate(language, key) != key else "public.error.other")
    said = html.escape(problem_text(language, code, params, message))
    body = f'<section class="card"><h1>{title}</h1><p id="problem">{said}</p></section>'
    return _document(language, title, body, None)
