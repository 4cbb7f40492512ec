"""Whole battery lives through the application service, on SQLite and on PostgreSQL.

Every test here runs once per store (the ``database_url`` fixture), each on a fresh database with
the national cast of ``tests/utils/cast.py`` registered. The scenarios are the ones the platform
exists for: a pack from its modules to the recycler, a second life from two retired packs, a
non-compliant handover, the battery as it stood on a past date, replayed and conflicting requests,
who may do what, and events that outlive the process that wrote them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery, ProductionSpec
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
)
from batterytrace.events.errors import (
    AlreadyExists,
    InvalidInput,
    LifecycleViolation,
    NotAuthorised,
    NotFound,
)
from batterytrace.trace.application import BatteryTrace, WriteResult
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, credit_code

PRODUCED_ON = date(2024, 7, 15)
VIN = "LSVAU2180N2183294"
MATERIALS = {"Li": 3.1, "Ni": 0.0, "Co": 0.0, "Mn": 0.0, "Fe": 21.5}
NEW_ENTERPRISE = credit_code("91310115MA1H00009")


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """A real-world moment in China Standard Time."""
    return datetime(year, month, day, hour, 0, tzinfo=CHINA_STANDARD_TIME)


def code(level: str, serial: int, *, maker: str = "3CA", produced_on: date = PRODUCED_ON) -> str:
    return make_battery_code(maker, level, "B", "12", "0A1B2C3", produced_on, serial)


def module_spec(serial: int) -> ProductionSpec:
    return ProductionSpec(
        code=code("M", serial), rated_capacity_ah=150, nominal_voltage_v=50, energy_kwh=7.5, mass_kg=50
    )


def pack_spec(serial: int, components: tuple[str, ...] = (), mass_kg: float = 110) -> ProductionSpec:
    return ProductionSpec(
        code=code("P", serial),
        rated_capacity_ah=150,
        nominal_voltage_v=100,
        energy_kwh=15,
        mass_kg=mass_kg,
        components=components,
    )


def names(app: BatteryTrace, battery_code: str) -> list[str]:
    return [type(e).__name__ for e in app.history(battery_code)]


def state(app: BatteryTrace, battery_code: str) -> str:
    return str(app.battery(battery_code).state)


def deliver(app: BatteryTrace, cast: NationalCast, pack: str) -> WriteResult:
    """The manufacturer delivers the new pack to the vehicle maker, which may then install it."""
    return app.execute(
        Deliver(
            actor_id=cast.manufacturer,
            code=pack,
            receiver_id=cast.vehicle_maker,
            reporting=Reporting(occurred_at=at(2024, 7, 25)),
        )
    )


def installed_and_retired_pack(app: BatteryTrace, cast: NationalCast, serial: int) -> str:
    """A pack produced, delivered to the vehicle maker, installed in a vehicle and retired by it."""
    pack = app.produce(actor_id=cast.manufacturer, spec=pack_spec(serial)).events[0].split(":")[0]
    deliver(app, cast, pack)
    app.execute(
        Install(
            actor_id=cast.vehicle_maker, code=pack, vin=VIN, reporting=Reporting(occurred_at=at(2024, 8, 1))
        )
    )
    app.execute(
        Retire(
            actor_id=cast.vehicle_maker,
            code=pack,
            reason="capacity below 80%",
            reporting=Reporting(occurred_at=at(2026, 9, 1)),
        )
    )
    return pack


# ------------------------------------------------------------------------- a pack's whole life
def test_a_pack_built_from_modules_goes_from_production_to_recycling(
    app: BatteryTrace, cast: NationalCast
) -> None:
    started = datetime.now(UTC)
    results: list[WriteResult] = []
    modules = [module_spec(1).code, module_spec(2).code]
    for serial in (1, 2):
        results.append(app.produce(actor_id=cast.manufacturer, spec=module_spec(serial)))
    assert [state(app, m) for m in modules] == ["produced", "produced"]

    pack = code("P", 3)
    results.append(app.produce(actor_id=cast.manufacturer, spec=pack_spec(3, components=tuple(modules))))
    assert results[-1].events == [
        f"{pack}:Produced",
        f"{modules[0]}:AssembledInto",
        f"{modules[1]}:AssembledInto",
    ]
    assert state(app, pack) == "produced"
    assert app.battery(pack).components == modules
    for module in modules:
        assert state(app, module) == "assembled"
        assert app.battery(module).pack == pack
        assert names(app, module) == ["Produced", "AssembledInto"]

    steps = [
        ("produced", lambda: deliver(app, cast, pack)),  # still new, now held by the vehicle maker
        (
            "installed",
            lambda: app.execute(
                Install(
                    actor_id=cast.vehicle_maker,
                    code=pack,
                    vin=VIN,
                    reporting=Reporting(occurred_at=at(2024, 8, 1)),
                )
            ),
        ),
        (
            "removed",
            lambda: app.execute(
                Remove(
                    actor_id=cast.vehicle_maker,
                    code=pack,
                    reason="repair",
                    reporting=Reporting(occurred_at=at(2025, 3, 1)),
                )
            ),
        ),
        (
            "installed",
            lambda: app.execute(
                Install(
                    actor_id=cast.vehicle_maker,
                    code=pack,
                    vin=VIN,
                    reporting=Reporting(occurred_at=at(2025, 3, 10)),
                )
            ),
        ),
        (
            "retired",
            lambda: app.execute(
                Retire(
                    actor_id=cast.vehicle_maker,
                    code=pack,
                    reason="capacity below 80%",
                    state_of_health_pct=76,
                    reporting=Reporting(occurred_at=at(2026, 9, 1)),
                )
            ),
        ),
        (
            "collected",
            lambda: app.execute(
                Collect(
                    actor_id=cast.outlet_operator,
                    code=pack,
                    collection_point_id=cast.collection_point,
                    reporting=Reporting(occurred_at=at(2026, 10, 1)),
                )
            ),
        ),
        # The recycler's whitelist status was granted today, so the handover happens now.
        (
            "handed over",
            lambda: app.execute(
                HandOver(
                    actor_id=cast.outlet_operator, code=pack, receiver_id=cast.recycler, activity="recycling"
                )
            ),
        ),
        ("recycled", lambda: app.execute(Recycle(actor_id=cast.recycler, code=pack, recovered_kg=MATERIALS))),
    ]
    for expected_state, step in steps:
        result = step()
        assert not result.replayed
        assert len(result.events) == 1 and result.events[0].startswith(f"{pack}:")
        results.append(result)
        assert state(app, pack) == expected_state

    battery = app.battery(pack)
    assert battery.vin == VIN
    assert battery.flags == []
    assert battery.handover_activity == "recycling"
    assert battery.recovered_kg == MATERIALS
    assert battery.holder_id is None and battery.responsible_id is None

    history = app.history(pack)
    assert [type(e).__name__ for e in history] == [
        "Produced",
        "Delivered",
        "Installed",
        "Removed",
        "Installed",
        "Retired",
        "Collected",
        "HandedOver",
        "Recycled",
    ]
    assert [e.originator_version for e in history] == list(range(1, 10))
    assert (history[1].actor_id, history[1].receiver_id) == (cast.manufacturer, cast.vehicle_maker)
    assert history[6].collection_point_id == cast.collection_point
    assert history[7].compliant is True and history[7].from_collection_point_id == cast.collection_point
    for stored in history:
        assert stored.occurred_at.tzinfo is not None
        assert stored.timestamp.tzinfo is not None
        assert stored.recorded_at == stored.timestamp
        assert started - timedelta(seconds=5) <= stored.timestamp <= datetime.now(UTC) + timedelta(seconds=5)
    assert [e.occurred_at for e in history[:7]] == [
        datetime(2024, 7, 15, tzinfo=CHINA_STANDARD_TIME),
        at(2024, 7, 25),
        at(2024, 8, 1),
        at(2025, 3, 1),
        at(2025, 3, 10),
        at(2026, 9, 1),
        at(2026, 10, 1),
    ]
    assert [e.timestamp for e in history] == sorted(e.timestamp for e in history)

    notification_ids = [r.notification_id for r in results]
    assert all(isinstance(n, int) for n in notification_ids)
    assert notification_ids == sorted(notification_ids)
    assert len(set(notification_ids)) == len(notification_ids)

    with pytest.raises(LifecycleViolation, match="recycled"):
        app.execute(Retire(actor_id=cast.recycler, code=pack, reason="again"))


# ------------------------------------------------------------------------------ second life
def test_a_second_life_product_made_from_two_retired_packs_lives_and_is_recycled(
    app: BatteryTrace, cast: NationalCast
) -> None:
    originals = [installed_and_retired_pack(app, cast, serial) for serial in (11, 12)]
    for original in originals:
        app.execute(
            Collect(
                actor_id=cast.outlet_operator,
                code=original,
                collection_point_id=cast.collection_point,
                reporting=Reporting(occurred_at=at(2026, 10, 1)),
            )
        )
        app.execute(
            HandOver(
                actor_id=cast.outlet_operator,
                code=original,
                receiver_id=cast.cascade_user,
                activity="cascade_use",
            )
        )
        assert state(app, original) == "handed over"
        assert app.battery(original).flags == []

    made_at = datetime.now(UTC)
    product = make_battery_code(
        "9CU", "P", "B", "01", "SECLIFE", made_at.astimezone(CHINA_STANDARD_TIME).date(), 1
    )
    result = app.cascade_reuse(
        actor_id=cast.cascade_user,
        originals=originals,
        product=ProductionSpec(
            code=product,
            rated_capacity_ah=150,
            nominal_voltage_v=200,
            energy_kwh=30,
            mass_kg=220,
            occurred_at=made_at,
        ),
    )
    assert result.events == [
        f"{product}:Produced",
        f"{originals[0]}:CascadeReused",
        f"{originals[1]}:CascadeReused",
    ]
    for original in originals:
        battery = app.battery(original)
        assert battery.state == "cascade-reused"
        assert battery.second_life_product == product
        assert names(app, original)[-1] == "CascadeReused"
    made = app.battery(product)
    assert made.derived_from == originals
    assert made.is_second_life
    assert made.manufacturer_id == cast.cascade_user and made.manufacturer_code == "9CU"

    app.execute(
        Install(
            actor_id=cast.cascade_user, code=product, site="Changsha base station 17", application="backup"
        )
    )
    assert state(app, product) == "installed"
    assert app.battery(product).holder_kind == "site"
    app.execute(Retire(actor_id=cast.cascade_user, code=product, reason="capacity below 60%"))
    assert state(app, product) == "retired"
    app.execute(
        Collect(actor_id=cast.outlet_operator, code=product, collection_point_id=cast.collection_point)
    )
    assert state(app, product) == "collected"
    app.execute(
        HandOver(actor_id=cast.outlet_operator, code=product, receiver_id=cast.recycler, activity="recycling")
    )
    assert state(app, product) == "handed over"
    app.execute(Recycle(actor_id=cast.recycler, code=product, recovered_kg=MATERIALS))
    assert state(app, product) == "recycled"
    assert names(app, product) == [
        "Produced",
        "Installed",
        "Retired",
        "Collected",
        "HandedOver",
        "Recycled",
    ]

    with pytest.raises(LifecycleViolation, match="second-life product"):
        app.execute(Recycle(actor_id=cast.recycler, code=originals[0], recovered_kg=MATERIALS))
    assert names(app, originals[0])[-1] == "CascadeReused"


def test_replaying_the_same_cascade_reuse_is_answered_not_refused(
    app: BatteryTrace, cast: NationalCast
) -> None:
    original = installed_and_retired_pack(app, cast, 21)
    app.execute(
        HandOver(
            actor_id=cast.vehicle_maker, code=original, receiver_id=cast.cascade_user, activity="cascade_use"
        )
    )
    made_at = datetime.now(UTC)
    spec = ProductionSpec(
        code=make_battery_code(
            "9CU", "P", "B", "01", "SECLIFE", made_at.astimezone(CHINA_STANDARD_TIME).date(), 2
        ),
        rated_capacity_ah=150,
        nominal_voltage_v=100,
        energy_kwh=15,
        mass_kg=110,
        occurred_at=made_at,
    )
    app.cascade_reuse(actor_id=cast.cascade_user, originals=[original], product=spec)

    again = app.cascade_reuse(actor_id=cast.cascade_user, originals=[original], product=spec)

    assert again.replayed
    assert names(app, spec.code) == ["Produced"]


# ----------------------------------------------------------------------- non-compliant handover
def test_a_handover_to_a_recycler_off_the_whitelist_is_recorded_and_flagged(
    app: BatteryTrace, cast: NationalCast
) -> None:
    pack = installed_and_retired_pack(app, cast, 31)
    app.execute(Collect(actor_id=cast.outlet_operator, code=pack, collection_point_id=cast.collection_point))

    result = app.execute(
        HandOver(
            actor_id=cast.outlet_operator, code=pack, receiver_id=cast.informal_recycler, activity="recycling"
        )
    )

    assert result.events == [f"{pack}:HandedOver"]
    battery = app.battery(pack)
    assert battery.state == "handed over"
    assert battery.holder_id == cast.informal_recycler
    assert "non-compliant handover" in battery.flags
    handover = app.history(pack)[-1]
    assert handover.compliant is False
    assert cast.informal_recycler in handover.non_compliance
    assert "not whitelisted for recycling" in handover.non_compliance


# ------------------------------------------------------------------------------- as of a date
def test_the_battery_as_it_stood_between_its_events(app: BatteryTrace, cast: NationalCast) -> None:
    pack = code("P", 41)
    app.produce(actor_id=cast.manufacturer, spec=pack_spec(41))
    deliver(app, cast, pack)
    app.execute(
        Install(
            actor_id=cast.vehicle_maker, code=pack, vin=VIN, reporting=Reporting(occurred_at=at(2024, 8, 1))
        )
    )
    app.execute(
        Remove(
            actor_id=cast.vehicle_maker,
            code=pack,
            reason="replacement",
            reporting=Reporting(occurred_at=at(2025, 3, 1)),
        )
    )
    app.execute(
        Install(
            actor_id=cast.vehicle_maker, code=pack, vin=VIN, reporting=Reporting(occurred_at=at(2025, 3, 10))
        )
    )
    app.execute(
        Retire(
            actor_id=cast.vehicle_maker,
            code=pack,
            reason="accident",
            reporting=Reporting(occurred_at=at(2026, 9, 1)),
        )
    )
    app.execute(
        Collect(
            actor_id=cast.outlet_operator,
            code=pack,
            collection_point_id=cast.collection_point,
            reporting=Reporting(occurred_at=at(2026, 10, 1)),
        )
    )

    expected = [
        (at(2024, 7, 15, 0), "produced", 1),  # the very moment of production
        (at(2024, 7, 20), "produced", 1),
        (at(2024, 7, 28), "produced", 2),  # delivered to the vehicle maker, still new
        (at(2024, 8, 1), "installed", 3),  # an event's own moment includes it
        (at(2024, 12, 31), "installed", 3),
        (at(2025, 3, 5), "removed", 4),
        (at(2025, 6, 1), "installed", 5),
        (at(2026, 9, 15), "retired", 6),
        (at(2026, 10, 15), "collected", 7),
        (datetime.now(UTC), "collected", 7),
    ]
    for moment, expected_state, expected_version in expected:
        then = app.battery_as_of(pack, moment)
        assert (str(then.state), then.version) == (expected_state, expected_version), moment
    # A naive moment is China Standard Time.
    assert app.battery_as_of(pack, datetime(2025, 3, 5, 12)).state == "removed"

    with pytest.raises(NotFound, match="did not exist yet"):
        app.battery_as_of(pack, at(2024, 7, 14, 23))
    with pytest.raises(NotFound):
        app.battery_as_of(code("P", 42), at(2026, 1, 1))


# ------------------------------------------------------------------------------- idempotency
def test_producing_the_same_battery_twice_is_answered_once(app: BatteryTrace, cast: NationalCast) -> None:
    first = app.produce(actor_id=cast.manufacturer, spec=pack_spec(51))
    second = app.produce(actor_id=cast.manufacturer, spec=pack_spec(51))

    assert not first.replayed and first.events == [f"{code('P', 51)}:Produced"]
    assert second.replayed and second.events == [] and second.notification_id is None
    assert names(app, code("P", 51)) == ["Produced"]


def test_replaying_the_production_of_a_pack_with_components_is_answered(
    app: BatteryTrace, cast: NationalCast
) -> None:
    modules = (module_spec(52).code, module_spec(53).code)
    for serial in (52, 53):
        app.produce(actor_id=cast.manufacturer, spec=module_spec(serial))
    spec = pack_spec(54, components=modules)
    app.produce(actor_id=cast.manufacturer, spec=spec)

    again = app.produce(actor_id=cast.manufacturer, spec=spec)

    assert again.replayed
    assert names(app, spec.code) == ["Produced"]
    assert names(app, modules[0]) == ["Produced", "AssembledInto"]


def test_the_same_code_with_a_different_mass_is_refused_naming_the_field(
    app: BatteryTrace, cast: NationalCast
) -> None:
    app.produce(actor_id=cast.manufacturer, spec=pack_spec(55, mass_kg=110))

    with pytest.raises(AlreadyExists) as refused:
        app.produce(actor_id=cast.manufacturer, spec=pack_spec(55, mass_kg=111))

    assert "mass_kg" in refused.value.message
    assert code("P", 55) in refused.value.message
    assert "rated_capacity_ah" not in refused.value.message
    assert names(app, code("P", 55)) == ["Produced"]
    assert app.battery(code("P", 55)).mass_kg == 110


def test_a_collection_replayed_with_the_same_request_id_is_recorded_once(
    app: BatteryTrace, cast: NationalCast
) -> None:
    pack = installed_and_retired_pack(app, cast, 56)

    def scan() -> WriteResult:
        return app.execute(
            Collect(
                actor_id=cast.outlet_operator,
                code=pack,
                collection_point_id=cast.collection_point,
                reporting=Reporting(occurred_at=at(2026, 10, 1), request_id="scan-0001"),
            )
        )

    first, second = scan(), scan()

    assert first.events == [f"{pack}:Collected"] and not first.replayed
    assert second.replayed and second.events == []
    assert names(app, pack).count("Collected") == 1
    assert app.history(pack)[-1].request_id == "scan-0001"


def test_execute_answers_from_what_it_wrote(app: BatteryTrace, cast: NationalCast) -> None:
    """The battery as saved and its new typed events come back with the write: no second read.
    A replay records nothing and is answered with the battery as it was saved."""
    pack = installed_and_retired_pack(app, cast, 57)
    handover = HandOver(
        actor_id=cast.vehicle_maker,
        code=pack,
        receiver_id=cast.recycler,
        activity="recycling",
        reporting=Reporting(request_id="handover-57"),
    )

    first, again = app.execute(handover), app.execute(handover)

    (event,) = first.recorded
    assert isinstance(event, Battery.HandedOver) and event.compliant and event.receiver_id == cast.recycler
    assert first.battery(pack.lower()).holder_id == cast.recycler
    assert first.battery(pack).version == app.battery(pack).version
    assert again.replayed and again.recorded == () and again.battery(pack).holder_id == cast.recycler
    with pytest.raises(ValueError, match="is not"):
        app.execute(
            Retire(actor_id=cast.recycler, code=pack, reason="x"), actor=app.participant(cast.vehicle_maker)
        )


# --------------------------------------------------------------------------- authorisation
def test_another_manufacturer_cannot_produce_under_3ca(app: BatteryTrace, cast: NationalCast) -> None:
    with pytest.raises(NotAuthorised) as refused:
        app.produce(actor_id=cast.other_manufacturer, spec=pack_spec(61))

    assert "3CA is not one of yours" in refused.value.message
    assert cast.manufacturer not in refused.value.message  # who owns it is not the caller's to know
    assert cast.manufacturer in (refused.value.detail or "")  # the server log has it
    assert not app.exists(code("P", 61))


def test_the_vehicle_maker_cannot_collect_at_an_outlet_it_does_not_operate(
    app: BatteryTrace, cast: NationalCast
) -> None:
    pack = installed_and_retired_pack(app, cast, 62)

    with pytest.raises(NotAuthorised) as refused:
        app.execute(
            Collect(actor_id=cast.vehicle_maker, code=pack, collection_point_id=cast.collection_point)
        )

    assert "does not operate collection point" in refused.value.message
    assert cast.outlet_operator not in refused.value.message
    assert state(app, pack) == "retired"
    assert "Collected" not in names(app, pack)


# ------------------------------------------------------------------------------ persistence
def test_events_outlive_the_application_that_wrote_them(
    app: BatteryTrace, cast: NationalCast, database_url: str
) -> None:
    pack = installed_and_retired_pack(app, cast, 71)
    written = [(e.originator_version, type(e).__name__, e.occurred_at) for e in app.history(pack)]
    app.close()

    reopened = BatteryTrace(Settings(database_url=database_url))
    try:
        read = [(e.originator_version, type(e).__name__, e.occurred_at) for e in reopened.history(pack)]
        assert read == written
        assert [n for _, n, _ in read] == ["Produced", "Delivered", "Installed", "Retired"]
        assert reopened.battery(pack).state == "retired"
        assert reopened.participant(cast.recycler).is_whitelisted(
            "recycling", datetime.now(CHINA_STANDARD_TIME).date()
        )
        assert reopened.code_owner("3CA") == cast.manufacturer
        # The reopened store accepts writes that follow on from the old ones.
        reopened.execute(
            Collect(actor_id=cast.outlet_operator, code=pack, collection_point_id=cast.collection_point)
        )
        assert reopened.battery(pack).state == "collected"
    finally:
        reopened.close()


# ------------------------------------------------------------------------------ participants
def test_registering_the_same_credit_code_twice_is_refused(app: BatteryTrace, cast: NationalCast) -> None:
    with pytest.raises(AlreadyExists, match="already registered"):
        app.register_participant(
            actor_id=cast.regulator, credit_code=cast.recycler, name="Ganzhou Again", roles=["recycler"]
        )
    assert app.participant(cast.recycler).name == "Ganzhou Recycling"


def test_a_second_claim_on_3ca_is_refused_and_leaves_nothing_half_written(
    app: BatteryTrace, cast: NationalCast
) -> None:
    with pytest.raises(AlreadyExists) as refused:
        app.register_participant(
            actor_id=cast.regulator,
            credit_code=NEW_ENTERPRISE,
            name="Copycat Cells",
            roles=["manufacturer"],
            manufacturer_codes=["3CZ", "3CA"],
        )

    assert "3CA" in refused.value.message and cast.manufacturer in refused.value.message
    assert not app.exists(NEW_ENTERPRISE)
    assert app.code_owner("3CZ") is None  # the free code in the same request was not claimed either
    assert app.code_owner("3CA") == cast.manufacturer
    assert NEW_ENTERPRISE not in [p.id for p in app.participants()]
    # The refused request can be corrected and registered afterwards.
    app.register_participant(
        actor_id=cast.regulator,
        credit_code=NEW_ENTERPRISE,
        name="Copycat Cells",
        roles=["manufacturer"],
        manufacturer_codes=["3CZ"],
    )
    assert app.code_owner("3CZ") == NEW_ENTERPRISE


def test_a_manufacturer_code_listed_twice_in_one_registration(app: BatteryTrace, cast: NationalCast) -> None:
    try:
        app.register_participant(
            actor_id=cast.regulator,
            credit_code=NEW_ENTERPRISE,
            name="Careless Cells",
            roles=["manufacturer"],
            manufacturer_codes=["7XX", "7XX"],
        )
    except InvalidInput as error:  # refusing it plainly is fine too
        assert "7XX" in error.message
        assert not app.exists(NEW_ENTERPRISE)
    else:
        assert app.participant(NEW_ENTERPRISE).manufacturer_codes == ["7XX"]
        assert app.code_owner("7XX") == NEW_ENTERPRISE


def test_only_one_regulator_bootstraps_itself(app: BatteryTrace) -> None:
    regulator = NationalCast().regulator
    with pytest.raises(NotAuthorised, match="first regulator"):
        app.register_participant(
            actor_id=None, credit_code=NEW_ENTERPRISE, name="Self-made", roles=["recycler"]
        )
    with pytest.raises(NotAuthorised, match="first regulator"):
        app.register_participant(
            actor_id=None, credit_code=regulator, name="Both", roles=["regulator", "recycler"]
        )
    assert not app.exists(NEW_ENTERPRISE) and not app.exists(regulator)

    app.register_participant(actor_id=None, credit_code=regulator, name="MIIT", roles=["regulator"])
    assert [p.id for p in app.regulators()] == [regulator]

    second = credit_code("11100000000013135")
    with pytest.raises(NotAuthorised, match="already exists"):
        app.register_participant(actor_id=None, credit_code=second, name="Rival", roles=["regulator"])
    with pytest.raises(NotAuthorised, match="already exists"):
        app.register_participant(
            actor_id=None, credit_code=NEW_ENTERPRISE, name="Self-made", roles=["recycler"]
        )
    assert not app.exists(second) and not app.exists(NEW_ENTERPRISE)
    # Registered by the regulator, the same enterprise is accepted.
    app.register_participant(
        actor_id=regulator, credit_code=NEW_ENTERPRISE, name="Self-made", roles=["recycler"]
    )
    assert app.participant(NEW_ENTERPRISE).registered_by == regulator
