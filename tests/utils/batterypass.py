"""Battery Pass 1.2.0 test helpers: the vendored aspect schemas (``tests/data/batterypass``, see its
README) with the ONE documented list of corrections to their published defects, validators with
the format checks live, and a model's data and a readings report as a maker and a holder send them.

Corrections never weaken a check: each replaces a rule that is wrong by the rule its authors meant
(said in ``why``), and a field a reader's tier withholds is the only ``required`` ever dropped (the
same paths the passport lists under ``withheld``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

from batterytrace.trace.passport.build import ASPECTS

DATA = Path(__file__).parents[1] / "data" / "batterypass"


@dataclass(frozen=True)
class Override:
    aspect: str
    pointer: str  # JSON pointer into the schema
    value: Any
    why: str


OVERRIDES = (
    Override(
        "GeneralProductInformation",
        "/components/schemas/EmailAddressTrait/pattern",
        r"^[\w.-]+@[\w.-]+\.[A-Za-z]{2,}$",
        "the published pattern lost its backslashes (^[w.-]+@[w.-]+.[A-Za-z]{2,}$ accepts only the letter "
        "w, dots and dashes before the @); restored as the Circularity schema's EmailAddressOfSupplierTrait "
        "has it",
    ),
    Override(
        "GeneralProductInformation",
        "/components/schemas/WarrentyPeriod/pattern",
        r"^P(?=\d)(\d+Y)?(\d+M)?$",
        "the warranty period is generated as xsd:gMonth (--06, a month of the year), which cannot say a "
        "period; an ISO 8601 duration in years and months (P96M) is what the attribute means",
    ),
    Override(
        "GeneralProductInformation",
        "/components/schemas/ProductPassportIdentifierTrait/pattern",
        r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]:\S+$",
        "the published pattern allows lower-case letters and digits only in a two-part URN; RFC 8141 "
        "URNs are case-sensitive in their specific string (the battery code is upper case)",
    ),
    Override(
        "GeneralProductInformation",
        "/required",
        [
            "productIdentifier",
            "batteryPassportIdentifier",
            "batteryCategory",
            "manufacturerInformation",
            "manufacturingDate",
            "batteryStatus",
            "batteryMass",
            "manufacturingPlace",
            "operatorInformation",
            "warrentyPeriod",
        ],
        "puttingIntoService is required, but a battery not yet put into service (in stock, delivered) "
        "has no such date; the longlist (attribute 7) has it as an optional attribute with no 'x'. It is "
        "given as soon as the battery is installed or swapped into a vehicle; every other field stays "
        "required",
    ),
)


def _pointer_set(document: dict[str, Any], pointer: str, value: Any) -> None:
    *parents, last = pointer.strip("/").split("/")
    node = document
    for part in parents:
        node = node[part]
    assert last in node, f"override of a rule the schema does not have: {pointer}"
    node[last] = value


@cache
def schema(aspect: str) -> dict[str, Any]:
    """The vendored schema of ``aspect`` with the overrides applied."""
    document = json.loads((DATA / f"{aspect}-schema.json").read_text("utf-8"))
    for override in OVERRIDES:
        if override.aspect == aspect:
            _pointer_set(document, override.pointer, override.value)
    return document


def _date_time(value: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with rfc3339-validator installed)."""
    if not isinstance(value, str):
        return True
    if "T" not in value:
        return False
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


@cache
def format_checker() -> FormatChecker:
    checker = FormatChecker()  # every format jsonschema can check here (uri: rfc3987)
    checker.checks("date-time", raises=ValueError)(_date_time)
    assert "uri" in checker.checkers, "rfc3987 is needed for the uri checks"
    return checker


