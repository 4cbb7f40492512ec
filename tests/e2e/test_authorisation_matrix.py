"""The authorisation matrix: every endpoint of the app × every caller, on SQLite and PostgreSQL.

``EXPECTED`` maps each (method, path template) the app serves to the status every caller gets:
the public, the nine members of the national cast (``tests/utils/cast.py``), and a revoked
regulator key. For each cell a fresh valid request is prepared through the application service
(a battery of its own in the right state and held by the right participant, a participant, key or
collection point of its own), so that the only reason to refuse it is who is calling: the cells
that succeed prove the request was good, so a refusal of the same request is about the caller.

Outcomes: the success status (2xx) for callers that may; 403 for authenticated callers that may
not; 401 for the public and for a revoked key wherever a key is needed (and wherever a key is
read at all: a bad key is refused, never quietly treated as the public). Every refusal must be an
RFC 9457 problem (``application/problem+json`` with type, title, status and detail; a 401 also
says ``WWW-Authenticate: Bearer``) and must record nothing in the event store.

A route the table does not list fails ``test_the_matrix_lists_every_endpoint_the_app_serves``, so
a new endpoint has to be placed in the matrix before it can ship. Cells are run in groups that
share one store (the ``api`` fixture), with everything they need arranged up front.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Reporting, Retire
from batterytrace.events.epcis_mapping import IdKind
from batterytrace.projections.ledger_config import write_new_key
from batterytrace.trace.api.app import create_app
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.settings import Settings
from tests.utils.api import CAST_ROLES, Api
from tests.utils.batterypass import model_body, readings_body
from tests.utils.cast import credit_code
from tests.utils.endpoints import app_endpoints


@pytest.fixture
def api(database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The shared ``api`` fixture with a ledger key and a checkpoint after every event, so that
    the ledger's reads (checkpoint, proofs, a battery's evidence) have something to answer."""
    from tests.utils.api import api_on

    key = tmp_path / "ledger.key"
    write_new_key(key, "127.0.0.1/matrix")
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    monkeypatch.setenv("BATTERYTRACE_LEDGER_CHECKPOINT_EVENTS", "1")
    with api_on(database_url) as client:
        yield client


PUBLIC = "public"
REVOKED = "revoked key"
CALLERS = (PUBLIC, *CAST_ROLES, REVOKED)
NON_REGULATORS = tuple(c for c in CAST_ROLES if c != "regulator")

VIN = "LSVAU2180N2183294"
PRODUCED_ON = date(2024, 7, 15)
PRODUCT_MADE_ON = date(2025, 8, 1)
MATERIALS = {"Li": 3.1, "Ni": 0.0, "Co": 0.0, "Mn": 0.0, "Fe": 21.5}
FACTS = {"rated_capacity_ah": 150, "nominal_voltage_v": 100, "energy_kwh": 15, "mass_kg": 110}
REPORTS = ("network", "regions", "flows", "monthly", "overdue", "compliance", "swaps")
# The battery the read cells look at was made, installed, collected and received by these members.
INVOLVED = ("manufacturer", "vehicle_maker", "outlet_operator", "recycler")
PROBLEM_FIELDS = {"type": str, "title": str, "status": int, "detail": str}


def only(*members: str, ok: int = 200) -> dict[str, int]:
    """Only these members may: 401 without a (valid) key, 403 for every other member."""
    unknown = set(members) - set(CAST_ROLES)
    assert not unknown, unknown
    return {
        caller: ok if caller in members else 401 if caller in (PUBLIC, REVOKED) else 403 for caller in CALLERS
    }


def everyone(ok: int = 200, *, reads_the_key: bool = False) -> dict[str, int]:
    """Public: anyone may. A route that reads a key when one is sent refuses a revoked one."""
    return {caller: 401 if caller == REVOKED and reads_the_key else ok for caller in CALLERS}


