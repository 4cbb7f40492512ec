"""Fuzzing the HTTP API from its OpenAPI document: no request may end in a server error.

Schemathesis reads ``/openapi.json`` from the app in-process (ASGI) and, for every operation,
sends the document's examples and then generated requests, valid ones and ones that break the
schema (wrong types, missing fields, out-of-range values …), at most ``MAX_EXAMPLES`` each. It
runs four times on SQLite, once per caller: the public, a regulator, a manufacturer and an outlet
operator, each on a store with the national cast and batteries in every state. Half of the time
the generated path parameters and the body fields that name something (a battery code, a
participant, the scanned text …) are replaced by real or well-formed values, so that requests get
past "not found" and "invalid code" into the routes' deeper code. The generation seed is drawn
once per run, so the four callers get the same requests.

The checks: no 5xx (schemathesis' ``not_a_server_error``); every 4xx is an RFC 9457 problem; and
a write never stops the projections (before each read, the views must reach the store's head).
One 5xx is by design and allowed: a read after a notification the store has not reached
(``?after=`` beyond its head) waits, then answers 503 "views behind" (``deps.consistent_views``);
such reads are sent with a short ``timeout`` so that the run does not wait 5 s for each.

The bugs the fuzz once found (times at the ends of the calendar, 64-bit offsets, overflowing
measurements, over-long CSV fields, late corrections dated before production) have regression
tests with the exact request at the end of this file.

The app's lifespan belongs to the ``api_on`` client (it opens the store and runs the projection
follower, and closes them when the caller's tests end); schemathesis, which would start a
lifespan of its own (a second service and follower on the same app), is handed the app behind
``NoLifespan``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import EXAMPLE_CODE, make_battery_code
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Reporting, Retire
from batterytrace.trace.api.app import create_app
from batterytrace.trace.settings import Settings
from tests.utils.api import Api, api_on
from tests.utils.cast import credit_code

CALLERS = ("public", "regulator", "manufacturer", "outlet_operator")
MAX_EXAMPLES = 30
VIN = "LSVAU2180N2183294"
FACTS = {"rated_capacity_ah": 150, "nominal_voltage_v": 100, "energy_kwh": 15, "mass_kg": 110}
VIEWS_BEHIND = "/problems/views-behind"
SHORT_WAIT = 0.01  # seconds: the timeout given to a read after a notification not yet stored
VIEWS_CATCH_UP = 10.0  # seconds the projection follower may take to reach the store's head

CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": False},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "no-shrink": True, "database": "none"},
    }
)

# The bulk import takes JSON lines as text, like CSV (which schemathesis sends as text already).
schemathesis.serializer.alias(
    ["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"],
    "text/plain",
)


class NoLifespan:
    """The app without its lifespan: startup and shutdown are acknowledged, not run, because the
    ``api_on`` client that owns the app has run them already."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


# ------------------------------------------------------------------------------- the store
def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


def seed_batteries(api: Api) -> list[str]:
    """Batteries in every state; the document's example code is a retired pack, so the scan
    example (that code at CP-110105-0001) takes it in."""
    service, cast = api.service, api.cast
    codes = [EXAMPLE_CODE] + [
        make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), n) for n in range(1, 7)
    ]
    for code in codes:
        service.produce(actor_id=cast.manufacturer, spec=ProductionSpec(code=code, **FACTS))
    example, _produced, installed, retired, collected, recycling, cascade = codes
    for code in (example, installed, retired, collected, recycling, cascade):
        service.execute(
            Deliver(
                actor_id=cast.manufacturer,
                code=code,
                receiver_id=cast.vehicle_maker,
                reporting=Reporting(occurred_at=at(2024, 7, 25)),
            )
        )
        service.execute(
            Install(
                actor_id=cast.vehicle_maker,
                code=code,
                vin=VIN,
                reporting=Reporting(occurred_at=at(2024, 8, 1)),
            )
        )
    for code in (example, retired, collected, recycling, cascade):
        service.execute(
            Retire(
                actor_id=cast.vehicle_maker,
                code=code,
                reason="capacity below 80%",
                reporting=Reporting(occurred_at=at(2025, 6, 1)),
            )
        )
    service.execute(
        Collect(
            actor_id=cast.outlet_operator,
            code=collected,
            collection_point_id=cast.collection_point,
            reporting=Reporting(occurred_at=at(2025, 6, 15)),
        )
    )
    for code, receiver, activity in (
        (recycling, "recycler", "recycling"),
        (cascade, "cascade_user", "cascade_use"),
    ):
        service.execute(
            HandOver(
                actor_id=cast.vehicle_maker,
                code=code,
                receiver_id=getattr(cast, receiver),
                activity=activity,
                reporting=Reporting(occurred_at=at(2025, 7, 1)),
            )
        )
    return codes


