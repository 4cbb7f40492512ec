"""Report sums of energy and mass are exact: the same to the last digit after any rebuild, on
both stores, and shown with the decimals people entered (87.14, not 87.14000000000001).

The figures are chosen so that adding them as floats in event order goes wrong: 10.0 + 10.13 +
67.01 kWh is 87.14000000000001, 200.1 + 200.7 kg is 400.79999999999995 and 1.1 + 2.2 kg of lithium
is 3.3000000000000003.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from batterytrace.events.base import recording_clock
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Command, HandOver, Recycle, Reporting, Retire
from batterytrace.projections import report_queries
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.tabular import write_csv
from tests.utils.cast import NationalCast
from tests.utils.recompute import CST, FLOW_FIELDS, MONTH_FIELDS, POINT_FIELDS, recompute, rounded

PRODUCED = datetime(2025, 3, 3, 10, 0, tzinfo=CST)  # a Monday
ENERGIES_KWH = (10.0, 10.13, 67.01)  # float sum in this order: 87.14000000000001
COLLECTED_KG = (200.1, 200.7)  # float sum: 400.79999999999995
LITHIUM_KG = (1.1, 2.2)  # float sum: 3.3000000000000003


def _history(app: BatteryTrace, cast: NationalCast) -> list[str]:
    """Three packs made in March 2025; two of them retired, collected at the Chaoyang outlet,
    handed over to the whitelisted recycler and recycled in April. Every report on time."""
    codes = [_pack(app, cast, serial, energy) for serial, energy in enumerate(ENERGIES_KWH, start=1)]
    for day, (code, mass, lithium) in enumerate(zip(codes, COLLECTED_KG, LITHIUM_KG, strict=False)):
        start = PRODUCED + timedelta(days=30 + day)
        materials = {"Li": lithium, "Ni": 0.0, "Co": 0.0, "Mn": 0.0}
        _on_time(app, start, Retire(actor_id=cast.manufacturer, code=code, reason="defect"))
        _on_time(
            app,
            start + timedelta(hours=2),
            Collect(
                actor_id=cast.outlet_operator,
                code=code,
                collection_point_id=cast.collection_point,
                mass_kg=mass,
            ),
        )
        _on_time(
            app,
            start + timedelta(hours=4),
            HandOver(
                actor_id=cast.outlet_operator, code=code, receiver_id=cast.recycler, activity="recycling"
            ),
        )
        _on_time(
            app,
            start + timedelta(hours=6),
            Recycle(actor_id=cast.recycler, code=code, recovered_kg=materials),
        )
    return codes


def _pack(app: BatteryTrace, cast: NationalCast, serial: int, energy_kwh: float) -> str:
    code = make_battery_code("3CA", "P", "E", "12", "0A1B2C3", PRODUCED.date(), serial)
    spec = ProductionSpec(
        code=code,
        rated_capacity_ah=energy_kwh * 2.5,  # at 400 V
        nominal_voltage_v=400.0,
        energy_kwh=energy_kwh,
        mass_kg=450.0,
        occurred_at=PRODUCED,
    )
    _at(PRODUCED, lambda _: app.produce(actor_id=cast.manufacturer, spec=spec))
    return code


def _at(when: datetime, write: Callable[[datetime], Any]) -> None:
    """Write an event that happened at ``when`` and was reported an hour later (on time)."""
    with recording_clock(lambda: when + timedelta(hours=1)):
        write(when)


def _on_time(app: BatteryTrace, when: datetime, command: Command) -> None:
    """Run a command for an event that happened at ``when``, reported an hour later (on time)."""
    _at(when, lambda _: app.execute(replace(command, reporting=Reporting(occurred_at=when))))


def _reports(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {
        "monthly": report_queries.monthly(engine),
        "network": report_queries.network(engine),
        "regions": report_queries.regions(engine),
        "flows": report_queries.flows(engine),
    }


def test_a_months_energy_is_the_exact_sum(app: BatteryTrace, cast: NationalCast) -> None:
    _history(app, cast)
    runner = ViewRunner(app)
    runner.catch_up()
    (march,) = [r for r in report_queries.monthly(runner.engine) if r["month"] == "2025-03"]
    assert march["produced_kwh"] == 87.14 and repr(march["produced_kwh"]) == "87.14"
    (april,) = [r for r in report_queries.monthly(runner.engine) if r["month"] == "2025-04"]
    assert (april["recovered_li_kg"], april["recovered_total_kg"]) == (3.3, 3.3)


def test_an_outlets_mass_is_the_exact_sum(app: BatteryTrace, cast: NationalCast) -> None:
    _history(app, cast)
    runner = ViewRunner(app)
    runner.catch_up()
    (outlet,) = [r for r in report_queries.network(runner.engine) if r["id"] == cast.collection_point]
    assert (outlet["collected_kg"], outlet["handed_over_kg"], outlet["on_hand_kg"]) == (400.8, 400.8, 0.0)
    (flow,) = [r for r in report_queries.flows(runner.engine) if r["source_id"] == cast.collection_point]
    assert (flow["mass_kg"], flow["energy_kwh"]) == (400.8, 20.13)
    (beijing,) = [r for r in report_queries.regions(runner.engine) if r["region_code"] == "110000"]
    assert beijing["collected_kg"] == 400.8


def test_json_and_csv_show_the_decimals_that_were_entered(app: BatteryTrace, cast: NationalCast) -> None:
    _history(app, cast)
    runner = ViewRunner(app)
    runner.catch_up()
    monthly = report_queries.monthly(runner.engine)
    text = io.StringIO()
    write_csv(text, monthly, ["month", "produced_kwh", "recovered_li_kg"])
    assert "2025-03,87.14," in text.getvalue() and "2025-04,0.0,3.3" in text.getvalue(), text.getvalue()
    assert '"produced_kwh": 87.14,' in json.dumps(monthly[0])


def test_rebuilds_in_any_batches_give_identical_reports_equal_to_the_events(
    app: BatteryTrace, cast: NationalCast
) -> None:
    """One event per batch, then one batch for everything: the reports are identical, and every
    quantity equals the exact decimal sum recomputed from the events, on SQLite and PostgreSQL."""
    _history(app, cast)
    one_by_one = ViewRunner(app, batch_size=1)
    one_by_one.catch_up()
    first = _reports(one_by_one.engine)
    ViewRunner(app, engine=one_by_one.engine, batch_size=1000).rebuild()
    again = _reports(one_by_one.engine)
    assert first == again

    oracle = recompute(app)
    monthly = {(r["manufacturer_id"], r["month"]): rounded(r, MONTH_FIELDS) for r in again["monthly"]}
    assert monthly == {k: rounded(v, MONTH_FIELDS) for k, v in oracle.monthly_nonzero().items()}
    network = {r["id"]: rounded(r, POINT_FIELDS) for r in again["network"]}
    assert network == {k: rounded(v, POINT_FIELDS) for k, v in oracle.points.items()}
    flows = {
        (r["source_kind"], r["source_id"], r["receiver_id"], r["activity"]): rounded(r, FLOW_FIELDS)
        for r in again["flows"]
    }
    assert flows == {k: rounded(v, FLOW_FIELDS) for k, v in oracle.flows.items()}
