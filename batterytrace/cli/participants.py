"""``participants`` and ``collection-points``: who takes part, and where batteries are handed in."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from batterytrace.cli.common import (
    FormatOption,
    check_format,
    console,
    open_app,
    parse_day,
    print_json,
    report_write,
)
from batterytrace.events.conventions import CENTRAL_STORAGE_MIN_KG, COLLECTION_GUIDE_MAX_KG
from batterytrace.trace.tabular import write_csv

if TYPE_CHECKING:  # the domain loads the event store's library: only when a command runs
    from batterytrace.events.api_key import IssuedKey

participants_app = typer.Typer(help="Register and list enterprises and authorities.", no_args_is_help=True)
collection_points_app = typer.Typer(
    help="Register, approve and list collection points (recycling service outlets).", no_args_is_help=True
)

OptionalActor = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="BATTERYTRACE_ACTOR",
        help="Credit code of the acting regulator. Omit only to register the first regulator.",
        show_default=False,
    ),
]


@participants_app.command("add")
def add_participant(
    credit_code: Annotated[str, typer.Argument(help="Unified Social Credit Code (18 characters).")],
    name: Annotated[str, typer.Option("--name", help="Registered name.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="Role (repeatable): manufacturer, vehicle_maker, outlet_operator, dismantler, "
            "cascade_user, recycler, swap_operator, regulator.",
        ),
    ],
    manufacturer_code: Annotated[
        list[str] | None,
        typer.Option("--manufacturer-code", help="3-character GB/T 34014 code (repeatable)."),
    ] = None,
    division: Annotated[str | None, typer.Option("--division", help="Seat's division code.")] = None,
    name_en: Annotated[
        str | None, typer.Option("--name-en", help="The name in English, shown on English pages.")
    ] = None,
    override_check: Annotated[
        bool,
        typer.Option("--override-check", help="Accept a known early credit code that fails its check."),
    ] = False,
    actor: OptionalActor = None,
    issue_key: Annotated[
        bool, typer.Option("--issue-key/--no-issue-key", help="Issue an API key and print it once.")
    ] = True,
) -> None:
    """Register an enterprise (a regulator acts; the first regulator registers itself)."""
    result = open_app().register_participant(
        actor_id=actor,
        credit_code=credit_code,
        name=name,
        roles=role,
        manufacturer_codes=manufacturer_code or [],
        division_code=division,
        allow_bad_check=override_check,
        name_en=name_en,
    )
    report_write(result, f"participant {credit_code.strip().upper()}")
    if issue_key and not result.replayed:
        _print_key(open_app().issue_api_key(actor_id=None, participant_id=credit_code))


def _print_key(issued: IssuedKey) -> None:
    console.print(
        f"API key for {issued.participant_id} (shown once, store it now): [bold]{issued.token}[/]",
        soft_wrap=True,
    )


@participants_app.command("key")
def issue_key_command(
    credit_code: Annotated[str, typer.Argument(help="The participant's credit code.")],
    label: Annotated[str, typer.Option("--label", help="What the key is for.")] = "",
) -> None:
    """Issue a new API key (printed once; only its hash is stored). Run on the server."""
    _print_key(open_app().issue_api_key(actor_id=None, participant_id=credit_code, label=label))


@participants_app.command("revoke-key")
def revoke_key_command(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after bt_).")],
    actor: Annotated[
        str, typer.Option("--as", envvar="BATTERYTRACE_ACTOR", help="A regulator or the key's owner.")
    ],
    reason: Annotated[str, typer.Option("--reason")] = "",
) -> None:
    """Revoke an API key and every key issued through it; the next request with them is refused."""
    report_write(open_app().revoke_api_key(actor_id=actor, key_id=key_id, reason=reason), f"API key {key_id}")


@participants_app.command("keys")
def list_keys_command(
    credit_code: Annotated[str, typer.Argument(help="The participant's credit code.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
) -> None:
    """List a participant's API keys: who issued each and with which key, revocations, last use.
    Times are China Standard Time (UTC+8). The keys themselves are never shown (only hashes are kept)."""
    fmt = check_format(fmt, ("table", "csv", "json"))
    records = open_app().api_keys(credit_code)
    if fmt == "json":
        print_json(records)
        return
    if fmt == "csv":
        write_csv(sys.stdout, records, KEY_COLUMNS)
        return
    table = Table("key id", "label", "issued at", "issued by", "via", "state", "last used")
    for r in records:
        table.add_row(
            r["key_id"],
            r["label"],
            r["issued_at"],
            r["issued_by"] or "operator (CLI)",
            r["issued_via"] or "",
            _key_state(r),
            r["last_used_at"] or "never",
        )
    console.print(table)
    if not records:
        console.print(f"(no API keys for {credit_code.strip().upper()})")


KEY_COLUMNS = (
    "key_id",
    "participant_id",
    "label",
    "issued_at",
    "issued_by",
    "issued_via",
    "rotated_at",
    "revoked",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
    "revoked_through",
    "last_used_at",
)


def _key_state(record: dict[str, object]) -> str:
    if not record["revoked"]:
        return "live"
    by = record["revoked_by"] or "operator (CLI)"
    through = f" with key {record['revoked_through']}" if record["revoked_through"] else ""
    reason = f": {record['revoke_reason']}" if record["revoke_reason"] else ""
    return f"revoked {record['revoked_at']} by {by}{through}{reason}"


@participants_app.command("revoke-keys")
def revoke_keys_command(
    credit_code: Annotated[str, typer.Argument(help="The participant's credit code.")],
    reason: Annotated[str, typer.Option("--reason", help="Why they are revoked.")],
    keep: Annotated[
        str | None, typer.Option("--except", help="The id of a live key to keep working.")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="BATTERYTRACE_ACTOR",
            help="A regulator or the participant itself; omit to act as the operator on the server.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Revoke every API key of a participant (but --except), and every key issued through them."""
    result = open_app().revoke_api_keys(
        actor_id=actor, participant_id=credit_code, reason=reason, except_key_id=keep
    )
    from batterytrace.events.api_key import ApiKey

    revoked = [key.key_id for key in result.saved if isinstance(key, ApiKey)]
    what = f"API keys of {credit_code.strip().upper()}"
    if not revoked:
        console.print(f"{what}: none was live, nothing recorded")
        return
    report_write(result, what)
    console.print(f"revoked {len(revoked)} key(s): {', '.join(revoked)}")


