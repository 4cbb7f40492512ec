"""Routes: the resolver, where a battery's QR code leads.

``GET /b/{code}`` is the battery's public page: what it is, who made it and when, its state, its
second life, where it is held if a collection point has taken it in, and where to hand it in (the
nearest collection points a regulator has approved, other than the one holding it), and, where the
ledger signs checkpoints, which signed checkpoint covers its history (issue 15). Browsers get a
small server-rendered HTML page in Chinese or English (``?lang=``, the language cookie, else
``Accept-Language``, as on the other pages; rendered by ``trace.pages.public_page`` from our own
static files only); programs that ask for JSON (``Accept: application/json`` or ``?format=json``)
get the same public fields as JSON, language-neutral. Only the public subset is shown, whoever
asks: no VIN, no participant ids (the maker appears by name), no events or actors.

``GET /b/{code}/qr.png`` and ``/b/{code}/qr.svg`` draw the QR code of ``{public_url}/b/{code}``
with the code printed under it, for any recorded battery.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from batterytrace.events import regions
from batterytrace.events.battery_code import EXAMPLE_CODE, BatteryCode, parse_battery_code
from batterytrace.events.errors import DomainError, InvalidInput, NotFound
from batterytrace.events.zone import in_china_time
from batterytrace.projections import queries
from batterytrace.projections.database import read_session
from batterytrace.projections.ledger_config import LedgerConfig
from batterytrace.trace.access import public_battery
from batterytrace.trace.api.deps import OptionalCaller, Service, Views
from batterytrace.trace.api.errors import ViewsBehind
from batterytrace.trace.api.models import problem_responses
from batterytrace.trace.api.problems import problem, status_of
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.ledger.reading import covering_checkpoint
from batterytrace.trace.pages.i18n import LANGUAGE_COOKIE, LANGUAGES, choose_language
from batterytrace.trace.pages.public_page import render_error_page, render_public_page
from batterytrace.trace.pages.routes import AcceptLanguage, LangCookie, LangQuery
from batterytrace.trace.passport.build import PassportEnded, as_json_ld, battery_passport
from batterytrace.trace.qr import qr_png, qr_svg, resolver_url

router = APIRouter(tags=["resolver"])

NEAREST_LIMIT = 5
QR_CACHE = "public, max-age=86400"
LANGUAGE_COOKIE_AGE = 365 * 86400

# The page uses only our own stylesheets, script and QR image: nothing inline, nothing foreign.
_HTML_HEADERS = {
    "Vary": "Accept, Accept-Language, Cookie",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}

CodePath = Annotated[
    str, Path(description="GB/T 34014 battery code (24 characters).", examples=[EXAMPLE_CODE])
]


# ------------------------------------------------------------------------------------ models
class ReturnPoint(BaseModel):
    name: str
    name_en: str | None = Field(None, description="Its English name, where registered.")
    address: str
    distance_km: float | None = Field(description="Great-circle distance; null when no reference.")


class HoldingPoint(BaseModel):
    name: str
    name_en: str | None = Field(None, description="Its English name, where registered.")
    address: str


class LedgerCoverage(BaseModel):
    tree_size: int = Field(description="The checkpoint's tree size (`GET /api/v1/ledger/proofs/…`).")
    signed_at: str = Field(
        description="When it was signed (China Standard Time).", examples=["2026-05-20T10:15:00+08:00"]
    )


class PublicPage(BaseModel):
    """The battery's public page: what anyone who scans its QR code may see."""

    code: str
    url: str = Field(description="The resolver URL the battery's QR code carries.")
    level: str = Field(description="pack, module or cell")
    chemistry: str
    manufacturer_name: str | None
    manufacturer_name_en: str | None = Field(None, description="The maker's English name, where registered.")
    production_month: str = Field(description="YYYY-MM", examples=["2024-07"])
    state: str
    second_life: bool = Field(description="This battery is a second-life product made from retired ones.")
    second_life_product: str | None = Field(
        description="The code of the second-life product this battery was cascade-reused into."
    )
    held_at: HoldingPoint | None = Field(
        description="The collection point holding the battery now (it is already in the formal "
        "recycling channel); null when none holds it or that point is pending review."
    )
    collection_points: list[ReturnPoint] = Field(
        description="Where to hand it in, nearest first: approved points, never the one holding it."
    )
    collection_points_near: Literal["your location", "last collection point", "manufacturer's region"] | None
    ledger_checkpoint: LedgerCoverage | None = Field(
        None,
        description="The earliest signed checkpoint of the tamper-evidence ledger that covers the "
        "battery's history (its last event's record); null while none does yet. Absent when the "
        "ledger has no signing key.",
    )