class FuzzStore:
    """A store with the cast and seeded batteries, the caller's headers, and the real values that
    generated path parameters and body fields are replaced with half of the time."""

    current: FuzzStore | None = None  # the store of the running test, for the schema's hooks

    def __init__(self, api: Api, caller: str) -> None:
        self.api = api
        self.caller = caller
        self.app = NoLifespan(api.client.app)
        self.headers = api.auth(None if caller == "public" else caller)
        cast = api.cast
        spare_keys = [  # keys nobody authenticates with: revoking them harms no later request
            api.service.issue_api_key(actor_id=None, participant_id=cast.manufacturer).key_id
            for _ in range(2)
        ]
        self.real: dict[str, list[str]] = {
            "code": seed_batteries(api),
            "point_id": [cast.collection_point, cast.other_collection_point],
            "credit_code": [getattr(cast, member) for member in ("regulator", "manufacturer", "recycler")]
            + [cast.informal_recycler, cast.cascade_user, cast.outlet_operator],
            "key_id": spare_keys,
        }
        self.beyond_head = False
        self.writes: list[str] = []  # successful writes since the views were last seen at the head

    def head(self) -> int:
        return self.api.service.recorder.max_notification_id() or 0

    def prepare(self, case: schemathesis.Case) -> None:
        """Before a read, the views must reach the store's head: a write that stopped the
        projections fails here, naming the writes since the last read. Then ``?after=`` up to the
        head is answered at once; a read after a notification beyond the head gets a short
        timeout."""
        head = self.head()
        if case.method.upper() == "GET":
            runner = self.api.client.app.state.runner  # type: ignore[attr-defined]
            assert runner.wait_until(head, timeout=VIEWS_CATCH_UP), (
                f"the views stopped short of the store's head ({head}): "
                f"{ {s.view: s.position for s in runner.status()} }; writes since the views were "
                "last at the head:\n" + "\n".join(self.writes)
            )
            self.writes.clear()
        asked = [_whole_number((case.query or {}).get("after"))]
        asked.append(_whole_number((case.headers or {}).get("X-After-Notification")))
        self.beyond_head = any(n is not None and n > head for n in asked)
        if self.beyond_head and case.query is None:
            case.query = {"timeout": SHORT_WAIT}
        elif self.beyond_head and _valid_timeout(case.query.get("timeout", 5.0)):
            case.query["timeout"] = SHORT_WAIT

    def record(self, case: schemathesis.Case, response: schemathesis.Response) -> None:
        if case.method.upper() != "GET" and 200 <= response.status_code < 300:
            body = (
                json.dumps(case.body, default=str)[:500] if isinstance(case.body, dict | list | str) else ""
            )
            self.writes.append(f"{case.method} {case.formatted_path} {body}".rstrip())

    # -- checks ------------------------------------------------------------------------------
    def not_a_server_error(self, ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> Any:
        if response.status_code == 503 and self.beyond_head and _problem_type(response) == VIEWS_BEHIND:
            return None  # by design: the views cannot reach a notification the store has not got
        return not_a_server_error(ctx, response, case)

    @staticmethod
    def client_errors_are_problems(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> Any:
        if not 400 <= response.status_code < 500:
            return None
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), (
            f"a {response.status_code} answered as {content_type!r}, not application/problem+json"
        )
        body = response.json()
        for name, kind in (("type", str), ("title", str), ("status", int), ("detail", str)):
            assert isinstance(body.get(name), kind), f"problem field {name!r} is {body.get(name)!r}"
        assert body["status"] == response.status_code, body
        return None


def _whole_number(value: Any) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 0 else None


def _valid_timeout(value: Any) -> bool:
    try:
        return 0 < float(str(value)) <= 30
    except ValueError:
        return False


def _problem_type(response: schemathesis.Response) -> str | None:
    try:
        return response.json().get("type")
    except ValueError:
        return None


# ------------------------------------------------------------------------ real values, hooks
CODES = st.builds(
    make_battery_code,
    st.sampled_from(["3CA", "3CB", "4BY", "9CU"]),
    st.sampled_from("PMC"),
    st.sampled_from("BE"),
    st.just("12"),
    st.just("0A1B2C3"),
    st.dates(date(2020, 1, 1), date(2025, 12, 31)),
    st.integers(1, 9_999_999),
)
NEW_CREDIT_CODES = st.integers(0, 99_999).map(lambda n: credit_code(f"91440300MA5F{n:05d}"))


def _body_values(real: dict[str, list[str]]) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies for body fields that name something, by field name."""
    codes = st.sampled_from(real["code"])
    members = st.sampled_from(real["credit_code"])
    return {
        "code": st.one_of(CODES, codes),  # a production: new codes, some of them the caller's
        "product_code": CODES,
        "components": st.lists(codes, max_size=2),
        "other_originals": st.lists(codes, max_size=2),
        "text": st.one_of(codes, codes.map(lambda c: f"https://trace.example.cn/b/{c}")),  # a scan
        "receiver_id": members,
        "operator_id": members,
        "credit_code": st.one_of(members, NEW_CREDIT_CODES),
        "point_id": st.integers(0, 9999).map(lambda n: f"CP-110105-F{n:04d}"),
    }


def _with_real_values(values: dict[str, Any], strategies: dict[str, st.SearchStrategy[Any]]) -> Any:
    """``values`` as generated, or (half of the time) with the named fields replaced."""
    names = [name for name in values if name in strategies]
    if not names:
        return st.just(values)
    replaced = st.fixed_dictionaries({name: strategies[name] for name in names})
    return st.one_of(st.just(values), replaced.map(lambda new: {**values, **new}))


def _hooked(schema: Any) -> Any:
    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        real = FuzzStore.current.real if FuzzStore.current else {}
        strategies = {name: st.sampled_from(values) for name, values in real.items()}
        return _with_real_values(path_parameters or {}, strategies)

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        if not isinstance(body, dict) or FuzzStore.current is None:
            return st.just(body)
        return _with_real_values(body, _body_values(FuzzStore.current.real))

    return schema


# The document, read in-process from an app that is never started (reading it needs no store);
# every request goes to the started app of the caller's store instead (``FuzzStore.app``).
schema = _hooked(
    schemathesis.openapi.from_asgi(
        "/openapi.json", NoLifespan(create_app(Settings(database_url="sqlite://"))), config=CONFIG
    )
)


@pytest.fixture(scope="module", params=CALLERS)
def fuzz_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzStore]:
    """One store per caller, shared by every operation's test."""
    database = tmp_path_factory.mktemp(f"fuzz-{request.param}") / "batterytrace.db"
    with api_on(f"sqlite:///{database}") as api:
        FuzzStore.current = FuzzStore(api, request.param)
        try:
            yield FuzzStore.current
        finally:
            FuzzStore.current = None


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_causes_a_server_error(case: schemathesis.Case, fuzz_store: FuzzStore) -> None:
    fuzz_store.prepare(case)
    response = case.call(app=fuzz_store.app, headers=fuzz_store.headers)
    fuzz_store.record(case, response)
    case.validate_response(
        response, checks=[fuzz_store.not_a_server_error, fuzz_store.client_errors_are_problems]
    )


# ------------------------------------------------------------------------------ regressions
# Found by sending the fuzz's edge values (dates at the ends of the calendar, 64-bit integers,
# overflowing floats, long CSV fields) to requests that get past authorisation and validation.
def produce_body(api: Api, serial: int, **extra: Any) -> dict[str, Any]:
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), serial)
    return {"code": code, **FACTS, **extra}