B = "/api/v1/batteries/{code}"
P = "/api/v1/participants/{credit_code}"
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # production: the owner of the code's manufacturer code (3CA: the manufacturer)
    ("POST", "/api/v1/batteries"): only("manufacturer", ok=201),
    # bulk: the role is checked for the body, the code's owner row by row (refused rows, see below)
    ("POST", "/api/v1/batteries/bulk"): only("manufacturer", "other_manufacturer", "cascade_user"),
    # lifecycle: the domain decides by role and by who holds the battery now
    ("POST", f"{B}/deliver"): only("manufacturer"),  # a produced pack it holds, to the vehicle maker
    ("POST", f"{B}/install"): only("vehicle_maker"),  # a produced pack delivered to it, into a vehicle
    ("POST", f"{B}/remove"): only("vehicle_maker"),  # installed by the vehicle maker
    # the holder: a dismantler only after taking the vehicle in (scrappings)
    ("POST", f"{B}/retire"): only("vehicle_maker"),
    ("POST", f"{B}/cascade-reuse"): only("cascade_user", ok=201),  # handed to it for cascade use
    ("POST", f"{B}/handover"): only("outlet_operator"),  # collected at its collection point
    ("POST", f"{B}/recycle"): only("recycler"),  # handed to it for recycling
    # a vehicle's batteries, by VIN in the body: the cast has no swap operator, so every member is
    # refused a swap by role (test_a_swap_and_a_scrapping_name_the_vehicle: a swap operator may)
    ("POST", "/api/v1/swaps"): only(),
    ("POST", "/api/v1/scrappings"): only("dismantler"),  # batteries installed in that vehicle
    # scan: only the operator of the collection point (CP-110105-0001: the outlet operator)
    ("POST", "/api/v1/collection-points/{point_id}/scans"): only("outlet_operator", ok=201),
    # what an outlet sends together (one transaction): its operator only, batteries held there
    ("POST", "/api/v1/collection-points/{point_id}/scans/batch"): only("outlet_operator", ok=201),
    ("POST", "/api/v1/collection-points/{point_id}/handovers"): only("outlet_operator"),
    # reads: the public subset for anyone, everything for regulators and involved participants
    ("GET", B): everyone(reads_the_key=True),
    ("GET", f"{B}/history"): only("regulator", *INVOLVED),
    # EPCIS 2.0: a battery's document like its other reads (the public gets no events); the
    # query for participants, each reading what it may; capture of one's own events
    ("GET", f"{B}/epcis"): everyone(reads_the_key=True),
    ("GET", "/api/v1/epcis/events"): only(*CAST_ROLES),
    ("POST", "/api/v1/epcis/capture"): only("manufacturer", ok=201),  # its own commissioning
    # EU battery passport: a model's data by the owner of its manufacturer code (3CA, 3CB), read by
    # it and regulators; readings by the battery's holder; the passport for anyone, cut per tier
    ("POST", "/api/v1/models"): only("manufacturer", ok=201),
    ("GET", "/api/v1/models/{model_code}"): only("regulator", "manufacturer"),
    ("POST", f"{B}/readings"): only("vehicle_maker", ok=201),  # installed by the vehicle maker
    ("GET", f"{B}/passport"): everyone(reads_the_key=True),
    # tamper evidence (issue 15): the signed log is public; a battery's evidence file for those who
    # may read its history (its records cannot be cut without breaking their hashes)
    ("GET", "/api/v1/ledger/checkpoint"): everyone(),
    ("GET", "/api/v1/ledger/proofs/inclusion"): everyone(),
    ("GET", "/api/v1/ledger/proofs/consistency"): everyone(),
    ("GET", "/.well-known/batterytrace-ledger.pub"): everyone(),
    ("GET", f"{B}/evidence"): only("regulator", *INVOLVED),
    # what EPCIS documents name: approved collection points, swap stations, participants
    ("GET", "/loc/{point_id}"): everyone(),
    ("GET", "/loc/{operator_id}/{station}"): everyone(),
    ("GET", "/party/{credit_code}"): everyone(),
    # reports: regulators only
    **{("GET", f"/api/v1/reports/{name}"): only("regulator") for name in REPORTS},
    # participants, whitelist and keys: regulators; a participant for its own record and keys
    ("POST", "/api/v1/participants"): only("regulator", ok=201),
    ("GET", "/api/v1/participants"): only("regulator"),
    ("GET", P): only("regulator", "recycler"),  # the recycler's own record
    ("POST", f"{P}/whitelist"): only("regulator"),
    ("POST", f"{P}/whitelist/revoke"): only("regulator"),
    ("POST", f"{P}/keys"): only("regulator", "recycler", ok=201),  # keys for the recycler
    ("DELETE", "/api/v1/keys/{key_id}"): only("regulator", "recycler"),  # a key of the recycler
    ("GET", f"{P}/keys"): only("regulator", "recycler"),  # the recycler's keys
    ("POST", "/api/v1/keys/{key_id}/rotate"): only("regulator", "recycler"),  # a key of the recycler
    ("POST", f"{P}/keys/revoke-all"): only("regulator", "recycler"),  # all but the recycler's own
    # collection points: registered by a regulator or the operator itself; listed publicly
    ("POST", "/api/v1/collection-points"): only("regulator", "outlet_operator", ok=201),
    ("GET", "/api/v1/collection-points"): everyone(),
    # a point its operator registered is approved for public pages by a regulator only
    ("POST", "/api/v1/collection-points/{point_id}/approve"): only("regulator"),
    # the resolver: a battery's QR code leads to its public page
    ("GET", "/b/{code}"): everyone(reads_the_key=True),  # a key's passport tier (ld+json)
    ("GET", "/b/{code}/qr.png"): everyone(),
    ("GET", "/b/{code}/qr.svg"): everyone(),
    # operations and the API's own documents
    ("GET", "/healthz"): everyone(),
    ("GET", "/readyz"): everyone(),
    ("GET", "/metrics"): everyone(),
    ("GET", "/openapi.json"): everyone(),
    ("GET", "/docs"): everyone(),
    ("GET", "/docs/oauth2-redirect"): everyone(),
    ("GET", "/redoc"): everyone(),
    # the pages (public HTML; what a user may do is decided by the API calls they make)
    ("GET", "/"): everyone(),  # the start page: links only
    ("GET", "/outlet"): everyone(),
    ("GET", "/regulator"): everyone(),
    ("GET", "/static/{path:path}"): everyone(),
    # who the key belongs to: any member
    ("GET", "/api/v1/me"): only(*CAST_ROLES),
    # the outlet page: any member's own points (none for most), the batteries a point holds (its
    # operator and regulators), receivers and their whitelists (public information, for members)
    ("GET", "/api/v1/me/collection-points"): only(*CAST_ROLES),
    ("GET", "/api/v1/collection-points/{point_id}/batteries"): only("regulator", "outlet_operator"),
    ("GET", "/api/v1/receivers"): only(*CAST_ROLES),
}


# ------------------------------------------------------------------------------------ the store
def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