# ------------------------------------------------------------------------------------ routes
@router.get(
    "/b/{code}",
    summary="A battery's public page (HTML, or JSON when asked)",
    response_model=None,
    responses={
        200: {
            "model": PublicPage,
            "description": "HTML for browsers; JSON with `Accept: application/json` or `?format=json`.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **problem_responses(404, 422),
    },
)
def battery_page(
    request: Request,
    code: CodePath,
    service: Service,
    views: Views,
    lat: Annotated[
        float | None, Query(ge=-90, le=90, description="Your latitude: collection points near you.")
    ] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="Your longitude.")] = None,
    fmt: Annotated[
        Literal["html", "json"] | None,
        Query(alias="format", description="Override the Accept header."),
    ] = None,
    lang: LangQuery = None,
    cookie: LangCookie = None,
    accept_language: AcceptLanguage = None,
    caller: OptionalCaller = None,
) -> Response:
    """What anyone may see about the battery, from the lifecycle view: type, chemistry, maker,
    production month, state, second life, and the nearest collection points (to `lat`/`lon` when
    given, else to the battery's last collection point, else to its maker's region). The HTML
    page speaks Chinese or English (`lang`, remembered in a cookie); JSON is language-neutral.
    `Accept: application/ld+json` gets the battery's EU battery passport as JSON-LD instead (as
    `GET /api/v1/batteries/{code}/passport`, cut to the caller's access; 410 once recycled)."""
    if fmt is None and _prefers_json_ld(request.headers.get("accept", "")):
        return _passport_document(service, code, caller)
    as_json = fmt == "json" if fmt else _prefers_json(request.headers.get("accept", ""))
    language = choose_language(lang, cookie, accept_language)
    try:
        near = _location(lat, lon)
        page = public_page(service, views, code, near=near)
    except DomainError as error:
        if as_json or not _prefers_html(request.headers.get("accept", "")):
            raise
        status = status_of(error)
        shown = render_error_page(
            status, error.message, language, code=error.message_key, params=error.params
        )
        response: Response = HTMLResponse(shown, status_code=status, headers=_HTML_HEADERS)
    else:
        if as_json:
            return JSONResponse(page, headers={"Vary": "Accept"})
        response = HTMLResponse(render_public_page(page, language, near=near), headers=_HTML_HEADERS)
    if lang and lang.lower()[:2] in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_AGE, samesite="lax")
    return response


@router.get(
    "/b/{code}/qr.png",
    summary="The battery's QR code as PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 422)},
)
def battery_qr_png(
    code: CodePath,
    service: Service,
    box: Annotated[int, Query(ge=2, le=40, description="Pixels per module.")] = 8,
) -> Response:
    """The QR code of the battery's resolver URL, with the code printed under it."""
    parsed = _recorded(service, code)
    image = qr_png(resolver_url(service.settings.public_url, parsed.code), parsed.code, box_size=box)
    return Response(image, media_type="image/png", headers={"Cache-Control": QR_CACHE})


@router.get(
    "/b/{code}/qr.svg",
    summary="The battery's QR code as SVG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **problem_responses(404, 422)},
)
def battery_qr_svg(code: CodePath, service: Service) -> Response:
    """The QR code of the battery's resolver URL as SVG, with the code as text under it."""
    parsed = _recorded(service, code)
    image = qr_svg(resolver_url(service.settings.public_url, parsed.code), parsed.code)
    return Response(image, media_type="image/svg+xml", headers={"Cache-Control": QR_CACHE})


# ----------------------------------------------------------------------------------- the page
def public_page(
    service: BatteryTrace, views: Engine, code: str, *, near: tuple[float, float] | None = None
) -> dict[str, Any]:
    """The public fields of a battery, with the collection points nearest to ``near`` (or to the
    battery's last collection point, or to its maker's region).

    A battery a collection point holds is already in the formal channel: that point is named
    once, as where it is held (``held_at``), and never listed as a place to bring it (it was
    the first "nearest" point, at 0.0 km). Points pending review are shown nowhere."""
    parsed = parse_battery_code(code, today=service.today())
    document = queries.battery_lifecycle(
        views, parsed.code, now=service.clock(), overdue_days=service.settings.overdue_days
    )
    if document is None:
        if service.exists(parsed.code):
            raise ViewsBehind(f"battery {parsed.code} is recorded but its page is not up to date yet; retry")
        raise NotFound(
            f"battery {parsed.code}: no battery with this code has been recorded",
            key="not_found.battery",
            params={"id": parsed.code},
        )
    battery = document["battery"]
    reference, reason = near, "your location" if near else None
    if reference is None:
        reference = _last_point_location(views, document["timeline"])
        reason = "last collection point" if reference else None
    if reference is None:
        reference = _maker_location(views, battery["manufacturer_id"])
        reason = "manufacturer's region" if reference else None
    holder = _holding_point(battery)
    points = queries.nearest_points(views, reference, limit=NEAREST_LIMIT, exclude=holder)
    held_at = _held_at(battery) if holder and queries.is_approved(views, holder) else None
    return {
        **public_battery(battery),
        "code": parsed.code,
        "url": resolver_url(service.settings.public_url, parsed.code),
        "second_life_product": battery["second_life_product"],
        "held_at": held_at,
        "collection_points": points,
        "collection_points_near": reason,
        **_ledger_coverage(service, views, parsed.code, battery["version"]),
    }


