"""One battery's EU battery passport: the model's data ⊕ the battery's own events ⊕ its latest
readings, shaped as the Battery Pass 1.2.0 aspects and cut to what the reader may see.

Each aspect is keyed by its SAMM URN (``urn:samm:io.BatteryPass.<namespace>:1.2.0#<Aspect>``) and
holds exactly the fields of that aspect's JSON schema, so a partner validates it against the
published schema (``tests/data/batterypass``). From the battery's events: the identifier (its
GB/T 34014 code), the manufacturing date, the date put into service (its first installation, or
swap into a vehicle), the mass, rated capacity and energy, nominal voltage and the status
(``events/passport_status.py``). Access: ``events/passport_access.py``. Times are China Standard
Time with their offset.

``PerformanceAndDurability`` needs the battery's condition, which only its holder's readings give:
until the first report it is left out and ``missing`` says why, rather than inventing values.

Beside the aspects (no aspect of the data model has a place for it, so it is a member of the
service's own, like ``links``), ``ledger`` names the tamper-evidence ledger's leaf of the
battery's last event (``version``, the leaf's ``index`` and ``sha256``), whose record chains every
earlier one, the earliest signed checkpoint covering it (``checkpoint``, null until one is signed)
and where the evidence is asked for: what a holder needs to have the history the passport
summarises proven. Absent while the ledger has not logged that event yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from batterytrace.events.battery import Battery
from batterytrace.events.battery_model import BatteryModel, model_code_of
from batterytrace.events.battery_readings import BatteryReadings
from batterytrace.events.errors import DomainError, NotFound
from batterytrace.events.participant import Participant
from batterytrace.events.passport_access import Tier, cut
from batterytrace.events.passport_status import WITHOUT_PASSPORT, first_life_use, passport_status
from batterytrace.events.zone import in_china_time
from batterytrace.projections.database import read_session
from batterytrace.trace.ledger.leaf_hashes import leaf_reader
from batterytrace.trace.ledger.reading import covering_checkpoint
from batterytrace.trace.passport.service import reader_tier, readings_of, require_model
from batterytrace.trace.qr import resolver_url

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace

VERSION = "1.2.0"
# aspect name (its schema's file name) -> the namespace of its SAMM URN
NAMESPACES = {
    "GeneralProductInformation": "GeneralProductInformation",
    "CarbonFootprintForBatteries": "CarbonFootprint",
    "SupplyChainDueDiligence": "SupplyChainDueDiligence",
    "MaterialComposition": "MaterialComposition",
    "Circularity": "Circularity",
    "PerformanceAndDurability": "Performance",
    "Labeling": "Labels",
}
# aspect name -> its SAMM URN, e.g. urn:samm:io.BatteryPass.Labels:1.2.0#Labeling
ASPECTS = {name: f"urn:samm:io.BatteryPass.{space}:{VERSION}#{name}" for name, space in NAMESPACES.items()}
TIER_LABELS = {
    Tier.PUBLIC: "public",
    Tier.LEGITIMATE_INTEREST: "legitimate_interest",
    Tier.AUTHORITIES: "authorities",
}
PUT_INTO_SERVICE = ("Installed", "SwappedIn")


class PassportEnded(DomainError):
    """The battery was recycled: its passport has ceased to exist (Art. 77(7))."""

    kind = "passport-ended"


def passport_id(code: str) -> str:
    return f"urn:batterytrace:{code}"


def _time(moment: datetime) -> str:
    return in_china_time(moment).isoformat()


def battery_passport(
    app: BatteryTrace, code: str, caller: Participant | None, *, tier: Tier | None = None
) -> dict[str, Any]:
    """The passport of battery ``code`` as ``caller`` (None: the public) may read it, or in the
    given ``tier`` (the operator's command line reads as the authorities do)."""
    battery = app.battery(code)
    history = app.history(battery.code)
    if battery.state in WITHOUT_PASSPORT:
        raise NotFound(
            f"battery {battery.code} is built into pack {battery.pack}; the passport is the pack's",
            key="passport.in_pack",
            params={"code": battery.code, "pack": battery.pack},
        )
    use = first_life_use((type(e).__name__, vars(e)) for e in history)
    status = passport_status(battery.state, second_life=battery.is_second_life, use=use)
    if status is None:
        recycled = next(e for e in reversed(history) if type(e).__name__ == "Recycled")
        day = in_china_time(recycled.occurred_at).date().isoformat()
        raise PassportEnded(
            f"battery {battery.code} was recycled on {day}: its passport has ended (Regulation (EU) "
            "2023/1542 Art. 77(7))",
            key="passport.ended",
            params={"code": battery.code, "day": day},
        )
    model = require_model(app, model_code_of(battery.code))
    tier = tier if tier is not None else reader_tier(app, battery.code, caller, history)
    maker = app.participant(battery.manufacturer_id)
    readings = readings_of(app, battery.code)
    full = aspects(battery, history, model, maker, readings, status)
    shown: dict[str, Any] = {}
    withheld: dict[str, list[str]] = {}
    for name, body in full.items():
        shown[ASPECTS[name]], hidden = cut(name, body, tier)
        if hidden:
            withheld[ASPECTS[name]] = hidden
    links: dict[str, Any] = {}
    if battery.derived_from:
        links["repurposedFrom"] = [resolver_url(app.settings.public_url, c) for c in battery.derived_from]
    if battery.second_life_product:
        links["repurposedInto"] = resolver_url(app.settings.public_url, battery.second_life_product)
    missing = (
        {} if readings else {ASPECTS["PerformanceAndDurability"]: "no readings reported by its holder yet"}
    )
    ledger = ledger_of(app, battery.code, history[-1].originator_version)
    return {
        "passportIdentifier": passport_id(battery.code),
        "battery": battery.code,
        "url": resolver_url(app.settings.public_url, battery.code),
        "model": model.model_code,
        "status": status,
        "dataModel": f"Battery Pass {VERSION} (DIN DKE SPEC 99100)",
        "access": TIER_LABELS[tier],
        "links": links,
        "aspects": shown,
        "withheld": withheld,
        "missing": missing,
        **({"ledger": ledger} if ledger is not None else {}),
    }


def ledger_of(app: BatteryTrace, code: str, version: int) -> dict[str, Any] | None:
    """The ledger's leaf of the battery's event ``version`` and the checkpoint covering it; None
    while that event is not logged."""
    reader = leaf_reader(app)
    leaf = reader.by_stream([(code, version)]).get((code, version))
    if leaf is None:
        return None
    with read_session(reader.engine) as connection:
        checkpoint = covering_checkpoint(connection, code, version)
    base = app.settings.public_url.rstrip("/")
    return {
        "version": version,
        "index": leaf.index,
        "sha256": leaf.sha256,
        "checkpoint": None
        if checkpoint is None
        else {"treeSize": checkpoint.tree_size, "signedAt": _time(checkpoint.signed_at)},
        "evidence": f"{base}/api/v1/batteries/{code}/evidence",
    }


def as_json_ld(passport: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The passport as a JSON-LD document: its resolver URL as ``@id``, its own terms under the
    service's vocabulary, each aspect under its SAMM URN (an IRI already)."""
    return {
        "@context": {"@vocab": f"{public_url.rstrip('/')}/voc/passport#"},
        "@id": passport["url"],
        "@type": "BatteryPassport",
        **passport,
    }


def aspects(
    battery: Battery,
    history: list[Any],
    model: BatteryModel,
    maker: Participant,
    readings: BatteryReadings | None,
    status: str,
) -> dict[str, dict[str, Any]]:
    """Every aspect in full (the authorities' view)."""
    data = model.data
    found = {
        "GeneralProductInformation": _general(battery, history, data, maker, status),
        "CarbonFootprintForBatteries": data["carbon_footprint"],
        "SupplyChainDueDiligence": data["supply_chain_due_diligence"],
        "MaterialComposition": data["material_composition"],
        "Circularity": data["circularity"],
        "Labeling": data["labeling"],
    }
    if readings is not None and readings.measured_at is not None:
        found["PerformanceAndDurability"] = _performance(battery, data, readings)
    return found


def _contact(given: dict[str, Any], maker: Participant) -> dict[str, Any]:
    return {
        "contactName": given.get("contactName") or getattr(maker, "name_en", None) or maker.name,
        "identifier": given.get("identifier") or maker.id,
        "emailAddress": given["emailAddress"],
        "webAddress": given["webAddress"],
        "postalAddress": given["postalAddress"],
    }


def _general(
    battery: Battery, history: list[Any], data: dict[str, Any], maker: Participant, status: str
) -> dict[str, Any]:
    general = {
        "productIdentifier": battery.code,
        "batteryPassportIdentifier": passport_id(battery.code),
        "batteryCategory": data["category"],
        "manufacturerInformation": _contact(data["manufacturer"], maker),
        "manufacturingDate": _time(battery.produced_at),
        "batteryStatus": status,
        "batteryMass": battery.mass_kg,
        "manufacturingPlace": data["manufacturing_place"],
        "operatorInformation": _contact(data.get("operator") or data["manufacturer"], maker),
        "warrentyPeriod": f"P{data['warranty_months']}M",
    }
    into_service = next((e for e in history if type(e).__name__ in PUT_INTO_SERVICE), None)
    if into_service is not None:
        general["puttingIntoService"] = _time(into_service.occurred_at)
    return general


def _performance(battery: Battery, data: dict[str, Any], readings: BatteryReadings) -> dict[str, Any]:
    v = readings.latest
    assert readings.measured_at is not None
    at = _time(readings.measured_at)

    def stamped(name: str, value: float) -> dict[str, Any]:
        return {name: value, "lastUpdate": at}

    technical = {
        **data["technical_properties"],
        "ratedCapacity": battery.rated_capacity_ah,
        "nominalVoltage": battery.nominal_voltage_v,
        "ratedEnergy": battery.energy_kwh,
    }
    initial_self_discharge = data["technical_properties"]["initialSelfDischarge"]
    condition = {
        "energyThroughput": v["energy_throughput_kwh"],
        "capacityThroughput": stamped("capacityThroughputValue", v["capacity_throughput_ah"]),
        "numberOfFullCycles": stamped("numberOfFullCyclesValue", v["full_cycles"]),
        "stateOfCertifiedEnergy": stamped("stateOfCertifiedEnergyValue", v["state_of_certified_energy_pct"]),
        "capacityFade": stamped("capacityFadeValue", v["capacity_fade_pct"]),
        "remainingEnergy": stamped("remainingEnergyalue", v["remaining_energy_kwh"]),  # the schema's spelling
        "remainingCapacity": stamped("remainingCapacityValue", v["remaining_capacity_ah"]),
        "negativeEvents": [
            {"negativeEvent": e["negativeEvent"], "lastUpdate": _time(datetime.fromisoformat(e["at"]))}
            for e in readings.negative_events
        ],
        "temperatureInformation": {
            "timeExtremeHighTemp": v["time_extreme_high_temp_h"],
            "timeExtremeLowTemp": v["time_extreme_low_temp_h"],
            "timeExtremeHighTempCharging": v["time_extreme_high_temp_charging_h"],
            "timeExtremeLowTempCharging": v["time_extreme_low_temp_charging_h"],
            "lastUpdate": at,
        },
        "remainingPowerCapability": [
            {
                "remainingPowerCapabilityValue": {
                    "atSoC": soc,
                    "powerCapabilityAt": power,
                    "rPCLastUpdated": at,
                },
                "lastUpdate": at,
            }
            for soc, power in readings.remaining_power_capability
        ],
        "powerFade": v["power_fade_pct"],
        "roundTripEfficiencyFade": v["round_trip_efficiency_fade_pct"],
        "evolutionOfSelfDischarge": {
            "evolutionOfSelfDischargeEntityValue": round(
                v["current_self_discharge_rate_pct"] - initial_self_discharge, 6
            )
        },
        "currentSelfDischargingRate": stamped(
            "currentSelfDischargingRateEntity", v["current_self_discharge_rate_pct"]
        ),
        "internalResistanceIncrease": [
            {
                "internalResistanceIncreaseValue": v["internal_resistance_increase_pct"],
                "batteryComponent": "pack" if battery.level == "pack" else battery.level,
                "lastUpdate": at,
            }
        ],
        "roundTripEfficiencyat50PerCentCycleLife": data["round_trip_efficiency_at_50pct_cycle_life"],
        "remainingRoundTripEnergyEfficiency": stamped(
            "remainingRoundTripEnergyEfficiencyValue", v["remaining_round_trip_efficiency_pct"]
        ),
        "stateOfCharge": stamped("stateOfChargeValue", v["state_of_charge_pct"]),
    }
    return {"batteryTechicalProperties": technical, "batteryCondition": condition}
