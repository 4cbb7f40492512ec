"""Helpers for testing the read models (views): their whole contents, comparable, and stores to
build them from.

``view_contents`` reads every row of every table of one view (or all three) into plain, sorted,
comparable tuples: datetimes as UTC ISO strings, JSON as canonical text, floats rounded to 6
decimals (counters summed in a different order by an incremental run and by a rebuild differ in
the last bits). Two snapshots are equal exactly when the views hold the same facts.

``varied_store`` writes a small store by hand through the application service, with one battery
at every stage (pack from modules, delivered and installed, removed, retired, collected, handed over
compliantly and not, recycled, cascade-reused into a second-life product, swapped out and in,
in a scrapped vehicle and retired by its dismantler); ``demo_store`` uses
the deterministic national demo for larger ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from batterytrace.demo.national import DemoSummary, generate_demo
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import (
    Collect,
    Deliver,
    HandOver,
    Install,
    Recycle,
    Remove,
    Reporting,
    Retire,
    ScrapVehicle,
    Swap,
)
from batterytrace.projections.tables import VIEW_TABLES, positions
from batterytrace.trace.application import BatteryTrace
from tests.utils.cast import NationalCast

Contents = dict[str, list[tuple[Any, ...]]]
FLOAT_DECIMALS = 6


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return round(value, FLOAT_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[int, str], ...]:
    return tuple((value is None, repr(value)) for value in row)


def view_contents(engine: Engine, view: str | None = None) -> Contents:
    """Every row of every table of ``view`` (all views when None), by table name, sorted."""
    with engine.connect() as connection:
        return _contents(connection, view)


def positions_and_contents(engine: Engine) -> tuple[dict[str, int], Contents]:
    """Every view's position and every view's rows, read in one snapshot (REPEATABLE READ on
    PostgreSQL; on SQLite the views engine begins its transactions IMMEDIATE, so no writer
    commits while it reads). Why: a runner killed by SIGKILL may have sent its COMMIT before it
    died, and the server completes it a moment later; positions and rows read one after the other
    could then straddle that commit (each is consistent with the other only as of one instant)."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    with connection, connection.begin():
        query = select(positions.c.view, positions.c.position)
        at = {view: position for view, position in connection.execute(query)}
        return at, _contents(connection, None)


def _contents(connection: Connection, view: str | None) -> Contents:
    views: Iterable[str] = [view] if view else VIEW_TABLES
    contents: Contents = {}
    for name in views:
        for table in VIEW_TABLES[name]:
            rows = [tuple(_comparable(v) for v in row) for row in connection.execute(select(table))]
            contents[table.name] = sorted(rows, key=_sort_key)
    return contents


def column(contents: Contents, table: str, name: str) -> list[Any]:
    """One column of a snapshot's table (in the snapshot's row order)."""
    index = [c.name for c in VIEW_TABLES_BY_NAME[table].columns].index(name)
    return [row[index] for row in contents[table]]


def rows_as_dicts(contents: Contents, table: str) -> list[dict[str, Any]]:
    names = [c.name for c in VIEW_TABLES_BY_NAME[table].columns]
    return [dict(zip(names, row, strict=True)) for row in contents[table]]


VIEW_TABLES_BY_NAME = {table.name: table for tables in VIEW_TABLES.values() for table in tables}


def differences(left: Contents, right: Contents, *, limit: int = 5) -> str:
    """What differs between two snapshots, table by table (for assertion messages)."""
    lines = []
    for table in sorted(set(left) | set(right)):
        a, b = set(left.get(table, [])), set(right.get(table, []))
        if a == b and len(left.get(table, [])) == len(right.get(table, [])):
            continue
        lines.append(f"{table}: {len(left.get(table, []))} rows vs {len(right.get(table, []))}")
        lines += [f"  only left:  {row}" for row in sorted(a - b, key=_sort_key)[:limit]]
        lines += [f"  only right: {row}" for row in sorted(b - a, key=_sort_key)[:limit]]
    return "\n".join(lines) or "(no differences)"


# ---------------------------------------------------------------------------------- stores
PRODUCED_ON = date(2024, 7, 15)
VIN = "LSVAU2180N2183294"
MATERIALS = {"Li": 3.1, "Ni": 8.2, "Co": 1.4, "Mn": 2.0, "Fe": 21.5}


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=CHINA_STANDARD_TIME)


def battery_code(level: str, serial: int, *, maker: str = "3CA", produced_on: date = PRODUCED_ON) -> str:
    return make_battery_code(maker, level, "B", "12", "0A1B2C3", produced_on, serial)


@dataclass
class VariedStore:
    """What ``varied_store`` wrote: codes by role, and the notification id of the last write."""

    pack: str  # built from ``modules``; recycled after a compliant handover
    modules: list[str]
    originals: list[str]  # two packs cascade-reused into ``product``
    product: str
    non_compliant: str  # handed over to a recycler off the whitelist
    others: dict[str, str] = field(default_factory=dict)  # final stage -> code
    last_notification: int = 0

    @property
    def codes(self) -> list[str]:
        return [
            self.pack,
            *self.modules,
            *self.originals,
            self.product,
            self.non_compliant,
            *self.others.values(),
        ]