def _object_at(document: dict[str, Any], node: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """The schema object that declares the properties at ``parts`` (following $ref and allOf)."""

    def resolved(candidate: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in candidate or ("allOf" in candidate and "properties" not in candidate):
            if "$ref" in candidate:
                path = candidate["$ref"].lstrip("#/").split("/")
                candidate = document
                for part in path:
                    candidate = candidate[part]
            else:
                candidate = candidate["allOf"][0]
        return candidate

    node = resolved(node)
    for part in parts:
        node = resolved(node["properties"][part])
    return node


def validator(aspect: str, withheld: tuple[str, ...] = ()) -> Draft4Validator:
    """A validator of ``aspect``; fields a tier withholds (``withheld``) are no longer required."""
    document = schema(aspect)
    if withheld:
        document = copy.deepcopy(document)
        for path in withheld:
            if "[" in path:
                continue  # items of a list left out: nothing required is missing
            *parents, last = path.split(".")
            node = _object_at(document, document, parents)
            node["required"] = [name for name in node.get("required", []) if name != last]
    return Draft4Validator(document, format_checker=format_checker())


def aspect_errors(passport: dict[str, Any]) -> list[str]:
    """Every schema error of every aspect in a passport (none expected)."""
    by_urn = {urn: name for name, urn in ASPECTS.items()}
    errors = []
    for urn, body in passport["aspects"].items():
        name = by_urn[urn]
        withheld = tuple(passport["withheld"].get(urn, ()))
        errors += [
            f"{name} {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in validator(name, withheld).iter_errors(body)
        ]
    return errors


# --------------------------------------------------------------------------- what is posted
def model_body(model_code: str = "3CAPB12") -> dict[str, Any]:
    """A lithium iron phosphate EV pack model's passport data, as its manufacturer posts it."""
    site = "https://www.ningde-cells.example.com"
    return {
        "model_code": model_code,
        "category": "ev",
        "manufacturer": {
            "emailAddress": "passport@ningde-cells.example.com",
            "webAddress": site,
            "postalAddress": {
                "addressCountry": "CN",
                "postalCode": "352100",
                "streetAddress": "2 Xingang Road, Jiaocheng District, Ningde, Fujian",
            },
        },
        "operator": {
            "contactName": "Ningde Cells Europe GmbH",
            "identifier": "DE-HRB-123456",
            "emailAddress": "eu-operator@ningde-cells.example.com",
            "webAddress": f"{site}/eu",
            "postalAddress": {
                "addressCountry": "DE",
                "postalCode": "99334",
                "streetAddress": "Am Erfurter Kreuz 1",
            },
        },
        "manufacturing_place": {
            "addressCountry": "CN",
            "postalCode": "352100",
            "streetAddress": "Plant 3, 2 Xingang Road, Ningde, Fujian",
        },
        "warranty_months": 96,
        "carbon_footprint": {
            "batteryCarbonFootprint": 61.3,
            "carbonFootprintPerLifecycleStage": [
                {"lifecycleStage": "RawMaterialExtraction", "carbonFootprint": 38.2},
                {"lifecycleStage": "MainProduction", "carbonFootprint": 19.6},
                {"lifecycleStage": "Distribution", "carbonFootprint": 1.9},
                {"lifecycleStage": "Recycling", "carbonFootprint": 1.6},
            ],
            "carbonFootprintPerformanceClass": "B",
            "carbonFootprintStudy": f"{site}/passport/3CAPB12/carbon-footprint-study.pdf",
            "absoluteCarbonFootprint": 4210.0,
        },
        "supply_chain_due_diligence": {
            "supplyChainDueDiligenceReport": f"{site}/passport/due-diligence-2025.pdf",
            "thirdPartyAussurances": f"{site}/passport/rmi-assurance.pdf",
        },
        "material_composition": {
            "batteryChemistry": {"shortName": "LFP", "clearName": "lithium iron phosphate"},
            "batteryMaterials": [
                {
                    "batteryMaterialLocation": {"componentName": "Cathode"},
                    "batteryMaterialIdentifier": "15365-14-7",
                    "batteryMaterialName": "Lithium iron phosphate",
                    "batteryMaterialMass": 38.5,
                    "isCriticalRawMaterial": False,
                },
                {
                    "batteryMaterialLocation": {"componentName": "Anode"},
                    "batteryMaterialIdentifier": "7782-42-5",
                    "batteryMaterialName": "Natural graphite",
                    "batteryMaterialMass": 17.2,
                    "isCriticalRawMaterial": True,
                },
                {
                    "batteryMaterialLocation": {"componentName": "Cathode"},
                    "batteryMaterialIdentifier": "7439-93-2",
                    "batteryMaterialName": "Lithium",
                    "batteryMaterialMass": 1.6,
                    "isCriticalRawMaterial": True,
                },
            ],
            "hazardousSubstances": [
                {
                    "hazardousSubstanceClass": "AcuteToxicity",
                    "hazardousSubstanceName": "Lithium hexafluorophosphate",
                    "hazardousSubstanceConcentration": 1.2,
                    "hazardousSubstanceImpact": ["Releases hydrogen fluoride in contact with water"],
                    "hazardousSubstanceLocation": {"componentName": "Electrolyte"},
                    "hazardousSubstanceIdentifier": "21324-40-3",
                }
            ],
        },
        "circularity": {
            "dismantlingAndRemovalInformation": [
                {
                    "documentType": "DismantlingManual",
                    "mimeType": "application/pdf",
                    "documentURL": f"{site}/passport/3CAPB12/dismantling.pdf",
                }
            ],
            "sparePartSources": [
                {
                    "nameOfSupplier": "Ningde Cells After-Sales",
                    "addressOfSupplier": {
                        "addressCountry": "CN",
                        "postalCode": "352100",
                        "streetAddress": "2 Xingang Road, Ningde",
                    },
                    "emailAddressOfSupplier": "parts@ningde-cells.example.com",
                    "supplierWebAddress": f"{site}/parts",
                    "components": [{"partName": "Module 12S", "partNumber": "NC-M12S-280"}],
                }
            ],
            "recycledContent": [
                {"recycledMaterial": "Lithium", "preConsumerShare": 4.0, "postConsumerShare": 2.5},
                {"recycledMaterial": "Nickel", "preConsumerShare": 0.0, "postConsumerShare": 0.0},
                {"recycledMaterial": "Cobalt", "preConsumerShare": 0.0, "postConsumerShare": 0.0},
                {"recycledMaterial": "Lead", "preConsumerShare": 0.0, "postConsumerShare": 0.0},
            ],
            "safetyMeasures": {
                "safetyInstructions": f"{site}/passport/3CAPB12/safety.pdf",
                "extinguishingAgent": ["Water (large quantities)", "Class D powder"],
            },
            "endOfLifeInformation": {
                "wastePrevention": f"{site}/eol/prevention",
                "separateCollection": f"{site}/eol/collection",
                "informationOnCollection": f"{site}/eol/second-life-and-recycling",
            },
            "renewableContent": 12.0,
        },
        "labeling": {
            "declarationOfConformity": f"{site}/passport/3CAPB12/eu-doc.pdf",
            "resultOfTestReport": f"{site}/passport/3CAPB12/test-reports.pdf",
            "labels": [
                {
                    "labelingSubject": "SeparateCollection",
                    "labelingSymbol": f"{site}/labels/crossed-out-bin.svg",
                    "labelingMeaning": {"en": "Collect separately", "zh": "单独收集"},
                }
            ],
        },
        "technical_properties": {
            "originalPowerCapability": [{"atSoC": 80, "powerCapabilityAt": 150000}],
            "ratedMaximumPower": 160000,
            "powerCapabilityRatio": 10.5,
            "expectedNumberOfCycles": 3000,
            "initialSelfDischarge": 2.0,
            "roundtripEfficiency": 95.0,
            "initialInternalResistance": [{"ohmicResistance": 0.065, "batteryComponent": "pack"}],
            "expectedLifetime": 10,
            "minimumVoltage": 80.0,
            "maximumVoltage": 116.8,
            "capacityThresholdForExhaustion": 70.0,
            "lifetimeReferenceTest": f"{site}/passport/3CAPB12/cycle-life-test.pdf",
            "cRateLifeCycleTest": 0.5,
            "temperatureRangeIdleState": -20.0,
        },
        "round_trip_efficiency_at_50pct_cycle_life": 92.0,
    }


def readings_body(**changes: Any) -> dict[str, Any]:
    """A holder's report of a battery's condition."""
    body = {
        "state_of_certified_energy_pct": 91.5,
        "capacity_fade_pct": 8.5,
        "remaining_capacity_ah": 137.3,
        "remaining_energy_kwh": 14.0,
        "state_of_charge_pct": 64.0,
        "full_cycles": 412,
        "energy_throughput_kwh": 6180.0,
        "capacity_throughput_ah": 61800.0,
        "time_extreme_high_temp_h": 12.5,
        "time_extreme_low_temp_h": 40.0,
        "time_extreme_high_temp_charging_h": 1.5,
        "time_extreme_low_temp_charging_h": 3.0,
        "power_fade_pct": 4.0,
        "round_trip_efficiency_fade_pct": 1.5,
        "remaining_round_trip_efficiency_pct": 93.5,
        "current_self_discharge_rate_pct": 2.4,
        "internal_resistance_increase_pct": 12.0,
        "remaining_power_capability": [{"at_soc_pct": 80, "power_w": 141000}],
        "negative_events": ["deep discharge to 0 % SoC, 2025-12-03"],
    }
    body.update(changes)
    return body
