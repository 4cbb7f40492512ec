"""The views' tables as the plain reads need to know them, without SQLAlchemy: each view's schema
fingerprint and each table's columns, in order, with how a value is decoded.

The read-only commands (``show``, ``report``) check that the views are current and read them
through the DB-API driver alone (``plain_reads.py``), because importing SQLAlchemy and building
the tables' metadata is most of their start-up. The fingerprint the runner stores comes from that
metadata (``tables.schema_fingerprint``), so it is written down here, generated, and
tests/unit/test_plain_schema.py fails when ``tables.py`` changes and this block is stale.
Regenerate it with::

    python -m batterytrace.projections.plain_schema

Column kinds: ``time`` (``UTCDateTime``: naive UTC text on SQLite, ``timestamptz`` on PostgreSQL),
``json``, ``bool`` (0/1 on SQLite) and ``plain`` (the driver's value as it is).
"""

from __future__ import annotations

from pathlib import Path

# BEGIN GENERATED (python -m batterytrace.projections.plain_schema)
FINGERPRINTS: dict[str, str] = {
    "lifecycle": "cf135bb1aebcd3d2",
    "network": "c419f599639824bc",
    "reports": "2f79948bba63fb08",
    "ledger": "5fbf8ee124c8bbdc",
}
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "view_positions": (
        ("view", "plain"),
        ("position", "plain"),
        ("schema", "plain"),
    ),
    "lifecycle_batteries": (
        ("code", "plain"),
        ("level", "plain"),
        ("battery_type", "plain"),
        ("manufacturer_id", "plain"),
        ("manufacturer_code", "plain"),
        ("production_date", "plain"),
        ("rated_capacity_ah", "plain"),
        ("nominal_voltage_v", "plain"),
        ("energy_kwh", "plain"),
        ("mass_kg", "plain"),
        ("state", "plain"),
        ("holder_kind", "plain"),
        ("holder_id", "plain"),
        ("responsible_id", "plain"),
        ("vin", "plain"),
        ("site", "plain"),
        ("collection_point_id", "plain"),
        ("pack", "plain"),
        ("second_life_product", "plain"),
        ("components", "json"),
        ("derived_from", "json"),
        ("flags", "json"),
        ("produced_at", "time"),
        ("retired_at", "time"),
        ("scrapped_at", "time"),
        ("last_occurred_at", "time"),
        ("version", "plain"),
    ),
    "lifecycle_events": (
        ("code", "plain"),
        ("version", "plain"),
        ("position", "plain"),
        ("event", "plain"),
        ("occurred_at", "time"),
        ("recorded_at", "time"),
        ("actor_id", "plain"),
        ("late_correction", "bool"),
        ("reported_late", "bool"),
        ("details", "json"),
    ),
    "lifecycle_participants": (
        ("credit_code", "plain"),
        ("name", "plain"),
        ("name_en", "plain"),
        ("roles", "json"),
        ("manufacturer_codes", "json"),
        ("division_code", "plain"),
        ("whitelist", "json"),
    ),
    "lifecycle_points": (
        ("id", "plain"),
        ("name", "plain"),
        ("name_en", "plain"),
        ("operator_id", "plain"),
        ("kind", "plain"),
        ("capacity_kg", "plain"),
        ("address", "plain"),
        ("division_code", "plain"),
        ("latitude", "plain"),
        ("longitude", "plain"),
    ),
    "network_points": (
        ("id", "plain"),
        ("name", "plain"),
        ("name_en", "plain"),
        ("operator_id", "plain"),
        ("kind", "plain"),
        ("capacity_kg", "plain"),
        ("division_code", "plain"),
        ("province_code", "plain"),
        ("prefecture_code", "plain"),
        ("latitude", "plain"),
        ("longitude", "plain"),
        ("review", "plain"),
        ("collected_count", "plain"),
        ("collected_g", "plain"),
        ("collected_wh", "plain"),
        ("on_hand_count", "plain"),
        ("on_hand_g", "plain"),
        ("handed_over_count", "plain"),
        ("handed_over_g", "plain"),
        ("handed_compliant_count", "plain"),
        ("recycled_count", "plain"),
        ("cascade_used_count", "plain"),
    ),
    "network_flows": (
        ("source_kind", "plain"),
        ("source_id", "plain"),
        ("receiver_id", "plain"),
        ("activity", "plain"),
        ("count", "plain"),
        ("mass_g", "plain"),
        ("energy_wh", "plain"),
        ("compliant_count", "plain"),
    ),
    "network_last_point": (
        ("code", "plain"),
        ("point_id", "plain"),
    ),
    "network_participants": (
        ("credit_code", "plain"),
        ("name", "plain"),
        ("name_en", "plain"),
        ("roles", "json"),
        ("division_code", "plain"),
    ),
    "report_batteries": (
        ("code", "plain"),
        ("manufacturer_id", "plain"),
        ("state", "plain"),
        ("retired_at", "time"),
        ("channel_at", "time"),
        ("handover_activity", "plain"),
        ("handover_compliant", "bool"),
        ("last_occurred_at", "time"),
        ("scrapped_version", "plain"),
        ("scrapped_at", "time"),
        ("scrapped_by", "plain"),
        ("scrapped_due_at", "time"),
        ("scrapped_deadline_days", "plain"),
    ),
    "report_monthly": (
        ("manufacturer_id", "plain"),
        ("month", "plain"),
        ("produced", "plain"),
        ("produced_wh", "plain"),
        ("installed", "plain"),
        ("retired", "plain"),
        ("collected", "plain"),
        ("cascade_used", "plain"),
        ("recycled", "plain"),
        ("recycled_whitelisted", "plain"),
        ("retired_then_formal", "plain"),
        ("recovered_li_g", "plain"),
        ("recovered_ni_g", "plain"),
        ("recovered_co_g", "plain"),
        ("recovered_mn_g", "plain"),
        ("recovered_total_g", "plain"),
    ),
    "report_findings": (
        ("code", "plain"),
        ("version", "plain"),
        ("kind", "plain"),
        ("manufacturer_id", "plain"),
        ("event", "plain"),
        ("actor_id", "plain"),
        ("occurred_at", "time"),
        ("recorded_at", "time"),
        ("detail", "plain"),
        ("due_at", "time"),
        ("deadline_working_days", "plain"),
        ("deadline_role", "plain"),
    ),
    "report_participants": (
        ("credit_code", "plain"),
        ("roles", "json"),
    ),
    "report_swaps": (
        ("operator_id", "plain"),
        ("division_code", "plain"),
        ("month", "plain"),
        ("province_code", "plain"),
        ("swaps", "plain"),
    ),
    "ledger_nodes": (
        ("level", "plain"),
        ("idx", "plain"),
        ("hash", "plain"),
    ),
    "ledger_leaves": (
        ("idx", "plain"),
        ("notification_id", "plain"),
        ("aggregate", "plain"),
        ("version", "plain"),
        ("hash", "plain"),
    ),
    "ledger_heads": (
        ("aggregate", "plain"),
        ("version", "plain"),
        ("leaf", "plain"),
    ),
    "ledger_edge": (
        ("level", "plain"),
        ("hash", "plain"),
    ),
}
# END GENERATED

