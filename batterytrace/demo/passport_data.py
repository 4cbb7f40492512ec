"""The demo makers' EU battery passport data: one body per battery model, as a maker's passport
tooling would post it (``POST /api/v1/models``).

Kept apart from the posting (``passports.py``) for the same reason as ``parts.py``: the numbers a
reviewer may question sit together with the reason for each. Values follow the pack's own design
(its chemistry, cells in series, capacity and kg per kWh from ``parts.PackModel``) and vary per
maker and model from a random stream of the model's own (``{seed}/passport/{model code}``), so a
model's data does not depend on which other models exist or in which order they are posted.

Addresses are given in Chinese, as registered, followed by the English form (``中文 / English``):
the passport's postal address is one text, and its EU readers need the English one as much as a
Chinese authority needs the registered one. Label meanings carry both (``{"zh": …, "en": …}``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# Typical cradle-to-gate footprints, kg CO2e per kWh: LFP packs need less energy-intensive cathode
# material than NCM ones. A second-life product carries only its repurposing (testing, new
# housing, electronics). Class boundaries are the demo's own (the EU classes await a delegated act).
FOOTPRINT_KG_PER_KWH = {"B": (52.0, 72.0), "E": (68.0, 98.0)}
SECOND_LIFE_FOOTPRINT = (6.0, 14.0)
CLASS_BOUNDS = ((60.0, "A"), (70.0, "B"), (80.0, "C"), (90.0, "D"))
STAGE_SHARES = (("RawMaterialExtraction", 0.62), ("MainProduction", 0.32), ("Distribution", 0.03))
# Cell voltage window (V): LFP 2.5-3.65, NCM 2.8-4.2; nominal 3.2 and 3.65 (parts.CELL_VOLTS).
CELL_WINDOW = {"B": (2.5, 3.65, 3.2), "E": (2.8, 4.2, 3.65)}
CYCLES = {"B": (3000, 4500), "E": (1500, 2500)}  # to the exhaustion threshold
EXHAUSTION_PCT = {"B": 70.0, "E": 80.0}
C_RATE = {"B": 2.0, "E": 3.0}  # peak discharge power over energy
CELL_OHM = {"B": 0.0005, "E": 0.0008}  # per cell in series

CHEMISTRY = {
    "B": ("LFP", "lithium iron phosphate"),
    "E": ("NCM", "lithium nickel cobalt manganese oxide"),
}
# Material: name, CAS number, component, share of pack mass, critical raw material (EU 2024/1252).
MATERIALS = {
    "B": (
        ("Lithium iron phosphate", "15365-14-7", "Cathode", 0.26, False),
        ("Natural graphite", "7782-42-5", "Anode", 0.15, True),
        ("Lithium", "7439-93-2", "Cathode", 0.011, True),
        ("Copper", "7440-50-8", "Current collector", 0.085, True),
        ("Aluminium", "7429-90-5", "Housing", 0.11, True),
    ),
    "E": (
        ("Lithium nickel manganese cobalt oxide", "346417-97-8", "Cathode", 0.24, False),
        ("Natural graphite", "7782-42-5", "Anode", 0.14, True),
        ("Lithium", "7439-93-2", "Cathode", 0.014, True),
        ("Nickel", "7440-02-0", "Cathode", 0.075, True),
        ("Cobalt", "7440-48-4", "Cathode", 0.025, True),
        ("Manganese", "7439-96-5", "Cathode", 0.022, True),
        ("Copper", "7440-50-8", "Current collector", 0.09, True),
        ("Aluminium", "7429-90-5", "Housing", 0.11, True),
    ),
}
HAZARDS = (
    (
        "AcuteToxicity",
        "Lithium hexafluorophosphate",
        "21324-40-3",
        (0.9, 1.6),
        "Releases hydrogen fluoride in contact with water / 遇水释放氟化氢",
    ),
    (
        "EyeDamageOrIrritation",
        "Ethylene carbonate",
        "96-49-1",
        (4.0, 9.0),
        "Causes serious eye irritation / 造成严重眼刺激",
    ),
)
LABELS = (
    (
        "SeparateCollection",
        "crossed-out-bin.svg",
        "单独收集，不得混入生活垃圾",
        "Collect separately, not with household waste",
    ),
    (
        "CarbonFootPrint",
        "carbon-footprint.svg",
        "碳足迹等级见护照",
        "Carbon footprint class: see the passport",
    ),
    ("ExtinguishingAgent", "extinguisher.svg", "用大量水灭火", "Extinguish with large quantities of water"),
)


@dataclass(frozen=True)
class Maker:
    """Where a demo maker is, in Chinese and English, and who places its packs on the EU market."""

    domain: str
    postal_code: str
    address: tuple[str, str]  # (registered Chinese, English)
    plant: tuple[str, str]
    eu_operator: tuple[str, str, str, str, str] | None = None  # name, id, country, postcode, street


MAKERS = {
    "manufacturer-1": Maker(
        "ningde-era-cells.example.com",
        "352100",
        ("福建省宁德市蕉城区漳湾镇新港路2号", "2 Xingang Road, Zhangwan, Jiaocheng District, Ningde, Fujian"),
        (
            "福建省宁德市东侨经济开发区湖东路18号三号工厂",
            "Plant 3, 18 Hudong Road, Dongqiao Development Zone, Ningde, Fujian",
        ),
        ("Ningde Era Cells Europe GmbH", "DE-HRB-512334", "DE", "99334", "Am Erfurter Kreuz 1, Arnstadt"),
    ),
    "manufacturer-2": Maker(
        "fudi-power.example.com",
        "518122",
        (
            "广东省深圳市坪山区坑梓街道新能源路88号",
            "88 Xinnengyuan Road, Kengzi, Pingshan District, Shenzhen, Guangdong",
        ),
        (
            "广东省深圳市坪山区坑梓街道新能源路88号二号工厂",
            "Plant 2, 88 Xinnengyuan Road, Pingshan District, Shenzhen, Guangdong",
        ),
        ("Fudi Power Europe B.V.", "NL-KVK-80412267", "NL", "3067 GH", "Hoofdweg 52, Rotterdam"),
    ),
    "manufacturer-3": Maker(
        "zhongchuang-lithium.example.com",
        "213200",
        ("江苏省常州市金坛区江东大道1号", "1 Jiangdong Avenue, Jintan District, Changzhou, Jiangsu"),
        (
            "江苏省常州市金坛区江东大道1号一期工厂",
            "Phase 1 Plant, 1 Jiangdong Avenue, Jintan District, Changzhou, Jiangsu",
        ),
        ("ZC Lithium Europe Kft.", "HU-CG-09-09-031877", "HU", "4031", "Ipari út 12, Debrecen"),
    ),
    "manufacturer-4": Maker(
        "guoxuan-power.example.com",
        "230051",
        ("安徽省合肥市包河区花园大道566号", "566 Huayuan Avenue, Baohe District, Hefei, Anhui"),
        ("安徽省合肥市新站区魏武路西A3厂房", "Building A3, Weiwu Road West, Xinzhan District, Hefei, Anhui"),
        ("Guoxuan Power Germany GmbH", "DE-HRB-205118", "DE", "37079", "Industriestraße 5, Göttingen"),
    ),
    "manufacturer-5": Maker(
        "yiwei-lithium.example.com",
        "516006",
        (
            "广东省惠州市仲恺高新区惠风七路38号",
            "38 Huifeng 7th Road, Zhongkai Hi-tech Zone, Huizhou, Guangdong",
        ),
        (
            "广东省惠州市仲恺高新区惠风七路38号动力电池工厂",
            "Power Battery Plant, 38 Huifeng 7th Road, Huizhou, Guangdong",
        ),
        ("Yiwei Lithium Energy Hungary Kft.", "HU-CG-09-09-034512", "HU", "4031", "Határ út 3, Debrecen"),
    ),
    "manufacturer-6": Maker(
        "fengchao-energy.example.com",
        "213200",
        ("江苏省常州市金坛区华城中路168号", "168 Huacheng Middle Road, Jintan District, Changzhou, Jiangsu"),
        (
            "江苏省常州市金坛区华城中路168号电芯工厂",
            "Cell Plant, 168 Huacheng Middle Road, Jintan District, Changzhou, Jiangsu",
        ),
        ("Fengchao Energy Europe GmbH", "DE-HRB-106620", "DE", "66802", "Überherrner Straße 1, Überherrn"),
    ),
    # Cascade-use enterprises make second-life products for the Chinese market: no EU operator.
    "cascade-1": Maker(
        "cs-second-life.example.com",
        "410200",
        ("湖南省长沙市望城区金星北路999号", "999 Jinxing North Road, Wangcheng District, Changsha, Hunan"),
        (
            "湖南省长沙市望城区金星北路999号梯次利用车间",
            "Second-life Workshop, 999 Jinxing North Road, Changsha, Hunan",
        ),
    ),
    "cascade-2": Maker(
        "bj-tower-backup.example.com",
        "100195",
        ("北京市海淀区东冉北街9号", "9 Dongran North Street, Haidian District, Beijing"),
        (
            "河北省廊坊市广阳区备用电源检测中心",
            "Backup Power Test Centre, Guangyang District, Langfang, Hebei",
        ),
    ),
    "cascade-3": Maker(
        "xm-storage-reuse.example.com",
        "361021",
        ("福建省厦门市集美区杏林湾路489号", "489 Xinglinwan Road, Jimei District, Xiamen, Fujian"),
        (
            "福建省厦门市集美区杏林湾路489号储能集成车间",
            "Storage Integration Workshop, 489 Xinglinwan Road, Xiamen, Fujian",
        ),
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    """What a model's data follows from: its maker, code and design."""

    maker_key: str
    model_code: str
    battery_type: str  # B (LFP) or E (NCM)
    capacity_ah: float
    voltage_v: float
    energy_kwh: float
    kg_per_kwh: float
    second_life: bool = False
    telecom: bool = False  # a second-life product for telecom base stations


