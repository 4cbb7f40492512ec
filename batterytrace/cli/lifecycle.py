"""Lifecycle commands: one per domain event, each building the command value the application runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from batterytrace.cli.common import (
    ActorOption,
    AtOption,
    LateOption,
    RequestIdOption,
    open_app,
    parse_when,
    report_write,
)
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
from batterytrace.events.errors import InvalidInput

if TYPE_CHECKING:  # the domain loads the event store's library: only when a command runs
    from batterytrace.events.battery import ProductionSpec

Code = Annotated[str, typer.Argument(help="The battery's 24-character GB/T 34014 code.")]


def _spec(
    code: str,
    capacity_ah: float,
    voltage_v: float,
    energy_kwh: float,
    mass_kg: float,
    components: list[str] | None,
    at: str | None,
    request_id: str | None,
) -> ProductionSpec:
    from batterytrace.events.battery import ProductionSpec

    return ProductionSpec(
        code=code,
        rated_capacity_ah=capacity_ah,
        nominal_voltage_v=voltage_v,
        energy_kwh=energy_kwh,
        mass_kg=mass_kg,
        components=tuple(components or ()),
        occurred_at=parse_when(at),
        request_id=request_id,
    )


def _reporting(at: str | None, request_id: str | None, late: bool) -> Reporting:
    """How an event given on the command line is reported (``--at``, ``--request-id``, ``--late``)."""
    return Reporting(occurred_at=parse_when(at), request_id=request_id, late_correction=late)


CapacityOption = Annotated[float, typer.Option("--capacity-ah", help="Rated capacity, Ah.")]
VoltageOption = Annotated[float, typer.Option("--voltage-v", help="Nominal voltage, V.")]
EnergyOption = Annotated[float, typer.Option("--energy-kwh", help="Rated energy, kWh.")]
MassOption = Annotated[float, typer.Option("--mass-kg", help="Mass, kg.")]


def produce(
    code: Code,
    capacity_ah: CapacityOption,
    voltage_v: VoltageOption,
    energy_kwh: EnergyOption,
    mass_kg: MassOption,
    actor: ActorOption,
    component: Annotated[
        list[str] | None, typer.Option("--component", help="Code of a module or cell built in.")
    ] = None,
    at: AtOption = None,
    request_id: RequestIdOption = None,
) -> None:
    """Record the production of a battery (by the owner of its manufacturer code)."""
    spec = _spec(code, capacity_ah, voltage_v, energy_kwh, mass_kg, component, at, request_id)
    report_write(open_app().produce(actor_id=actor, spec=spec), f"produced {spec.code.upper()}")


def cascade_reuse(
    product_code: Annotated[str, typer.Argument(help="The new second-life product's code.")],
    original: Annotated[list[str], typer.Option("--original", help="Retired battery used (repeatable).")],
    capacity_ah: CapacityOption,
    voltage_v: VoltageOption,
    energy_kwh: EnergyOption,
    mass_kg: MassOption,
    actor: ActorOption,
    at: AtOption = None,
    request_id: RequestIdOption = None,
) -> None:
    """Make a second-life product from retired batteries the enterprise holds."""
    spec = _spec(product_code, capacity_ah, voltage_v, energy_kwh, mass_kg, None, at, request_id)
    result = open_app().cascade_reuse(actor_id=actor, originals=original, product=spec)
    report_write(result, f"second-life product {spec.code.upper()}")


def install(
    code: Code,
    actor: ActorOption,
    vin: Annotated[str | None, typer.Option("--vin", help="Vehicle identification number.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Second-life site.")] = None,
    application: Annotated[
        str | None, typer.Option("--application", help="Second-life use, e.g. energy storage.")
    ] = None,
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Install a battery in a vehicle (--vin) or a second-life product at a site (--site)."""
    command = Install(
        actor_id=actor,
        code=code,
        vin=vin,
        site=site,
        application=application,
        reporting=_reporting(at, request_id, late),
    )
    result = open_app().execute(command)
    report_write(result, f"installed {code.upper()}")