_BEGIN = "# BEGIN GENERATED (python -m batterytrace.projections.plain_schema)\n"
_END = "# END GENERATED\n"


def generated_block() -> str:
    """The block this module should hold, from the tables' metadata (imports SQLAlchemy)."""
    from sqlalchemy import JSON, Boolean

    from batterytrace.projections.tables import VIEW_TABLES, VIEWS, UTCDateTime, positions, schema_fingerprint

    def kind(column_type: object) -> str:
        if isinstance(column_type, UTCDateTime):
            return "time"
        if isinstance(column_type, JSON):
            return "json"
        return "bool" if isinstance(column_type, Boolean) else "plain"

    tables = [positions, *(table for name in VIEWS for table in VIEW_TABLES[name])]
    lines = ["FINGERPRINTS: dict[str, str] = {"]
    lines += [f'    "{name}": "{schema_fingerprint(name)}",' for name in VIEWS]
    lines += ["}", "COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {"]
    for table in tables:
        lines.append(f'    "{table.name}": (')
        lines += [f'        ("{column.name}", "{kind(column.type)}"),' for column in table.columns]
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def regenerate(path: Path = Path(__file__)) -> bool:
    """Rewrite the generated block of this module's source; True if it changed."""
    source = path.read_text(encoding="utf-8")
    head, _, rest = source.partition(_BEGIN)
    _, _, tail = rest.partition(_END)
    updated = head + _BEGIN + generated_block() + _END + tail
    if updated == source:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


if __name__ == "__main__":
    print("regenerated" if regenerate() else "already current")