def _street(pair: tuple[str, str]) -> str:
    return f"{pair[0]} / {pair[1]}"


def _contact(maker: Maker) -> dict[str, Any]:
    return {
        "emailAddress": f"passport@{maker.domain}",
        "webAddress": f"https://www.{maker.domain}/",
        "postalAddress": {
            "addressCountry": "CN",
            "postalCode": maker.postal_code,
            "streetAddress": _street(maker.address),
        },
    }


def _operator(maker: Maker) -> dict[str, Any] | None:
    if maker.eu_operator is None:
        return None
    name, identifier, country, postcode, street = maker.eu_operator
    return {
        "contactName": name,
        "identifier": identifier,
        "emailAddress": f"eu-operator@{maker.domain}",
        "webAddress": f"https://www.{maker.domain}/eu",
        "postalAddress": {"addressCountry": country, "postalCode": postcode, "streetAddress": street},
    }


def footprint_class(kg_per_kwh: float) -> str:
    return next((label for bound, label in CLASS_BOUNDS if kg_per_kwh < bound), "E")


def model_body(spec: ModelSpec, seed: int) -> dict[str, Any]:
    """The model's passport data as a ``POST /api/v1/models`` body (checked there by ``ModelData``)."""
    rng = random.Random(f"{seed}/passport/{spec.model_code}")
    maker = MAKERS[spec.maker_key]
    docs = f"https://www.{maker.domain}/passport/{spec.model_code}"
    mass = spec.energy_kwh * spec.kg_per_kwh
    body: dict[str, Any] = {
        "model_code": spec.model_code,
        "category": ("industrial" if spec.telecom else "stationary") if spec.second_life else "ev",
        "manufacturer": _contact(maker),
        "manufacturing_place": {
            "addressCountry": "CN",
            "postalCode": maker.postal_code,
            "streetAddress": _street(maker.plant),
        },
        "warranty_months": 60 if spec.second_life else rng.choice((96, 96, 120)),
        "carbon_footprint": _carbon_footprint(rng, spec, docs),
        "supply_chain_due_diligence": {
            "supplyChainDueDiligenceReport": f"https://www.{maker.domain}/passport/due-diligence-2025.pdf",
            "thirdPartyAussurances": f"https://www.{maker.domain}/passport/rmi-assurance.pdf",
        },
        "material_composition": _materials(rng, spec.battery_type, mass),
        "circularity": _circularity(rng, spec, maker, docs),
        "labeling": {
            "declarationOfConformity": f"{docs}/eu-doc.pdf",
            "resultOfTestReport": f"{docs}/test-reports.pdf",
            "labels": [
                {
                    "labelingSubject": subject,
                    "labelingSymbol": f"https://www.{maker.domain}/labels/{symbol}",
                    "labelingMeaning": {"zh": zh, "en": en},
                }
                for subject, symbol, zh, en in LABELS
            ],
        },
        "technical_properties": _technical(rng, spec, docs),
    }
    body["round_trip_efficiency_at_50pct_cycle_life"] = round(
        body["technical_properties"]["roundtripEfficiency"] - rng.uniform(1.5, 3.0), 1
    )
    operator = _operator(maker)
    if operator is not None:
        body["operator"] = operator
    return body


