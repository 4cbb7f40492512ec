"""A small national cast of participants for tests: who is who, registered the way users do."""

from __future__ import annotations

from dataclasses import dataclass

from batterytrace.events.credit_code import credit_code_check_character
from batterytrace.trace.application import BatteryTrace


def credit_code(first17: str) -> str:
    """A valid Unified Social Credit Code from its first 17 characters."""
    return first17 + credit_code_check_character(first17)


@dataclass(frozen=True)
class NationalCast:
    regulator: str = credit_code("11100000000013127")
    manufacturer: str = credit_code("91350900MA2YE0001")  # owns 3CA and 3CB
    other_manufacturer: str = credit_code("91440300MA5F00002")  # owns 4BY
    vehicle_maker: str = credit_code("91440300MA5F00003")
    outlet_operator: str = credit_code("91110105MA0000004")
    dismantler: str = credit_code("91320500MA1000005")
    recycler: str = credit_code("91360700MA3500006")  # whitelisted for recycling
    informal_recycler: str = credit_code("91360700MA3500007")  # not whitelisted
    cascade_user: str = credit_code("91430100MA4L00008")  # whitelisted for cascade use, owns 9CU
    swap_operator: str = credit_code("91440300MA5F00009")  # not registered by register_cast
    collection_point: str = "CP-110105-0001"
    other_collection_point: str = "CP-440305-0001"  # operated by the vehicle maker


def register_cast(app: BatteryTrace) -> NationalCast:
    cast = NationalCast()
    app.register_participant(
        actor_id=None, credit_code=cast.regulator, name="MIIT traceability", roles=["regulator"]
    )

    def add(code: str, name: str, roles: list[str], mfr: list[str] | None = None) -> None:
        app.register_participant(
            actor_id=cast.regulator,
            credit_code=code,
            name=name,
            roles=roles,
            manufacturer_codes=mfr,
        )

    add(cast.manufacturer, "Ningde Cells Co.", ["manufacturer"], ["3CA", "3CB"])
    add(cast.other_manufacturer, "Shenzhen Packs Co.", ["manufacturer"], ["4BY"])
    add(cast.vehicle_maker, "Shenzhen Motors", ["vehicle_maker", "outlet_operator"])
    add(cast.outlet_operator, "Beijing Green Outlets", ["outlet_operator"])
    add(cast.dismantler, "Suzhou ELV Dismantling", ["dismantler"])
    add(cast.recycler, "Ganzhou Recycling", ["recycler"])
    add(cast.informal_recycler, "Backstreet Workshop", ["recycler"])
    add(cast.cascade_user, "Changsha Second Life", ["cascade_user"], ["9CU"])
    app.grant_whitelist(actor_id=cast.regulator, participant_id=cast.recycler, activity="recycling")
    app.grant_whitelist(actor_id=cast.regulator, participant_id=cast.cascade_user, activity="cascade_use")
    app.register_collection_point(
        actor_id=cast.regulator,
        point_id=cast.collection_point,
        operator_id=cast.outlet_operator,
        name="Chaoyang collection outlet",
        kind="collection",
        capacity_kg=5000,
        address="1 Battery Road, Chaoyang, Beijing",
        division_code="110105",
        latitude=39.92,
        longitude=116.44,
    )
    app.register_collection_point(
        actor_id=cast.vehicle_maker,
        point_id=cast.other_collection_point,
        operator_id=cast.vehicle_maker,
        name="Nanshan service outlet",
        kind="central_storage",
        capacity_kg=30000,
        address="8 Keji Road, Nanshan, Shenzhen",
        division_code="440305",
    )
    return cast