class Store:
    """One store (the ``api`` fixture) and the things the cells of a group need, each made fresh
    through the application service the app itself uses."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cast = api.cast
        self.service = api.service
        self._serials = itertools.count(1)
        issued = self.service.issue_api_key(actor_id=None, participant_id=self.cast.regulator)
        self.service.revoke_api_key(actor_id=self.cast.regulator, key_id=issued.key_id, reason="matrix")
        self.revoked_token = issued.token
        self._read_battery: str | None = None
        self._swap_operator: tuple[str, str] | None = None  # credit code, key

    def serial(self) -> int:
        return next(self._serials)

    def headers(self, caller: str) -> dict[str, str]:
        if caller == PUBLIC:
            return {}
        if caller == REVOKED:
            return {"Authorization": f"Bearer {self.revoked_token}"}
        return self.api.auth(caller)

    def head(self) -> int:
        return self.service.recorder.max_notification_id() or 0

    # -- batteries ------------------------------------------------------------------------------
    def code(self, maker: str = "3CA") -> str:
        return make_battery_code(maker, "P", "B", "12", "0A1B2C3", PRODUCED_ON, self.serial())

    def product_code(self) -> str:
        return make_battery_code("9CU", "P", "B", "05", "0A1B2C3", PRODUCT_MADE_ON, self.serial())

    def produced(self) -> str:
        spec = ProductionSpec(code=self.code(), **FACTS)
        self.service.produce(actor_id=self.cast.manufacturer, spec=spec)
        return spec.code

    def delivered(self) -> str:
        """Produced, and delivered by the manufacturer to the vehicle maker (which may install it)."""
        pack = self.produced()
        self.service.execute(
            Deliver(
                actor_id=self.cast.manufacturer,
                code=pack,
                receiver_id=self.cast.vehicle_maker,
                reporting=Reporting(occurred_at=at(2024, 7, 25)),
            )
        )
        return pack

    def installed(self) -> str:
        pack = self.delivered()
        self.service.execute(
            Install(
                actor_id=self.cast.vehicle_maker,
                code=pack,
                vin=VIN,
                reporting=Reporting(occurred_at=at(2024, 8, 1)),
            )
        )
        return pack

    def swap_operator(self) -> str:
        """A swap operator of the store's own (the national cast has none), with a key."""
        if self._swap_operator is None:
            code = self.new_credit_code()
            self.service.register_participant(
                actor_id=self.cast.regulator, credit_code=code, name=f"Swap {code}", roles=["swap_operator"]
            )
            self._swap_operator = (code, self.service.issue_api_key(actor_id=None, participant_id=code).token)
        return self._swap_operator[0]

    def swap_operator_key(self) -> str:
        self.swap_operator()
        assert self._swap_operator is not None
        return self._swap_operator[1]

    def in_swap_stock(self, operator: str) -> str:
        """Produced, and delivered by the manufacturer to the swap operator ``operator``."""
        pack = self.produced()
        self.service.execute(
            Deliver(
                actor_id=self.cast.manufacturer,
                code=pack,
                receiver_id=operator,
                reporting=Reporting(occurred_at=at(2024, 7, 25)),
            )
        )
        return pack

    def retired(self) -> str:
        pack = self.installed()
        self.service.execute(
            Retire(
                actor_id=self.cast.vehicle_maker,
                code=pack,
                reason="capacity below 80%",
                reporting=Reporting(occurred_at=at(2025, 6, 1)),
            )
        )
        return pack

    def collected(self) -> str:
        """Retired, then taken in at the outlet operator's collection point."""
        pack = self.retired()
        self.service.execute(
            Collect(
                actor_id=self.cast.outlet_operator,
                code=pack,
                collection_point_id=self.cast.collection_point,
                reporting=Reporting(occurred_at=at(2025, 6, 15)),
            )
        )
        return pack

    def handed_over(self, receiver: str, activity: str) -> str:
        pack = self.retired()
        self.service.execute(
            HandOver(
                actor_id=self.cast.vehicle_maker,
                code=pack,
                receiver_id=getattr(self.cast, receiver),
                activity=activity,
                reporting=Reporting(occurred_at=at(2025, 7, 1)),
            )
        )
        return pack

    def read_battery(self) -> str:
        """One battery for every read cell: made and delivered by the manufacturer, installed and
        retired by the vehicle maker, collected by the outlet operator and handed to the recycler."""
        if self._read_battery is None:
            pack = self.collected()
            self.service.execute(
                HandOver(
                    actor_id=self.cast.outlet_operator,
                    code=pack,
                    receiver_id=self.cast.recycler,
                    activity="recycling",
                    reporting=Reporting(occurred_at=at(2025, 7, 1)),
                )
            )
            self._read_battery = pack
        return self._read_battery

    # -- participants, keys, points ----------------------------------------------------------
    def new_credit_code(self) -> str:
        return credit_code(f"91360700MA35{50000 + self.serial():05d}")

    def new_recycler(self, *, whitelisted: bool) -> str:
        code = self.new_credit_code()
        self.service.register_participant(
            actor_id=self.cast.regulator, credit_code=code, name=f"Recycler {code}", roles=["recycler"]
        )
        if whitelisted:
            self.service.grant_whitelist(
                actor_id=self.cast.regulator,
                participant_id=code,
                activity="recycling",
                effective_on=date(2025, 1, 1),
            )
        return code

    def recycler_key_id(self) -> str:
        return self.service.issue_api_key(actor_id=None, participant_id=self.cast.recycler).key_id