def _carbon_footprint(rng: random.Random, spec: ModelSpec, docs: str) -> dict[str, Any]:
    low, high = SECOND_LIFE_FOOTPRINT if spec.second_life else FOOTPRINT_KG_PER_KWH[spec.battery_type]
    total = round(rng.uniform(low, high), 1)
    if spec.second_life:  # only the repurposing: testing, new housing and electronics, transport
        stages = [("MainProduction", round(total * 0.85, 1)), ("Distribution", round(total * 0.1, 1))]
    else:
        stages = [(name, round(total * share, 1)) for name, share in STAGE_SHARES]
    stages.append(("Recycling", round(total - sum(value for _, value in stages), 1)))
    return {
        "batteryCarbonFootprint": total,
        "carbonFootprintPerLifecycleStage": [
            {"lifecycleStage": name, "carbonFootprint": max(value, 0.0)} for name, value in stages
        ],
        "carbonFootprintPerformanceClass": footprint_class(total),
        "carbonFootprintStudy": f"{docs}/carbon-footprint-study.pdf",
        "absoluteCarbonFootprint": round(total * spec.energy_kwh, 1),
    }


def _materials(rng: random.Random, battery_type: str, mass_kg: float) -> dict[str, Any]:
    short, clear = CHEMISTRY[battery_type]
    return {
        "batteryChemistry": {"shortName": short, "clearName": clear},
        "batteryMaterials": [
            {
                "batteryMaterialLocation": {"componentName": component},
                "batteryMaterialIdentifier": cas,
                "batteryMaterialName": name,
                "batteryMaterialMass": round(mass_kg * share * rng.uniform(0.95, 1.05), 1),
                "isCriticalRawMaterial": critical,
            }
            for name, cas, component, share, critical in MATERIALS[battery_type]
        ],
        "hazardousSubstances": [
            {
                "hazardousSubstanceClass": kind,
                "hazardousSubstanceName": name,
                "hazardousSubstanceConcentration": round(rng.uniform(*share), 1),
                "hazardousSubstanceImpact": [impact],
                "hazardousSubstanceLocation": {"componentName": "Electrolyte"},
                "hazardousSubstanceIdentifier": cas,
            }
            for kind, name, cas, share, impact in HAZARDS
        ],
    }


