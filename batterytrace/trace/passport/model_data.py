"""What a manufacturer posts about a battery model, and what a holder reports as readings: the
shapes and bounds of the two bodies (``POST /api/v1/models``, ``batterytrace models add FILE``,
``POST /api/v1/batteries/{code}/readings``, ``batterytrace readings``).

A model's sections are the Battery Pass 1.2.0 aspects' own fields (camelCase, as the data model
spells them, typos included: ``warrentyPeriod`` aside, which is given as ``warranty_months``), so a
maker posts what its passport tooling already holds and a reader checks the mapping field by field.
What the passport takes from each battery's own events is not posted: the identifier, the
manufacturing date, the mass, the rated capacity and energy, the nominal voltage, the status.
Every text, list and number is bounded; unknown fields are refused, so a typo is not silently lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from batterytrace.events.battery_readings import (
    MAX_NEGATIVE_EVENT_LENGTH,
    MAX_NEGATIVE_EVENTS,
    MAX_POWER_POINTS,
    Readings,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# The Battery Pass e-mail pattern as its authors meant it (the published one lost its backslashes).
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[\w.-]+@[\w.-]+\.[A-Za-z]{2,}$")]
Cas = Annotated[str, StringConstraints(pattern=r"^\d{2,7}-\d{2}-\d$")]  # a CAS registry number
Url = Annotated[HttpUrl, Field(max_length=2000)]
Amount = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostalAddress(Strict):
    addressCountry: Short
    postalCode: Short
    streetAddress: Text


class Contact(Strict):
    contactName: Text | None = Field(None, description="Default: the participant's registered name.")
    identifier: Short | None = Field(None, description="Default: the manufacturer's credit code.")
    emailAddress: Email
    webAddress: Url
    postalAddress: PostalAddress


class LifecycleStageFootprint(Strict):
    lifecycleStage: Literal["RawMaterialExtraction", "MainProduction", "Distribution", "Recycling"]
    carbonFootprint: Amount


class CarbonFootprint(Strict):
    batteryCarbonFootprint: Amount = Field(
        description="kg CO2e per kWh of total energy over the service life."
    )
    carbonFootprintPerLifecycleStage: list[LifecycleStageFootprint] = Field(min_length=1, max_length=4)
    carbonFootprintPerformanceClass: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    carbonFootprintStudy: Url
    absoluteCarbonFootprint: Amount | None = None


class SupplyChainDueDiligence(Strict):
    supplyChainDueDiligenceReport: Url
    thirdPartyAussurances: Url | None = None
    supplyChainIndicies: Amount | None = None


class Chemistry(Strict):
    shortName: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    clearName: Text


class Location(Strict):
    componentName: Short
    componentId: Short | None = None


class Material(Strict):
    batteryMaterialLocation: Location
    batteryMaterialIdentifier: Cas
    batteryMaterialName: Short
    batteryMaterialMass: Amount
    isCriticalRawMaterial: bool


class HazardousSubstance(Strict):
    hazardousSubstanceClass: Literal["AcuteToxicity", "SkinCorrosionOrIrritation", "EyeDamageOrIrritation"]
    hazardousSubstanceName: Short
    hazardousSubstanceConcentration: Percent
    hazardousSubstanceImpact: list[Text] = Field(min_length=1, max_length=20)
    hazardousSubstanceLocation: Location
    hazardousSubstanceIdentifier: Cas


class MaterialComposition(Strict):
    batteryChemistry: Chemistry
    batteryMaterials: list[Material] = Field(min_length=1, max_length=100)
    hazardousSubstances: list[HazardousSubstance] = Field(max_length=100)


class Document(Strict):
    documentType: Literal[
        "BillOfMaterial", "Model3D", "DismantlingManual", "RemovalManual", "OtherManual", "Drawing"
    ]
    mimeType: Short
    documentURL: Url


class Component(Strict):
    partName: Short
    partNumber: Short


class SparePartSupplier(Strict):
    nameOfSupplier: Text
    addressOfSupplier: PostalAddress
    emailAddressOfSupplier: Email
    supplierWebAddress: Url
    components: list[Component] = Field(min_length=1, max_length=200)


class RecycledContent(Strict):
    recycledMaterial: Literal["Cobalt", "Nickel", "Lithium", "Lead"]
    preConsumerShare: Percent
    postConsumerShare: Percent


class SafetyMeasures(Strict):
    safetyInstructions: Url
    extinguishingAgent: list[Short] = Field(min_length=1, max_length=10)


class EndOfLifeInformation(Strict):
    wastePrevention: Url
    separateCollection: Url
    informationOnCollection: Url


class Circularity(Strict):
    dismantlingAndRemovalInformation: list[Document] = Field(min_length=1, max_length=50)
    sparePartSources: list[SparePartSupplier] = Field(max_length=50)
    recycledContent: list[RecycledContent] = Field(max_length=4)
    safetyMeasures: SafetyMeasures
    endOfLifeInformation: EndOfLifeInformation
    renewableContent: Percent


class Label(Strict):
    labelingSubject: Literal[
        "SeparateCollection", "HazardousMaterial", "CarbonFootPrint", "ExtinguishingAgent"
    ]
    labelingSymbol: Url
    labelingMeaning: dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")], Text] = Field(
        min_length=1, max_length=10, description="The label's meaning by language tag (en, zh, de …)."
    )


class Labeling(Strict):
    declarationOfConformity: Url
    resultOfTestReport: Url
    labels: list[Label] = Field(min_length=1, max_length=20)


class PowerAtSoc(Strict):
    atSoC: Percent
    powerCapabilityAt: Amount


class InternalResistance(Strict):
    ohmicResistance: Amount
    batteryComponent: Literal["pack", "module", "cell"]


class TechnicalProperties(Strict):
    """The model's static performance values (the battery's own rated capacity, energy and
    nominal voltage come from its production record)."""

    originalPowerCapability: list[PowerAtSoc] = Field(min_length=1, max_length=10)
    ratedMaximumPower: Amount
    powerCapabilityRatio: Amount
    expectedNumberOfCycles: int = Field(ge=0, le=1_000_000)
    initialSelfDischarge: Percent
    roundtripEfficiency: Percent
    initialInternalResistance: list[InternalResistance] = Field(min_length=1, max_length=3)
    expectedLifetime: int = Field(ge=0, le=100, description="Years.")
    cRate: Amount | None = None
    minimumVoltage: Amount
    maximumVoltage: Amount
    capacityThresholdForExhaustion: Percent
    lifetimeReferenceTest: Url
    cRateLifeCycleTest: Amount
    temperatureRangeIdleState: float = Field(ge=-20, le=60)


class ModelData(Strict):
    """A battery model's passport data, posted by the owner of its manufacturer code."""

    model_code: str = Field(
        min_length=7,
        max_length=7,
        description="First 7 characters of its batteries' codes.",
        examples=["3CAPB12"],
    )
    category: Literal["ev", "lmt", "industrial", "stationary"] = "ev"
    manufacturer: Contact
    operator: Contact | None = Field(
        None, description="Who places it on the EU market; default: the manufacturer."
    )
    manufacturing_place: PostalAddress
    warranty_months: int = Field(ge=1, le=600)
    carbon_footprint: CarbonFootprint
    supply_chain_due_diligence: SupplyChainDueDiligence
    material_composition: MaterialComposition
    circularity: Circularity
    labeling: Labeling
    technical_properties: TechnicalProperties
    round_trip_efficiency_at_50pct_cycle_life: Percent

    def data(self) -> dict[str, object]:
        """What the model's event stores: plain JSON, without the code (the stream's key)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"model_code"})


# ---------------------------------------------------------------------------------- readings
Limited = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class PowerPoint(Strict):
    at_soc_pct: Percent
    power_w: Limited


class ReadingsReport(Strict):
    """One report of a battery's condition by its holder (every value the passport requires)."""

    state_of_certified_energy_pct: Percent = Field(description="State of health (SOCE), %.")
    capacity_fade_pct: Percent
    remaining_capacity_ah: Limited
    remaining_energy_kwh: Limited
    state_of_charge_pct: Percent
    full_cycles: Limited
    energy_throughput_kwh: Limited
    capacity_throughput_ah: Limited
    time_extreme_high_temp_h: Limited
    time_extreme_low_temp_h: Limited
    time_extreme_high_temp_charging_h: Limited
    time_extreme_low_temp_charging_h: Limited
    power_fade_pct: Percent
    round_trip_efficiency_fade_pct: Percent
    remaining_round_trip_efficiency_pct: Percent
    current_self_discharge_rate_pct: Percent
    internal_resistance_increase_pct: Limited
    remaining_power_capability: list[PowerPoint] = Field(default_factory=list, max_length=MAX_POWER_POINTS)
    negative_events: list[Annotated[str, StringConstraints(max_length=MAX_NEGATIVE_EVENT_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_NEGATIVE_EVENTS
    )
    occurred_at: datetime | None = Field(None, description="When measured; no zone = China Standard Time.")
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None

    def readings(self) -> Readings:
        values = self.model_dump(
            exclude={"remaining_power_capability", "negative_events", "occurred_at", "request_id"}
        )
        return Readings(
            values={name: float(value) for name, value in values.items()},
            remaining_power_capability=tuple(
                (p.at_soc_pct, p.power_w) for p in self.remaining_power_capability
            ),
            negative_events=tuple(self.negative_events),
        )