@participants_app.command("list")
def list_participants(fmt: FormatOption = "table") -> None:
    """List registered participants with roles, manufacturer codes and whitelist status."""
    from batterytrace.trace.presenters import participant_record

    records = [participant_record(p) for p in open_app().participants()]
    if check_format(fmt) == "json":
        print_json(records)
        return
    table = Table("credit code", "name", "roles", "manufacturer codes", "whitelist")
    for r in records:
        whitelist = ", ".join(
            f"{w['activity']} {w['granted_on']}–{w['revoked_on'] or ''}" for w in r["whitelist"]
        )
        table.add_row(
            r["credit_code"],
            r["name"],
            ", ".join(r["roles"]),
            ", ".join(r["manufacturer_codes"]),
            whitelist,
        )
    console.print(table)


@participants_app.command("whitelist")
def whitelist(
    credit_code: Annotated[str, typer.Argument(help="The enterprise's credit code.")],
    activity: Annotated[str, typer.Option("--activity", help="recycling or cascade_use.")],
    actor: Annotated[str, typer.Option("--as", envvar="BATTERYTRACE_ACTOR", help="Acting regulator.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke instead of grant.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why it is revoked.")] = "",
    effective: Annotated[
        str | None, typer.Option("--effective", help="Date it takes effect (default today).")
    ] = None,
) -> None:
    """Grant (or with --revoke, revoke) whitelist status for recycling or cascade use."""
    app = open_app()
    day = parse_day(effective, name="--effective")
    if revoke:
        result = app.revoke_whitelist(
            actor_id=actor,
            participant_id=credit_code,
            activity=activity,
            reason=reason,
            effective_on=day,
        )
    else:
        result = app.grant_whitelist(
            actor_id=actor, participant_id=credit_code, activity=activity, effective_on=day
        )
    report_write(result, f"whitelist {activity} for {credit_code}")


@collection_points_app.command("add")
def add_collection_point(
    point_id: Annotated[str, typer.Argument(help="Id such as CP-110105-0001.")],
    operator: Annotated[str, typer.Option("--operator", help="Operating enterprise's credit code.")],
    name: Annotated[str, typer.Option("--name")],
    division: Annotated[str, typer.Option("--division", help="6-digit GB/T 2260 division code.")],
    name_en: Annotated[
        str | None, typer.Option("--name-en", help="The name in English, shown on English pages.")
    ] = None,
    address: Annotated[str, typer.Option("--address")] = "",
    kind: Annotated[str, typer.Option("--kind", help="collection or central_storage.")] = "collection",
    capacity_kg: Annotated[
        float,
        typer.Option(
            "--capacity-kg",
            help=f"Storage capacity in kg: ≥ {CENTRAL_STORAGE_MIN_KG:g} for central_storage; a "
            f"collection point above about {COLLECTION_GUIDE_MAX_KG:g} is recorded with a warning.",
        ),
    ] = 5000.0,
    latitude: Annotated[float | None, typer.Option("--lat")] = None,
    longitude: Annotated[float | None, typer.Option("--lon")] = None,
    actor: Annotated[
        str, typer.Option("--as", envvar="BATTERYTRACE_ACTOR", help="A regulator or the operator.")
    ] = "",
) -> None:
    """Register a collection point (by a regulator, or by its operator: then it is pending review
    and public pages leave it out until a regulator approves it)."""
    app = open_app()
    result = app.register_collection_point(
        actor_id=actor,
        point_id=point_id,
        operator_id=operator,
        name=name,
        kind=kind,
        capacity_kg=capacity_kg,
        address=address,
        division_code=division,
        latitude=latitude,
        longitude=longitude,
        name_en=name_en,
    )
    report_write(result, f"collection point {point_id.strip().upper()}")
    warning = app.collection_point(point_id).capacity_warning
    if warning:
        typer.secho(f"warning: {warning}", fg="yellow", err=True)


@collection_points_app.command("approve")
def approve_collection_point(
    point_id: Annotated[str, typer.Argument(help="Id such as CP-110105-0001.")],
    actor: Annotated[str, typer.Option("--as", envvar="BATTERYTRACE_ACTOR", help="Acting regulator.")],
    note: Annotated[str, typer.Option("--note", help="What was checked.")] = "",
) -> None:
    """Approve a collection point its operator registered: public pages then list it."""
    result = open_app().approve_collection_point(actor_id=actor, point_id=point_id, note=note)
    report_write(result, f"collection point {point_id.strip().upper()}")


@collection_points_app.command("list")
def list_collection_points(fmt: FormatOption = "table") -> None:
    """List collection points, with their review state (approved or pending)."""
    from batterytrace.trace.presenters import collection_point_record

    records = [collection_point_record(p) for p in open_app().collection_points()]
    if check_format(fmt) == "json":
        print_json(records)
        return
    table = Table("id", "name", "operator", "kind", "capacity kg", "division", "review")
    for r in records:
        table.add_row(
            r["id"],
            r["name"],
            r["operator_id"],
            r["kind"],
            f"{r['capacity_kg']:g}",
            r["division_code"],
            r["review"],
        )
    console.print(table)