# ------------------------------------------------------------------------------------ the cells
@dataclass
class Call:
    """One prepared request, and what a success must show besides its status."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reads_views: bool = False  # sent with ?after=<store head>, so the views include the arrangements
    check: Callable[[httpx.Response], str | None] | None = None


Prepare = Callable[[Store, str], Call]
GROUPS = ("writes", "reads", "regulator", "public")
PREPARE: dict[tuple[str, str], tuple[str, Prepare]] = {}


def prepares(method: str, path: str, group: str) -> Callable[[Prepare], Prepare]:
    def register(prepare: Prepare) -> Prepare:
        assert (method, path) not in PREPARE and group in GROUPS
        PREPARE[(method, path)] = (group, prepare)
        return prepare

    return register


def _at(path: str, **values: str) -> str:
    return path.format(**values)


# -- writes -------------------------------------------------------------------------------------
@prepares("POST", "/api/v1/batteries", "writes")
def _produce(store: Store, caller: str) -> Call:
    return Call("POST", "/api/v1/batteries", json={"code": store.code(), **FACTS})


@prepares("POST", "/api/v1/batteries/bulk", "writes")
def _bulk(store: Store, caller: str) -> Call:
    row = json.dumps({"code": store.code(), **FACTS}) + "\n"

    def stored_only_own_codes(response: httpx.Response) -> str | None:
        answer = response.json()
        if caller == "manufacturer":
            if (answer["stored"], answer["refused_count"]) != (1, 0):
                return f"the owner's row was not stored: {answer}"
        elif answer["stored"] != 0 or "code 3CA is not one of yours" not in str(answer["refused"]):
            return f"a row under another maker's code was not refused as such: {answer}"
        return None

    return Call(
        "POST",
        "/api/v1/batteries/bulk",
        content=row.encode(),
        headers={"Content-Type": "application/x-ndjson"},
        check=stored_only_own_codes,
    )


@prepares("POST", f"{B}/deliver", "writes")
def _deliver(store: Store, caller: str) -> Call:
    body = {"receiver_id": store.cast.vehicle_maker}
    return Call("POST", _at(f"{B}/deliver", code=store.produced()), json=body)


@prepares("POST", f"{B}/install", "writes")
def _install(store: Store, caller: str) -> Call:
    return Call("POST", _at(f"{B}/install", code=store.delivered()), json={"vin": VIN})


@prepares("POST", f"{B}/remove", "writes")
def _remove(store: Store, caller: str) -> Call:
    return Call("POST", _at(f"{B}/remove", code=store.installed()), json={"reason": "repair"})


@prepares("POST", f"{B}/retire", "writes")
def _retire(store: Store, caller: str) -> Call:
    return Call("POST", _at(f"{B}/retire", code=store.installed()), json={"reason": "capacity below 80%"})


@prepares("POST", f"{B}/cascade-reuse", "writes")
def _cascade_reuse(store: Store, caller: str) -> Call:
    original = store.handed_over("cascade_user", "cascade_use")
    body = {"product_code": store.product_code(), **FACTS}
    return Call("POST", _at(f"{B}/cascade-reuse", code=original), json=body)


@prepares("POST", f"{B}/handover", "writes")
def _handover(store: Store, caller: str) -> Call:
    body = {"receiver_id": store.cast.recycler, "activity": "recycling"}
    return Call("POST", _at(f"{B}/handover", code=store.collected()), json=body)


@prepares("POST", f"{B}/recycle", "writes")
def _recycle(store: Store, caller: str) -> Call:
    pack = store.handed_over("recycler", "recycling")
    return Call("POST", _at(f"{B}/recycle", code=pack), json={"recovered_kg": MATERIALS})


@prepares("POST", "/api/v1/swaps", "writes")
def _swap(store: Store, caller: str) -> Call:
    body = {
        "vin": VIN,
        "removed_code": store.installed(),
        "installed_code": store.in_swap_stock(store.swap_operator()),
        "station": "Matrix station",
        "division_code": "440304",
    }
    return Call("POST", "/api/v1/swaps", json=body)


@prepares("POST", "/api/v1/scrappings", "writes")
def _scrapping(store: Store, caller: str) -> Call:
    return Call("POST", "/api/v1/scrappings", json={"vin": VIN, "codes": [store.installed()]})


@prepares("POST", "/api/v1/collection-points/{point_id}/scans", "writes")
def _scan(store: Store, caller: str) -> Call:
    path = f"/api/v1/collection-points/{store.cast.collection_point}/scans"
    body = {"text": store.retired(), "client_scan_id": f"matrix-{store.serial()}"}
    return Call("POST", path, json=body)


@prepares("POST", "/api/v1/collection-points/{point_id}/scans/batch", "writes")
def _scan_batch(store: Store, caller: str) -> Call:
    path = f"/api/v1/collection-points/{store.cast.collection_point}/scans/batch"
    scans = [{"text": store.retired(), "client_scan_id": f"matrix-{store.serial()}"} for _ in range(2)]
    return Call("POST", path, json={"scans": scans})


@prepares("POST", "/api/v1/collection-points/{point_id}/handovers", "writes")
def _handover_batch(store: Store, caller: str) -> Call:
    path = f"/api/v1/collection-points/{store.cast.collection_point}/handovers"
    body = {"codes": [store.collected(), store.collected()], "receiver_id": store.cast.recycler}
    return Call("POST", path, json={**body, "activity": "recycling"})


# -- reads ----------------------------------------------------------------------------------------
def _nothing_private(store: Store, text: str) -> str | None:
    """The public subset names no VIN and no participant id."""
    private = [VIN, *(getattr(store.cast, member) for member in CAST_ROLES)]
    leaked = [value for value in private if value in text]
    return f"the public answer shows {leaked}" if leaked else None


@prepares("GET", B, "reads")
def _battery(store: Store, caller: str) -> Call:
    full = caller in ("regulator", *INVOLVED)

    def right_tier(response: httpx.Response) -> str | None:
        access = response.json()["access"]
        if access != ("full" if full else "public"):
            return f"access {access!r}"
        return None if full else _nothing_private(store, response.text)

    return Call("GET", _at(B, code=store.read_battery()), reads_views=True, check=right_tier)


@prepares("GET", f"{B}/history", "reads")
def _history(store: Store, caller: str) -> Call:
    return Call("GET", _at(f"{B}/history", code=store.read_battery()))


@prepares("GET", f"{B}/evidence", "reads")
def _evidence(store: Store, caller: str) -> Call:
    return Call("GET", _at(f"{B}/evidence", code=store.read_battery()), reads_views=True)


@prepares("GET", "/api/v1/ledger/checkpoint", "public")
def _checkpoint(store: Store, caller: str) -> Call:
    store.read_battery()  # a store with events, so that a checkpoint is signed
    return Call("GET", "/api/v1/ledger/checkpoint", reads_views=True)


@prepares("GET", "/api/v1/ledger/proofs/inclusion", "public")
def _inclusion(store: Store, caller: str) -> Call:
    return Call("GET", "/api/v1/ledger/proofs/inclusion?index=0&tree_size=1", reads_views=True)


@prepares("GET", "/api/v1/ledger/proofs/consistency", "public")
def _consistency(store: Store, caller: str) -> Call:
    return Call("GET", "/api/v1/ledger/proofs/consistency?first=1&second=1", reads_views=True)


@prepares("GET", "/.well-known/batterytrace-ledger.pub", "public")
def _ledger_key(store: Store, caller: str) -> Call:
    return Call("GET", "/.well-known/batterytrace-ledger.pub")


def _media(kind: str, *, public_page: Store | None = None) -> Callable[[httpx.Response], str | None]:
    def check(response: httpx.Response) -> str | None:
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith(kind):
            return f"content-type {content_type!r}, expected {kind}"
        return _nothing_private(public_page, response.text) if public_page else None

    return check


@prepares("GET", "/b/{code}", "reads")
def _page(store: Store, caller: str) -> Call:
    path = f"/b/{store.read_battery()}"
    return Call("GET", path, reads_views=True, check=_media("text/html", public_page=store))


@prepares("GET", "/b/{code}/qr.png", "reads")
def _qr_png(store: Store, caller: str) -> Call:
    return Call("GET", f"/b/{store.read_battery()}/qr.png", check=_media("image/png"))


@prepares("GET", "/b/{code}/qr.svg", "reads")
def _qr_svg(store: Store, caller: str) -> Call:
    return Call("GET", f"/b/{store.read_battery()}/qr.svg", check=_media("image/svg+xml"))


@prepares("GET", "/api/v1/collection-points/{point_id}/batteries", "reads")
def _on_hand(store: Store, caller: str) -> Call:
    pack = store.collected()

    def lists_the_battery(response: httpx.Response) -> str | None:
        codes = [row["code"] for row in response.json()["items"]]
        return None if pack in codes else f"{pack} (collected there) is not among {codes}"

    path = f"/api/v1/collection-points/{store.cast.collection_point}/batteries"
    return Call("GET", path, reads_views=True, check=lists_the_battery)


@prepares("GET", "/api/v1/me/collection-points", "reads")
def _my_points(store: Store, caller: str) -> Call:
    def own_points_only(response: httpx.Response) -> str | None:
        ids = [row["id"] for row in response.json()["items"]]
        operated = {
            "outlet_operator": [store.cast.collection_point],
            "vehicle_maker": [store.cast.other_collection_point],
        }
        expected = operated.get(caller, [])
        return None if ids == expected else f"points {ids}, expected {expected}"

    return Call("GET", "/api/v1/me/collection-points", reads_views=True, check=own_points_only)


@prepares("GET", "/api/v1/receivers", "reads")
def _receivers(store: Store, caller: str) -> Call:
    def whitelists_shown(response: httpx.Response) -> str | None:
        status = {row["credit_code"]: row["whitelisted_for"] for row in response.json()["items"]}
        expected = {
            store.cast.recycler: ["recycling"],
            store.cast.informal_recycler: [],
            store.cast.cascade_user: ["cascade_use"],
        }
        wrong = {code: status.get(code) for code, wanted in expected.items() if status.get(code) != wanted}
        return f"whitelist status {wrong}, expected {expected}" if wrong else None

    return Call("GET", "/api/v1/receivers", reads_views=True, check=whitelists_shown)


# -- regulator: reports, participants, whitelist, keys, collection points --------------------------
def _report(name: str) -> Prepare:
    def prepare(store: Store, caller: str) -> Call:
        return Call("GET", f"/api/v1/reports/{name}", reads_views=True)

    return prepare


for _name in REPORTS:
    prepares("GET", f"/api/v1/reports/{_name}", "regulator")(_report(_name))


@prepares("POST", "/api/v1/participants", "regulator")
def _register(store: Store, caller: str) -> Call:
    code = store.new_credit_code()
    body = {"credit_code": code, "name": f"Recycler {code}", "roles": ["recycler"], "issue_key": False}
    return Call("POST", "/api/v1/participants", json=body)


@prepares("GET", "/api/v1/participants", "regulator")
def _participants(store: Store, caller: str) -> Call:
    return Call("GET", "/api/v1/participants")


@prepares("GET", P, "regulator")
def _participant(store: Store, caller: str) -> Call:
    return Call("GET", _at(P, credit_code=store.cast.recycler))


@prepares("POST", f"{P}/whitelist", "regulator")
def _grant(store: Store, caller: str) -> Call:
    target = store.new_recycler(whitelisted=False)
    return Call("POST", _at(f"{P}/whitelist", credit_code=target), json={"activity": "recycling"})


@prepares("POST", f"{P}/whitelist/revoke", "regulator")
def _revoke(store: Store, caller: str) -> Call:
    target = store.new_recycler(whitelisted=True)
    body = {"activity": "recycling", "reason": "failed the inspection"}
    return Call("POST", _at(f"{P}/whitelist/revoke", credit_code=target), json=body)


@prepares("POST", f"{P}/keys", "regulator")
def _issue_key(store: Store, caller: str) -> Call:
    return Call("POST", _at(f"{P}/keys", credit_code=store.cast.recycler), json={"label": "matrix"})


@prepares("DELETE", "/api/v1/keys/{key_id}", "regulator")
def _revoke_key(store: Store, caller: str) -> Call:
    return Call("DELETE", f"/api/v1/keys/{store.recycler_key_id()}")


@prepares("GET", f"{P}/keys", "regulator")
def _list_keys(store: Store, caller: str) -> Call:
    key_id = store.recycler_key_id()

    def lists_the_key_without_secrets(response: httpx.Response) -> str | None:
        ids = [row["key_id"] for row in response.json()["items"]]
        if key_id not in ids:
            return f"key {key_id} is not among {ids}"
        return "the inventory shows a digest" if "digest" in response.text else None

    return Call("GET", _at(f"{P}/keys", credit_code=store.cast.recycler), check=lists_the_key_without_secrets)


@prepares("POST", "/api/v1/keys/{key_id}/rotate", "regulator")
def _rotate_key(store: Store, caller: str) -> Call:
    key_id = store.recycler_key_id()

    def same_key_new_token(response: httpx.Response) -> str | None:
        answer = response.json()
        return None if answer["key_id"] == key_id and key_id in answer["token"] else f"answered {answer}"

    return Call("POST", f"/api/v1/keys/{key_id}/rotate", check=same_key_new_token)


# Registered after the other key cells: it revokes every key of the recycler they prepared.
@prepares("POST", f"{P}/keys/revoke-all", "regulator")
def _revoke_all_keys(store: Store, caller: str) -> Call:
    spare = store.recycler_key_id()
    own = store.api.keys["recycler"].split("_")[1]

    def revoked_all_but_the_own_key(response: httpx.Response) -> str | None:
        states = {row["key_id"]: row["revoked"] for row in store.service.api_keys(store.cast.recycler)}
        return None if states[spare] and not states[own] else f"spare {spare}, own {own}: {states}"

    body = {"reason": "matrix", "except_key_id": own}
    path = _at(f"{P}/keys/revoke-all", credit_code=store.cast.recycler)
    return Call("POST", path, json=body, check=revoked_all_but_the_own_key)


@prepares("POST", "/api/v1/collection-points", "regulator")
def _register_point(store: Store, caller: str) -> Call:
    body = {
        "point_id": f"CP-110105-M{store.serial():04d}",
        "operator_id": store.cast.outlet_operator,
        "name": "Matrix outlet",
        "division_code": "110105",
    }
    return Call("POST", "/api/v1/collection-points", json=body)


@prepares("POST", "/api/v1/collection-points/{point_id}/approve", "regulator")
def _approve_point(store: Store, caller: str) -> Call:
    point_id = f"CP-110105-A{store.serial():04d}"
    store.service.register_collection_point(
        actor_id=store.cast.outlet_operator,
        point_id=point_id,
        operator_id=store.cast.outlet_operator,
        name="Matrix outlet pending review",
        kind="collection",
        capacity_kg=5000,
        address="",
        division_code="110105",
    )
    return Call("POST", f"/api/v1/collection-points/{point_id}/approve", json={"note": "matrix"})


# -- public: the list of collection points, operations, documents ---------------------------------
@prepares("GET", "/api/v1/collection-points", "public")
def _points(store: Store, caller: str) -> Call:
    return Call("GET", "/api/v1/collection-points", reads_views=True)


def _plain_get(path: str, kind: str) -> Prepare:
    def prepare(store: Store, caller: str) -> Call:
        return Call("GET", path, check=_media(kind))

    return prepare


for _path, _kind in (
    ("/healthz", "application/json"),
    ("/readyz", "application/json"),
    ("/metrics", "text/plain"),
    ("/openapi.json", "application/json"),
    ("/docs", "text/html"),
    ("/docs/oauth2-redirect", "text/html"),
    ("/redoc", "text/html"),
    ("/", "text/html"),
    ("/outlet", "text/html"),
    ("/regulator", "text/html"),
):
    prepares("GET", _path, "public")(_plain_get(_path, _kind))
prepares("GET", "/static/{path:path}", "public")(_plain_get("/static/css/pages.css", "text/css"))
prepares("GET", "/api/v1/me", "public")(_plain_get("/api/v1/me", "application/json"))


# ------------------------------------------------------------------------------------ judging
def problem_faults(response: httpx.Response) -> list[str]:
    """What keeps a refusal from being an RFC 9457 problem."""
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/problem+json"):
        return [f"content-type {content_type!r} is not application/problem+json"]
    body = response.json()
    faults = [
        f"problem field {name!r} missing or not a {kind.__name__}: {body.get(name)!r}"
        for name, kind in PROBLEM_FIELDS.items()
        if not isinstance(body.get(name), kind) or body.get(name) == ""
    ]
    if body.get("status") != response.status_code:
        faults.append(f"problem status {body.get('status')!r} differs from the answer's")
    if response.status_code == 401 and response.headers.get("www-authenticate") != "Bearer":
        faults.append(f"401 without WWW-Authenticate: Bearer ({response.headers.get('www-authenticate')!r})")
    return faults


def judge(response: httpx.Response, expected: int, call: Call, recorded: tuple[int, int]) -> list[str]:
    faults = []
    if response.status_code != expected:
        faults.append(f"expected {expected}, got {response.status_code}: {response.text[:300]}")
    if 400 <= response.status_code < 500:
        faults += problem_faults(response)
    if not response.is_success and recorded[0] != recorded[1]:
        faults.append(f"a refused request recorded events (store head {recorded[0]} -> {recorded[1]})")
    if response.is_success and call.check is not None:
        fault = call.check(response)
        faults += [fault] if fault else []
    return faults


def send(store: Store, call: Call, caller: str, views_at: int) -> httpx.Response:
    return store.api.client.request(
        call.method,
        call.path,
        json=call.json,
        content=call.content,
        headers={**store.headers(caller), **call.headers},
        # merged with the path's own query (httpx's params= would replace it)
        params=httpx.URL(call.path).params.merge({"after": views_at}) if call.reads_views else None,
    )


def run_cells(store: Store, cells: list[tuple[tuple[str, str], str]]) -> list[str]:
    """Prepare every cell first, then send each request once; the faults, one line per cell."""
    calls = {(route, caller): PREPARE[route][1](store, caller) for route, caller in cells}
    views_at = store.head()
    faults = []
    for (route, caller), call in calls.items():
        before = store.head()
        response = send(store, call, caller, views_at)
        for fault in judge(response, EXPECTED[route][caller], call, (before, store.head())):
            faults.append(f"{route[0]} {route[1]} as {caller}: {fault}")
    return faults


# -------------------------------------------------------------------------------------- tests
def test_the_matrix_lists_every_endpoint_the_app_serves(sqlite_url: str) -> None:
    endpoints = app_endpoints(create_app(Settings(database_url=sqlite_url)))
    unlisted = sorted(endpoints - EXPECTED.keys())
    assert not unlisted, (
        f"endpoints without a row in the authorisation matrix: {unlisted}; add each to EXPECTED (who "
        "may call it) and a request for it to PREPARE"
    )
    stale = sorted(EXPECTED.keys() - endpoints)
    assert not stale, f"rows for endpoints the app does not serve: {stale}"
    assert PREPARE.keys() == EXPECTED.keys(), sorted(PREPARE.keys() ^ EXPECTED.keys())
    assert all(set(row) == set(CALLERS) for row in EXPECTED.values())


@pytest.mark.parametrize("group", GROUPS)
def test_every_caller_gets_what_the_matrix_says(api: Api, group: str) -> None:
    store = Store(api)
    cells = [(route, caller) for route, (g, _) in PREPARE.items() if g == group for caller in CALLERS]
    faults = run_cells(store, cells)
    assert not faults, f"{len(faults)} of {len(cells)} cells differ from the matrix:\n" + "\n".join(faults)


# ----------------------------------------------------------------------------- the key cases
def problem(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert not problem_faults(response), problem_faults(response)
    body = response.json()
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


def test_a_manufacturer_cannot_write_another_manufacturers_codes(api: Api) -> None:
    store, cast = Store(api), api.cast
    post = api.client.post

    theirs = store.code(maker="4BY")
    refused = post("/api/v1/batteries", json={"code": theirs, **FACTS}, headers=api.auth("manufacturer"))
    problem(refused, 403, "manufacturer code 4BY is not one of yours")
    assert cast.other_manufacturer not in refused.text  # who owns it is not the caller's to know
    assert not api.service.exists(theirs)
    made = post("/api/v1/batteries", json={"code": theirs, **FACTS}, headers=api.auth("other_manufacturer"))
    assert made.status_code == 201, made.text

    ours = store.code()
    refused = post("/api/v1/batteries", json={"code": ours, **FACTS}, headers=api.auth("other_manufacturer"))
    problem(refused, 403, "manufacturer code 3CA is not one of yours")
    assert cast.manufacturer not in refused.text
    assert not api.service.exists(ours)

    # In bulk the rows under another maker's code are refused by line; nothing of them is stored.
    rows = "".join(json.dumps({"code": store.code(maker="4BY"), **FACTS}) + "\n" for _ in range(2))
    bulk = post(
        "/api/v1/batteries/bulk",
        content=rows.encode(),
        headers={**api.auth("manufacturer"), "Content-Type": "application/x-ndjson"},
    )
    assert bulk.status_code == 200, bulk.text
    assert (bulk.json()["stored"], bulk.json()["refused_count"]) == (0, 2)
    assert all("manufacturer code 4BY is not one of yours" in row["reason"] for row in bulk.json()["refused"])

    # Nobody else records under a cascade-use enterprise's own code (9CU), and it records a
    # product only with its originals (cascade-reuse), never as a bare production.
    product = {"code": store.product_code(), **FACTS}
    as_manufacturer = post("/api/v1/batteries", json=product, headers=api.auth("manufacturer"))
    problem(as_manufacturer, 403, "9CU is not one of yours")
    problem(
        post("/api/v1/batteries", json=product, headers=api.auth("cascade_user")),
        403,
        "together with the retired batteries it is made from",
    )
    assert not api.service.exists(product["code"])


def test_an_outlet_operator_cannot_scan_in_at_another_operators_collection_point(api: Api) -> None:
    store, cast = Store(api), api.cast
    pack = store.retired()

    def scan(point: str, member: str, scan_id: str) -> httpx.Response:
        body = {"text": pack, "client_scan_id": scan_id}
        path = f"/api/v1/collection-points/{point}/scans"
        return api.client.post(path, json=body, headers=api.auth(member))

    events = len(api.service.history(pack))
    refused = scan(cast.other_collection_point, "outlet_operator", "s-1")
    problem(refused, 403, f"does not operate collection point {cast.other_collection_point}")
    refused = scan(cast.collection_point, "vehicle_maker", "s-2")
    problem(refused, 403, f"does not operate collection point {cast.collection_point}")
    assert len(api.service.history(pack)) == events

    taken_in = scan(cast.other_collection_point, "vehicle_maker", "s-3")  # its own point
    assert taken_in.status_code == 201, taken_in.text
    assert taken_in.json()["collection_point"]["id"] == cast.other_collection_point


def test_a_swap_and_a_scrapping_name_the_vehicle_the_batteries_are_in(api: Api) -> None:
    """A swap operator swaps, a dismantler takes a scrapped vehicle in, each only naming the right
    VIN; a refusal never says which vehicle a battery is in, nor who answers for it."""
    store, cast = Store(api), api.cast
    rival = store.new_credit_code()
    api.service.register_participant(
        actor_id=cast.regulator, credit_code=rival, name="Rival Swap", roles=["swap_operator"]
    )
    rival_key = {
        "Authorization": f"Bearer {api.service.issue_api_key(actor_id=None, participant_id=rival).token}"
    }
    own_key = {"Authorization": f"Bearer {store.swap_operator_key()}"}
    other_vin = "LGWEF6A52MH000001"
    in_vehicle, in_rival_stock = store.installed(), store.in_swap_stock(rival)
    swap = {
        "removed_code": in_vehicle,
        "installed_code": in_rival_stock,
        "station": "S1",
        "division_code": "440304",
    }

    refused = api.client.post("/api/v1/swaps", json={**swap, "vin": other_vin}, headers=rival_key)
    problem(refused, 403, "not installed in the vehicle you named")
    assert not [value for value in (VIN, cast.vehicle_maker) if value in refused.text]
    refused = api.client.post("/api/v1/swaps", json={**swap, "vin": VIN}, headers=own_key)  # not its stock
    problem(refused, 403, "you do not hold it")
    assert not [value for value in (rival, cast.vehicle_maker) if value in refused.text]
    assert [type(e).__name__ for e in api.service.history(in_rival_stock)] == ["Produced", "Delivered"]
    swapped = api.client.post("/api/v1/swaps", json={**swap, "vin": VIN}, headers=rival_key)
    assert swapped.status_code == 200, swapped.text

    # The vehicle now carries the rival's battery: a dismantler naming another VIN learns nothing.
    scrapping = {"codes": [in_rival_stock]}
    refused = api.client.post(
        "/api/v1/scrappings", json={**scrapping, "vin": other_vin}, headers=api.auth("dismantler")
    )
    problem(refused, 403, "not installed in the vehicle you named")
    assert not [value for value in (VIN, rival) if value in refused.text]
    retire = api.client.post(
        f"/api/v1/batteries/{in_rival_stock}/retire",
        json={"reason": "scrapped"},
        headers=api.auth("dismantler"),
    )
    problem(retire, 403, "record the vehicle's scrapping first")
    taken_in = api.client.post(
        "/api/v1/scrappings", json={**scrapping, "vin": VIN}, headers=api.auth("dismantler")
    )
    assert taken_in.status_code == 200, taken_in.text
    retire = api.client.post(
        f"/api/v1/batteries/{in_rival_stock}/retire",
        json={"reason": "scrapped"},
        headers=api.auth("dismantler"),
    )
    assert retire.status_code == 200, retire.text


def test_only_regulators_read_reports_register_participants_and_change_whitelist_status(api: Api) -> None:
    store, cast = Store(api), api.cast
    for member in NON_REGULATORS:
        for name in REPORTS:
            refused = api.client.get(f"/api/v1/reports/{name}", headers=api.auth(member))
            problem(refused, 403, "needs the role regulator")
        refused = api.client.post(
            "/api/v1/participants",
            json={"credit_code": store.new_credit_code(), "name": "Shadow Recycling", "roles": ["recycler"]},
            headers=api.auth(member),
        )
        problem(refused, 403, "needs the role regulator")
    for name in REPORTS:
        problem(api.client.get(f"/api/v1/reports/{name}"), 401, "API key")

    # Nobody whitelists itself, or takes a competitor off the whitelist.
    own = api.client.post(
        f"/api/v1/participants/{cast.informal_recycler}/whitelist",
        json={"activity": "recycling"},
        headers=api.auth("informal_recycler"),
    )
    problem(own, 403, "needs the role regulator")
    competitor = api.client.post(
        f"/api/v1/participants/{cast.recycler}/whitelist/revoke",
        json={"activity": "recycling", "reason": "competition"},
        headers=api.auth("informal_recycler"),
    )
    problem(competitor, 403, "needs the role regulator")
    records = {p.id: p for p in api.service.participants()}
    today = api.service.today()
    assert not records[cast.informal_recycler].whitelist
    assert records[cast.recycler].whitelist_periods()[-1].covers(today)


def test_a_participant_manages_its_own_keys_only_and_a_revoked_key_opens_nothing(api: Api) -> None:
    store, cast = Store(api), api.cast
    others = api.service.issue_api_key(actor_id=None, participant_id=cast.other_manufacturer)
    keys_of_others = f"/api/v1/participants/{cast.other_manufacturer}/keys"
    problem(api.client.post(keys_of_others, headers=api.auth("manufacturer")), 403, "cannot issue API keys")
    problem(
        api.client.delete(f"/api/v1/keys/{others.key_id}", headers=api.auth("manufacturer")),
        403,
        "cannot revoke another participant's API key",
    )
    # The key still works for its owner.
    still = api.client.get(
        f"/api/v1/participants/{cast.other_manufacturer}", headers={"Authorization": f"Bearer {others.token}"}
    )
    assert still.status_code == 200, still.text

    revoked = {"Authorization": f"Bearer {store.revoked_token}"}
    problem(api.client.get("/api/v1/reports/monthly", headers=revoked), 401, "invalid or revoked")
    battery = f"/api/v1/batteries/{store.produced()}"
    problem(api.client.get(battery, headers=revoked), 401, "invalid or revoked")


# ----------------------------------------------------------------------------------- EPCIS 2.0
@prepares("GET", f"{B}/epcis", "reads")
def _epcis_document(store: Store, caller: str) -> Call:
    code = store.read_battery()
    return Call("GET", f"/api/v1/batteries/{code}/epcis", check=_media("application/ld+json"))


@prepares("GET", "/api/v1/epcis/events", "reads")
def _epcis_events(store: Store, caller: str) -> Call:
    query = f"/api/v1/epcis/events?MATCH_epc={store.read_battery()}"
    return Call("GET", query, check=_media("application/ld+json"))


@prepares("POST", "/api/v1/epcis/capture", "writes")
def _epcis_capture(store: Store, caller: str) -> Call:
    """A commissioning by the manufacturer (bt:actor): anyone else posting it is refused (403)."""
    ids = Identifiers(store.service.settings.public_url)
    event = {
        "type": "ObjectEvent",
        "eventTime": f"{PRODUCED_ON.isoformat()}T00:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [ids.battery(store.code())],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "ilmd": {f"bt:{name}": value for name, value in FACTS.items()},
        "bt:actor": ids.uri(IdKind.PARTY, store.cast.manufacturer),
    }
    document = {
        "@context": [],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00+08:00",
        "epcisBody": {"eventList": [event]},
    }
    return Call("POST", "/api/v1/epcis/capture", json=document)


# ------------------------------------------------------------------------ EU battery passport
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _new_model_code(store: Store) -> str:
    """A model code of the manufacturer's (3CB: its batteries here are 3CA) no cell has used,
    lithium iron phosphate (B) as the posted data says: spec code from the serial."""
    serial = store.serial()
    return f"3CBPB{_BASE36[serial // 36 % 36]}{_BASE36[serial % 36]}"


def _posted_model(store: Store, model_code: str) -> str:
    from batterytrace.trace.passport.model_data import ModelData
    from batterytrace.trace.passport.service import post_model

    body = ModelData.model_validate(model_body(model_code))
    post_model(store.service, actor_id=store.cast.manufacturer, model_code=model_code, data=body.data())
    return model_code


@prepares("POST", "/api/v1/models", "writes")
def _post_model(store: Store, caller: str) -> Call:
    return Call("POST", "/api/v1/models", json=model_body(_new_model_code(store)))


@prepares("GET", "/api/v1/models/{model_code}", "reads")
def _get_model(store: Store, caller: str) -> Call:
    return Call("GET", f"/api/v1/models/{_posted_model(store, '3CAPB12')}")


@prepares("POST", f"{B}/readings", "writes")
def _readings(store: Store, caller: str) -> Call:
    return Call("POST", _at(f"{B}/readings", code=store.installed()), json=readings_body())


@prepares("GET", f"{B}/passport", "reads")
def _passport(store: Store, caller: str) -> Call:
    code = store.read_battery()
    _posted_model(store, code[:7])
    tier = (
        "authorities" if caller == "regulator" else "legitimate_interest" if caller in INVOLVED else "public"
    )

    def right_tier(response: httpx.Response) -> str | None:
        body = response.json()
        if body["access"] != tier:
            return f"access {body['access']!r}, expected {tier!r}"
        general = next(v for k, v in body["aspects"].items() if k.endswith("#GeneralProductInformation"))
        if tier == "public" and "puttingIntoService" in general:
            return "the public passport shows the date put into service"
        return None

    return Call("GET", _at(f"{B}/passport", code=code), check=right_tier)


prepares("GET", "/loc/{point_id}", "public")(_plain_get("/loc/CP-110105-0001", "application/json"))
prepares("GET", "/loc/{operator_id}/{station}", "public")(
    _plain_get("/loc/91440300MA5F00003G/Futian%2003", "application/json")
)
prepares("GET", "/party/{credit_code}", "public")(_plain_get("/party/91360700MA3500006R", "application/json"))