def _recycled(rng: random.Random, battery_type: str) -> list[dict[str, Any]]:
    """Recycled shares (%): lithium in every pack; nickel and cobalt only where the cathode has
    them (NCM); no lead in a lithium-ion pack."""
    shares = {"Lithium": (0.0, 6.0), "Nickel": (2.0, 12.0), "Cobalt": (4.0, 16.0), "Lead": (0.0, 0.0)}
    rows = []
    for material, (low, high) in shares.items():
        present = material == "Lithium" or (battery_type == "E" and material != "Lead")
        pre = round(rng.uniform(low, high) * 0.6, 1) if present else 0.0
        post = round(rng.uniform(low, high) * 0.4, 1) if present else 0.0
        rows.append({"recycledMaterial": material, "preConsumerShare": pre, "postConsumerShare": post})
    return rows


def _circularity(rng: random.Random, spec: ModelSpec, maker: Maker, docs: str) -> dict[str, Any]:
    site = f"https://www.{maker.domain}"
    modules = 1 if spec.telecom else rng.choice((4, 6, 8))
    return {
        "dismantlingAndRemovalInformation": [
            {
                "documentType": "DismantlingManual",
                "mimeType": "application/pdf",
                "documentURL": f"{docs}/dismantling.pdf",
            },
            {
                "documentType": "RemovalManual",
                "mimeType": "application/pdf",
                "documentURL": f"{docs}/removal.pdf",
            },
        ],
        "sparePartSources": [
            {
                "nameOfSupplier": f"{spec.model_code} after-sales / 售后服务",
                "addressOfSupplier": {
                    "addressCountry": "CN",
                    "postalCode": maker.postal_code,
                    "streetAddress": _street(maker.address),
                },
                "emailAddressOfSupplier": f"parts@{maker.domain}",
                "supplierWebAddress": f"{site}/parts",
                "components": [
                    {"partName": f"Module 1/{modules}", "partNumber": f"{spec.model_code}-M{modules}"},
                    {"partName": "Battery management unit", "partNumber": f"{spec.model_code}-BMU"},
                ],
            }
        ],
        "recycledContent": _recycled(rng, spec.battery_type),
        "safetyMeasures": {
            "safetyInstructions": f"{docs}/safety.pdf",
            "extinguishingAgent": ["Water (large quantities) / 大量水", "Class D powder / D类干粉"],
        },
        "endOfLifeInformation": {
            "wastePrevention": f"{site}/eol/prevention",
            "separateCollection": f"{site}/eol/collection",
            "informationOnCollection": f"{site}/eol/second-life-and-recycling",
        },
        "renewableContent": round(rng.uniform(5.0, 35.0), 1),
    }