def remove(
    code: Code,
    actor: ActorOption,
    reason: Annotated[str, typer.Option("--reason", help="repair or replacement.")] = "repair",
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Remove a battery for repair or replacement (it may be reinstalled)."""
    command = Remove(actor_id=actor, code=code, reason=reason, reporting=_reporting(at, request_id, late))
    result = open_app().execute(command)
    report_write(result, f"removed {code.upper()}")


def retire(
    code: Code,
    actor: ActorOption,
    reason: Annotated[str, typer.Option("--reason", help="Why it retires.")],
    soh: Annotated[float | None, typer.Option("--soh", help="State of health, %.")] = None,
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Retire a battery (end of its first or second life)."""
    command = Retire(
        actor_id=actor,
        code=code,
        reason=reason,
        state_of_health_pct=soh,
        reporting=_reporting(at, request_id, late),
    )
    result = open_app().execute(command)
    report_write(result, f"retired {code.upper()}")


def collect(
    code: Code,
    actor: ActorOption,
    point: Annotated[str, typer.Option("--point", help="Collection point id.")],
    mass_kg: Annotated[float | None, typer.Option("--mass-kg", help="Weighed mass.")] = None,
    condition: Annotated[str, typer.Option("--condition")] = "intact",
    vin: Annotated[str | None, typer.Option("--vin", help="VIN it came from.")] = None,
    scanned_by: Annotated[str | None, typer.Option("--scanned-by", help="Operator or device.")] = None,
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Take a battery in at a collection point (by the point's operator)."""
    command = Collect(
        actor_id=actor,
        code=code,
        collection_point_id=point,
        mass_kg=mass_kg,
        condition=condition,
        source_vin=vin,
        scanned_by=scanned_by,
        reporting=_reporting(at, request_id, late),
    )
    result = open_app().execute(command)
    report_write(result, f"collected {code.upper()} at {point.upper()}")


def deliver(
    code: Code,
    actor: ActorOption,
    to: Annotated[
        str, typer.Option("--to", help="Credit code of the receiver: a vehicle maker or a swap operator.")
    ],
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Deliver a new battery (by its manufacturer) to a vehicle maker, which may then install it, or to
    a battery-swap operator, whose stations then swap it into vehicles."""
    command = Deliver(actor_id=actor, code=code, receiver_id=to, reporting=_reporting(at, request_id, late))
    result = open_app().execute(command)
    report_write(result, f"delivered {code.upper()} to {to.upper()}")


def handover(
    code: Annotated[
        list[str],
        typer.Argument(
            help="The battery's 24-character GB/T 34014 code; several with --point: handed over together.",
            metavar="CODE...",
        ),
    ],
    actor: ActorOption,
    to: Annotated[str, typer.Option("--to", help="Receiver's credit code.")],
    activity: Annotated[str, typer.Option("--activity", help="recycling or cascade_use.")] = "recycling",
    point: Annotated[
        str | None,
        typer.Option(
            "--point",
            help="The collection point (yours) the batteries are held at: hands them over in one "
            "transaction, all or none (at most 500).",
        ),
    ] = None,
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Hand a battery over to a recycler or cascade-use enterprise; an outlet hands several over
    at once from one of its points (--point), all or none."""
    from batterytrace.events.battery import Battery

    reporting = _reporting(at, request_id, late)
    commands = [
        HandOver(actor_id=actor, code=one, receiver_id=to, activity=activity, reporting=reporting)
        for one in code
    ]
    if point is not None:
        recorded = _hand_over_together(commands, actor, point, to)
    elif len(commands) > 1:
        raise typer.BadParameter(
            "several batteries are handed over together from a collection point: name it with --point",
            param_hint="CODE...",
        )
    else:
        result = open_app().execute(commands[0])
        report_write(result, f"handed over {code[0].upper()} to {to.upper()}")
        recorded = list(result.recorded)
    if any(isinstance(e, Battery.HandedOver) and not e.compliant for e in recorded):
        typer.secho(
            "warning: the receiver is not whitelisted for this activity; the handover is "
            "recorded and flagged non-compliant",
            fg="yellow",
            err=True,
        )


def _hand_over_together(commands: list[HandOver], actor: str, point: str, to: str) -> list[object]:
    """The batch hand-over (``trace/batches.py``): one line per battery refused, then the refusal."""
    from batterytrace.cli.common import err_console
    from batterytrace.trace.batches import Batch, BatchRefused

    batch = Batch(actor_id=actor, collection_point_id=point, commands=tuple(commands))
    try:
        done = open_app().execute_batch(batch)
    except BatchRefused as refused:
        for outcome in refused.outcomes:
            if outcome.error is not None:
                err_console.print(
                    f"refused {outcome.code}: {outcome.error.message}", markup=False, highlight=False
                )
        raise
    report_write(done.write, f"handed over {len(commands)} batteries from {point.upper()} to {to.upper()}")
    return list(done.write.recorded)


def recycle(
    code: Code,
    actor: ActorOption,
    material: Annotated[
        list[str],
        typer.Option("--material", help="Recovered mass as NAME=KG, e.g. Li=3.2 (repeatable)."),
    ],
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Record recycling with recovered material masses (Li, Ni, Co, Mn at least)."""
    recovered: dict[str, float] = {}
    for item in material:
        name, _, mass = item.partition("=")
        try:
            recovered[name.strip()] = float(mass)
        except ValueError:
            raise InvalidInput(f"--material {item!r} must be NAME=KG, e.g. Li=3.2") from None
    command = Recycle(
        actor_id=actor, code=code, recovered_kg=recovered, reporting=_reporting(at, request_id, late)
    )
    result = open_app().execute(command)
    report_write(result, f"recycled {code.upper()}")


def register(app: typer.Typer) -> None:
    for command in (produce, deliver, install, remove, retire, collect, handover, recycle):
        app.command()(command)
    app.command("cascade-reuse")(cascade_reuse)