def is_problem(response: Any, *statuses: int) -> bool:
    return response.status_code in statuses and response.headers["content-type"].startswith(
        "application/problem+json"
    )


def views_reach_head(api: Api, timeout: float = 3.0) -> bool:
    """Whether the views reach the store's head in ``timeout`` s (the follower polls every 0.5 s)."""
    runner = api.client.app.state.runner  # type: ignore[attr-defined]
    return bool(runner.wait_until(api.service.recorder.max_notification_id() or 0, timeout=timeout))


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
@pytest.mark.parametrize("route", ["single", "bulk"])
def test_a_time_at_the_edge_of_the_calendar_is_refused_not_a_server_error(
    api: Api, occurred_at: str, route: str
) -> None:
    body = produce_body(api, 1, occurred_at=occurred_at)
    if route == "single":
        response = api.client.post("/api/v1/batteries", json=body, headers=api.auth("manufacturer"))
        assert is_problem(response, 422), response.text
    else:
        response = api.client.post(
            "/api/v1/batteries/bulk",
            content=(json.dumps(body) + "\n").encode(),
            headers={**api.auth("manufacturer"), "Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["refused_count"] == 1, response.json()


@pytest.mark.parametrize("params", [{"since": "0001-01-01"}, {"until": "9999-12-31"}], ids=["since", "until"])
def test_report_dates_at_the_edge_of_the_calendar_are_not_a_server_error(
    api: Api, params: dict[str, str]
) -> None:
    response = api.client.get("/api/v1/reports/compliance", params=params, headers=api.auth("regulator"))
    assert response.status_code == 200 or is_problem(response, 422), response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/collection-points",
        *(
            f"/api/v1/reports/{name}"
            for name in ("network", "flows", "monthly", "swaps", "overdue", "compliance")
        ),
    ],
)
def test_an_offset_beyond_64_bits_is_refused_as_invalid_input(api: Api, path: str) -> None:
    response = api.client.get(path, params={"offset": str(2**63)}, headers=api.auth("regulator"))
    assert is_problem(response, 422) or response.status_code == 200, response.text