def _pack_spec(code: str, *, components: tuple[str, ...] = (), mass_kg: float = 110.5) -> ProductionSpec:
    return ProductionSpec(
        code=code,
        rated_capacity_ah=150,
        nominal_voltage_v=100,
        energy_kwh=15.3,
        mass_kg=mass_kg,
        components=components,
    )


def varied_store(app: BatteryTrace, cast: NationalCast) -> VariedStore:
    """A dozen batteries through every command, on top of ``cast``."""
    last = 0

    def note(result: Any) -> Any:
        nonlocal last
        if result.notification_id:
            last = max(last, result.notification_id)
        return result

    m = cast.manufacturer
    vm, outlet, recycler = cast.vehicle_maker, cast.outlet_operator, cast.recycler
    modules = [battery_code("M", 1), battery_code("M", 2)]
    for module in modules:
        note(
            app.produce(
                actor_id=m,
                spec=ProductionSpec(
                    code=module, rated_capacity_ah=150, nominal_voltage_v=50, energy_kwh=7.5, mass_kg=50.25
                ),
            )
        )
    pack = battery_code("P", 3)
    note(app.produce(actor_id=m, spec=_pack_spec(pack, components=tuple(modules))))

    def first_life(code: str, *, maker: str = m, retire: bool = True, remove: bool = False) -> None:
        """Delivered by its ``maker`` to the vehicle maker, which installs it (then as asked)."""
        note(
            app.execute(
                Deliver(
                    actor_id=maker,
                    code=code,
                    receiver_id=vm,
                    reporting=Reporting(occurred_at=at(2024, 7, 25)),
                )
            )
        )
        note(
            app.execute(
                Install(actor_id=vm, code=code, vin=VIN, reporting=Reporting(occurred_at=at(2024, 8, 1)))
            )
        )
        if remove:
            note(
                app.execute(
                    Remove(
                        actor_id=vm,
                        code=code,
                        reason="repair",
                        reporting=Reporting(occurred_at=at(2025, 3, 1)),
                    )
                )
            )
            note(
                app.execute(
                    Install(actor_id=vm, code=code, vin=VIN, reporting=Reporting(occurred_at=at(2025, 3, 10)))
                )
            )
        if retire:
            note(
                app.execute(
                    Retire(
                        actor_id=vm,
                        code=code,
                        reason="capacity below 80%",
                        reporting=Reporting(occurred_at=at(2026, 9, 1)),
                    )
                )
            )

    def collect(code: str, point: str, operator: str, when: datetime) -> None:
        note(
            app.execute(
                Collect(
                    actor_id=operator,
                    code=code,
                    collection_point_id=point,
                    reporting=Reporting(occurred_at=when),
                )
            )
        )

    # The pack: modules -> pack -> vehicle -> repair -> retired -> outlet -> recycler -> recycled.
    first_life(pack, remove=True)
    collect(pack, cast.collection_point, outlet, at(2026, 10, 1))
    note(app.execute(HandOver(actor_id=outlet, code=pack, receiver_id=recycler, activity="recycling")))
    note(app.execute(Recycle(actor_id=recycler, code=pack, recovered_kg=MATERIALS)))

    # Two packs retired, collected at two outlets, cascade-reused into one second-life product.
    originals = [battery_code("P", 11), battery_code("P", 12)]
    for serial, original in enumerate(originals):
        note(app.produce(actor_id=m, spec=_pack_spec(original, mass_kg=380.0 + serial)))
        first_life(original)
        point, operator = (
            (cast.collection_point, outlet) if serial == 0 else (cast.other_collection_point, vm)
        )
        collect(original, point, operator, at(2026, 10, 2))
        note(
            app.execute(
                HandOver(
                    actor_id=operator,
                    code=original,
                    receiver_id=cast.cascade_user,
                    activity="cascade_use",
                    reporting=Reporting(occurred_at=at(2026, 10, 4)),
                )
            )
        )
    # Fixed dates, not "an hour ago": the product's code carries its production day in China
    # Standard Time, and "an hour ago" fell on the day before its originals' hand-over (a refused
    # chronology) whenever the suite ran in the first hour of a day in China.
    made_at = at(2026, 10, 6)
    product = make_battery_code(
        "9CU", "P", "B", "01", "SECLIFE", made_at.astimezone(CHINA_STANDARD_TIME).date(), 1
    )
    note(
        app.cascade_reuse(
            actor_id=cast.cascade_user,
            originals=originals,
            product=ProductionSpec(
                code=product,
                rated_capacity_ah=150,
                nominal_voltage_v=200,
                energy_kwh=30,
                mass_kg=720.5,
                occurred_at=made_at,
            ),
        )
    )
    note(app.execute(Install(actor_id=cast.cascade_user, code=product, site="Changsha base station 17")))

    # Handed over to a recycler off the whitelist (non-compliant).
    non_compliant = battery_code("P", 31)
    note(app.produce(actor_id=m, spec=_pack_spec(non_compliant)))
    first_life(non_compliant)
    collect(non_compliant, cast.collection_point, outlet, at(2026, 10, 3))
    note(
        app.execute(
            HandOver(
                actor_id=outlet, code=non_compliant, receiver_id=cast.informal_recycler, activity="recycling"
            )
        )
    )

    # One battery left at each earlier stage, one of them reported with a backwards date.
    others = {}
    for serial, stage in enumerate(("produced", "installed", "removed", "retired", "collected"), start=41):
        maker = "4BY" if serial % 2 else "3CA"
        owner = cast.other_manufacturer if maker == "4BY" else m
        code = battery_code("P", serial, maker=maker)
        note(app.produce(actor_id=owner, spec=_pack_spec(code, mass_kg=100.0 + serial / 3)))
        if stage != "produced":
            first_life(code, maker=owner, retire=stage in ("retired", "collected"), remove=stage == "removed")
        if stage == "removed":
            note(
                app.execute(
                    Remove(
                        actor_id=vm,
                        code=code,
                        reason="replacement",
                        reporting=Reporting(occurred_at=at(2025, 6, 1)),
                    )
                )
            )
        if stage == "collected":
            note(
                app.execute(
                    Collect(
                        actor_id=vm,
                        code=code,
                        collection_point_id=cast.other_collection_point,
                        reporting=Reporting(occurred_at=at(2026, 8, 20), late_correction=True),
                    )
                )
            )
        others[stage] = code

    # Retired and handed straight to the recycler by the vehicle maker (no collection point).
    direct = battery_code("P", 51)
    note(app.produce(actor_id=m, spec=_pack_spec(direct, mass_kg=95.75)))
    first_life(direct)
    note(app.execute(HandOver(actor_id=vm, code=direct, receiver_id=recycler, activity="recycling")))
    note(app.execute(Recycle(actor_id=recycler, code=direct, recovered_kg=MATERIALS)))
    others["direct_to_recycler"] = direct

    # A swap: the swap operator's new pack (delivered by the manufacturer) into the vehicle, the
    # vehicle's pack out into the station's stock; then a scrapped vehicle's pack, retired by the
    # dismantler that took the vehicle in.
    note(
        app.register_participant(
            actor_id=cast.regulator,
            credit_code=cast.swap_operator,
            name="Yihuan Swapping",
            roles=["swap_operator"],
        )
    )
    in_vehicle, swap_stock, scrapped = (battery_code("P", serial) for serial in (61, 62, 63))
    for code in (in_vehicle, swap_stock, scrapped):
        note(app.produce(actor_id=m, spec=_pack_spec(code)))
    first_life(in_vehicle, retire=False)
    first_life(scrapped, retire=False)
    note(
        app.execute(
            Deliver(
                actor_id=m,
                code=swap_stock,
                receiver_id=cast.swap_operator,
                reporting=Reporting(occurred_at=at(2024, 7, 25)),
            )
        )
    )
    note(
        app.execute(
            Swap(
                actor_id=cast.swap_operator,
                vin=VIN,
                removed_code=in_vehicle,
                installed_code=swap_stock,
                station="YH-440304-03",
                division_code="440304",
                reporting=Reporting(occurred_at=at(2025, 5, 1)),
            )
        )
    )
    note(
        app.execute(
            ScrapVehicle(
                actor_id=cast.dismantler,
                vin=VIN,
                codes=(scrapped,),
                reporting=Reporting(occurred_at=at(2026, 9, 5)),
            )
        )
    )
    note(
        app.execute(
            Retire(
                actor_id=cast.dismantler,
                code=scrapped,
                reason="vehicle scrapped",
                reporting=Reporting(occurred_at=at(2026, 9, 8)),
            )
        )
    )
    others.update(swapped_out=in_vehicle, swapped_in=swap_stock, scrapped=scrapped)

    # A whitelist granted and revoked (after the informal recycler's handover above).
    note(
        app.grant_whitelist(
            actor_id=cast.regulator, participant_id=cast.informal_recycler, activity="recycling"
        )
    )
    note(
        app.revoke_whitelist(
            actor_id=cast.regulator,
            participant_id=cast.informal_recycler,
            activity="recycling",
            reason="inspection failed",
        )
    )
    return VariedStore(
        pack=pack,
        modules=modules,
        originals=originals,
        product=product,
        non_compliant=non_compliant,
        others=others,
        last_notification=last,
    )


def demo_store(app: BatteryTrace, *, batteries: int = 60, seed: int = 11) -> DemoSummary:
    """The deterministic national demo (cast, 400 outlets, ``batteries`` packs and their lives)."""
    return generate_demo(app, batteries=batteries, seed=seed, batch_size=50)