def _ledger_coverage(service: BatteryTrace, views: Engine, code: str, version: int) -> dict[str, Any]:
    """``ledger_checkpoint``: the signed checkpoint covering the history the page shows (up to
    the view's ``version``), or None; nothing where the ledger has no key, as it then signs no
    checkpoint and "not yet covered" would never change. The key file is only looked for here:
    reading it is for the signer (a damaged one must not break the public page)."""
    key = LedgerConfig.from_environment(service.settings.database_url).key_path
    if key is None or not key.is_file():
        return {}
    with read_session(views) as connection:
        checkpoint = covering_checkpoint(connection, code, version)
    if checkpoint is None:
        return {"ledger_checkpoint": None}
    signed = in_china_time(checkpoint.signed_at).isoformat(timespec="seconds")
    return {"ledger_checkpoint": {"tree_size": checkpoint.tree_size, "signed_at": signed}}


def _recorded(service: BatteryTrace, code: str) -> BatteryCode:
    """A valid code of a recorded battery (from the event store: no wait for the views)."""
    parsed = parse_battery_code(code, today=service.today())
    if not service.exists(parsed.code):
        raise NotFound(
            f"battery {parsed.code}: no battery with this code has been recorded",
            key="not_found.battery",
            params={"id": parsed.code},
        )
    return parsed


def _location(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon (decimal degrees), or neither")
    return None if lat is None or lon is None else (lat, lon)


# ------------------------------------------------------------------------- collection points
def _holding_point(battery: dict[str, Any]) -> str | None:
    """The id of the collection point that holds the battery now, if one does."""
    holder = battery["holder"]
    return str(holder["id"]) if holder["kind"] == "collection_point" and holder["id"] else None


def _held_at(battery: dict[str, Any]) -> dict[str, str | None] | None:
    """Name and address of the holding point (the lifecycle view's row for the battery's point)."""
    point = battery["collection_point"]
    return (
        {"name": point["name"], "name_en": point.get("name_en"), "address": point["address"]}
        if point
        else None
    )


def _last_point_location(views: Engine, timeline: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Where the battery was last handed in, if that collection point has coordinates."""
    for entry in reversed(timeline):
        point_id = entry["details"].get("collection_point_id") if entry["event"] == "Collected" else None
        if point_id:
            return queries.point_location(views, point_id)
    return None


def _maker_location(views: Engine, manufacturer_id: str | None) -> tuple[float, float] | None:
    """The centre of the maker's prefecture (or province): its registered division, else the
    division in its Unified Social Credit Code (positions 3-8, GB 32100)."""
    if not manufacturer_id:
        return None
    for code in (queries.participant_division(views, manufacturer_id), manufacturer_id[2:8]):
        if not code:
            continue
        place = regions.prefecture_of(code) or regions.division(code) or regions.province_of(code)
        if place is not None:
            return place.latitude, place.longitude
    return None


# ------------------------------------------------------------------------ content negotiation
def _accepted(accept: str) -> dict[str, float]:
    """Media types of an Accept header with their quality."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[media.lower()] = max(weights.get(media.lower(), 0.0), quality)
    return weights


def _prefers_json(accept: str) -> bool:
    """JSON only when asked for by name and preferred to HTML; ``*/*`` gets the page."""
    weights = _accepted(accept)
    as_json = max(weights.get("application/json", 0.0), weights.get("application/*", 0.0))
    as_html = max(weights.get("text/html", 0.0), weights.get("application/xhtml+xml", 0.0))
    return as_json > 0 and as_json > as_html


def _prefers_json_ld(accept: str) -> bool:
    """A passport reader: JSON-LD asked for by name, preferred to plain JSON and to HTML."""
    weights = _accepted(accept)
    as_ld = weights.get("application/ld+json", 0.0)
    others = (weights.get(kind, 0.0) for kind in ("application/json", "text/html", "application/xhtml+xml"))
    return as_ld > 0 and as_ld >= max(others)


def _passport_document(service: BatteryTrace, code: str, caller: OptionalCaller) -> Response:
    """The battery's EU battery passport as JSON-LD: the QR code is the passport's data carrier."""
    try:
        passport = battery_passport(service, code, caller)
    except PassportEnded as error:
        return problem(410, error.message, kind=error.kind, code=error.message_key, params=error.params)
    return JSONResponse(
        as_json_ld(passport, service.settings.public_url),
        media_type="application/ld+json",
        headers={"Vary": "Accept"},
    )


def _prefers_html(accept: str) -> bool:
    """A browser: errors as a page rather than problem JSON."""
    weights = _accepted(accept)
    return max(weights.get("text/html", 0.0), weights.get("application/xhtml+xml", 0.0)) > 0