def test_a_csv_field_over_the_csv_field_limit_is_a_refused_row_not_a_server_error(api: Api) -> None:
    header = "code,rated_capacity_ah,nominal_voltage_v,energy_kwh,mass_kg\n"
    response = api.client.post(
        "/api/v1/batteries/bulk",
        content=(header + "X" * 200_000 + ",150,100,15,110\n").encode(),
        headers={**api.auth("manufacturer"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 200 or is_problem(response, 413, 422), response.text


def test_a_battery_whose_capacity_times_voltage_is_not_finite_is_refused(api: Api) -> None:
    body = produce_body(api, 1, rated_capacity_ah=1e308, nominal_voltage_v=1e308, energy_kwh=1e308)
    response = api.client.post("/api/v1/batteries", json=body, headers=api.auth("manufacturer"))
    assert is_problem(response, 422), response.text


def test_a_late_correction_dated_before_the_battery_was_made_is_refused(api: Api) -> None:
    pack = produce_body(api, 1)["code"]
    api.service.produce(actor_id=api.cast.manufacturer, spec=ProductionSpec(code=pack, **FACTS))
    body = {"reason": "capacity below 80%", "occurred_at": "0001-01-01T00:00:00", "late_correction": True}
    response = api.client.post(
        f"/api/v1/batteries/{pack}/retire", json=body, headers=api.auth("manufacturer")
    )
    assert is_problem(response, 409, 422), response.text


def _retired_in_year_one(api: Api) -> Any:
    pack = produce_body(api, 1)["code"]
    api.service.produce(actor_id=api.cast.manufacturer, spec=ProductionSpec(code=pack, **FACTS))
    body = {"reason": "capacity below 80%", "occurred_at": "0001-01-01T00:00:00", "late_correction": True}
    return api.client.post(f"/api/v1/batteries/{pack}/retire", json=body, headers=api.auth("manufacturer"))


def _two_batteries_of_1e308_kwh(api: Api) -> Any:
    for serial in (1, 2):
        body = produce_body(api, serial, rated_capacity_ah=1e308, nominal_voltage_v=1e308, energy_kwh=1e308)
        response = api.client.post("/api/v1/batteries", json=body, headers=api.auth("manufacturer"))
    return response


@pytest.mark.parametrize(
    "write",
    [
        _retired_in_year_one,
        _two_batteries_of_1e308_kwh,  # on PostgreSQL: see the test's body
    ],
    ids=["year-one-late-correction", "two-batteries-of-1e308-kWh"],
)
def test_an_accepted_write_never_stops_the_views(
    api: Api, write: Any, request: pytest.FixtureRequest
) -> None:
    """A write is refused, or the views take it in: an event the projections cannot apply stops
    them for good (reads with ``?after=`` then answer 503 for ever, reports go stale)."""
    response = write(api)
    if not 200 <= response.status_code < 300:
        return  # refused: nothing for the views to take in
    assert views_reach_head(api), f"the views stopped after: {response.text[:300]}"