def _technical(rng: random.Random, spec: ModelSpec, docs: str) -> dict[str, Any]:
    low, high, nominal = CELL_WINDOW[spec.battery_type]
    cells = max(1, round(spec.voltage_v / nominal))
    c_rate = 1.0 if spec.second_life else C_RATE[spec.battery_type]
    peak_w = round(spec.energy_kwh * 1000 * c_rate)
    cycles = CYCLES[spec.battery_type]
    return {
        "originalPowerCapability": [
            {"atSoC": 80, "powerCapabilityAt": round(peak_w * 0.95)},
            {"atSoC": 20, "powerCapabilityAt": round(peak_w * 0.7)},
        ],
        "ratedMaximumPower": peak_w,
        "powerCapabilityRatio": round(c_rate * rng.uniform(0.9, 1.0), 2),
        "expectedNumberOfCycles": (cycles[0] // 2) if spec.second_life else rng.randrange(*cycles, 100),
        "initialSelfDischarge": round(rng.uniform(1.5, 3.0), 1),
        "roundtripEfficiency": round(
            rng.uniform(94.0, 96.5) if spec.battery_type == "B" else rng.uniform(92.5, 95.0), 1
        ),
        "initialInternalResistance": [
            {
                "ohmicResistance": round(cells * CELL_OHM[spec.battery_type] * rng.uniform(0.9, 1.1), 4),
                "batteryComponent": "pack",
            }
        ],
        "expectedLifetime": 6 if spec.second_life else rng.choice((8, 10, 12, 15)),
        "minimumVoltage": round(cells * low, 1),
        "maximumVoltage": round(cells * high, 1),
        "capacityThresholdForExhaustion": EXHAUSTION_PCT[spec.battery_type],
        "lifetimeReferenceTest": f"{docs}/cycle-life-test.pdf",
        "cRateLifeCycleTest": rng.choice((0.5, 1.0)),
        "temperatureRangeIdleState": -20.0,
    }
