"""The read models' tables, each shaped for the question it answers.

Four views, each with its own tables and its own position in the event stream, so that any one
can be dropped and rebuilt alone: ``lifecycle`` (one battery's whole life, by primary key),
``network`` (collection points, flows between participants, regions), ``reports`` (per
manufacturer and month, swaps per operator, overdue and compliance) and ``ledger`` (the Merkle
log of every event, issue 15; its signed checkpoints are kept outside the view's tables). A view
never reads another view's tables while it is being built; queries may join them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no zone support) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

positions = Table(
    "view_positions",
    metadata,
    Column("view", String(40), primary_key=True),
    Column("position", BigInteger, nullable=False),
    # A fingerprint of the view's table definitions: when a new release changes them, the view
    # is rebuilt from the events instead of failing on a missing column.
    Column("schema", String(64), nullable=False, default=""),
)

# ---------------------------------------------------------------------------------- lifecycle
lifecycle_batteries = Table(
    "lifecycle_batteries",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("level", String(10), nullable=False),
    Column("battery_type", String(1), nullable=False),
    Column("manufacturer_id", String(18), nullable=False, index=True),
    Column("manufacturer_code", String(3), nullable=False),
    Column("production_date", String(10), nullable=False),
    Column("rated_capacity_ah", Float, nullable=False),
    Column("nominal_voltage_v", Float, nullable=False),
    Column("energy_kwh", Float, nullable=False),
    Column("mass_kg", Float, nullable=False),
    Column("state", String(20), nullable=False, index=True),
    Column("holder_kind", String(20)),
    Column("holder_id", String(80)),
    Column("responsible_id", String(18)),
    Column("vin", String(17)),
    Column("site", String(200)),
    Column("collection_point_id", String(44), index=True),
    Column("pack", String(24)),
    Column("second_life_product", String(24)),
    Column("components", JSON, nullable=False),
    Column("derived_from", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("produced_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
    Column("scrapped_at", UTCDateTime),  # when its vehicle was handed to a dismantler for scrapping
    Column("last_occurred_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

lifecycle_events = Table(
    "lifecycle_events",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("event", String(30), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor_id", String(18), nullable=False),
    Column("late_correction", Boolean, nullable=False),
    Column("reported_late", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
)

lifecycle_participants = Table(
    "lifecycle_participants",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200)),  # the name on English pages; None: show ``name``
    Column("roles", JSON, nullable=False),
    Column("manufacturer_codes", JSON, nullable=False),
    Column("division_code", String(6)),
    Column("whitelist", JSON, nullable=False),
)

lifecycle_points = Table(
    "lifecycle_points",
    metadata,
    Column("id", String(44), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200)),  # the name on English pages; None: show ``name``
    Column("operator_id", String(18), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("capacity_kg", Float, nullable=False),
    Column("address", String(300), nullable=False),
    Column("division_code", String(6), nullable=False, index=True),
    Column("latitude", Float),
    Column("longitude", Float),
)

# ------------------------------------------------------------------------------------ network
network_points = Table(
    "network_points",
    metadata,
    Column("id", String(44), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200)),  # the name on English pages; None: show ``name``
    Column("operator_id", String(18), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("capacity_kg", Float, nullable=False),
    Column("division_code", String(6), nullable=False),
    Column("province_code", String(6), nullable=False, index=True),
    Column("prefecture_code", String(6), nullable=False, index=True),
    Column("latitude", Float),
    Column("longitude", Float),
    # pending (registered by its operator) or approved (by a regulator): public pages list only
    # approved points; the regulator's network report shows both.
    Column("review", String(10), nullable=False, default="pending"),
    # Summed quantities are whole grams and watt-hours, so that sums are exact (quantities.py).
    Column("collected_count", Integer, nullable=False, default=0),
    Column("collected_g", BigInteger, nullable=False, default=0),
    Column("collected_wh", BigInteger, nullable=False, default=0),
    Column("on_hand_count", Integer, nullable=False, default=0),
    Column("on_hand_g", BigInteger, nullable=False, default=0),
    Column("handed_over_count", Integer, nullable=False, default=0),
    Column("handed_over_g", BigInteger, nullable=False, default=0),
    Column("handed_compliant_count", Integer, nullable=False, default=0),
    Column("recycled_count", Integer, nullable=False, default=0),
    Column("cascade_used_count", Integer, nullable=False, default=0),
)

network_flows = Table(
    "network_flows",
    metadata,
    Column("source_kind", String(20), primary_key=True),  # collection_point or enterprise
    Column("source_id", String(44), primary_key=True),
    Column("receiver_id", String(18), primary_key=True),
    Column("activity", String(20), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("mass_g", BigInteger, nullable=False),  # whole grams and watt-hours: exact sums
    Column("energy_wh", BigInteger, nullable=False),
    Column("compliant_count", Integer, nullable=False),
    Index("ix_network_flows_receiver", "receiver_id"),
)

# The last collection point each battery passed through, to credit recycling and second life
# to the region where the battery was handed in.
network_last_point = Table(
    "network_last_point",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("point_id", String(44), nullable=False),
)

network_participants = Table(
    "network_participants",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200)),  # the name on English pages; None: show ``name``
    Column("roles", JSON, nullable=False),
    Column("division_code", String(6)),
)

# ------------------------------------------------------------------------------------ reports
report_batteries = Table(
    "report_batteries",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("manufacturer_id", String(18), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("retired_at", UTCDateTime),
    # When a collection point or a whitelisted receiver first took the retired battery in.
    Column("channel_at", UTCDateTime),
    Column("handover_activity", String(20)),
    Column("handover_compliant", Boolean),
    Column("last_occurred_at", UTCDateTime, nullable=False),
    # Its vehicle's scrapping (Battery.VehicleScrapped): the event, the dismantler, and the moment
    # the dismantler's handover became late (its deadline, events/deadlines.py), from which the
    # ``scrapped_not_handed_over`` finding is computed at query time, like the overdue report.
    Column("scrapped_version", Integer),
    Column("scrapped_at", UTCDateTime),
    Column("scrapped_by", String(18)),
    Column("scrapped_due_at", UTCDateTime),
    Column("scrapped_deadline_days", Integer),
    Index("ix_report_batteries_overdue", "channel_at", "retired_at"),
    Index("ix_report_batteries_scrapped", "scrapped_due_at"),
)

report_monthly = Table(
    "report_monthly",
    metadata,
    Column("manufacturer_id", String(18), primary_key=True),
    Column("month", String(7), primary_key=True),  # YYYY-MM, China Standard Time
    Column("produced", Integer, nullable=False),
    # Energy in whole watt-hours and masses in whole grams, so that sums are exact (quantities.py).
    Column("produced_wh", BigInteger, nullable=False),
    Column("installed", Integer, nullable=False),
    Column("retired", Integer, nullable=False),
    Column("collected", Integer, nullable=False),
    Column("cascade_used", Integer, nullable=False),
    Column("recycled", Integer, nullable=False),
    Column("recycled_whitelisted", Integer, nullable=False),
    # Of the batteries retired in this month, how many have since reached a whitelisted recycler
    # or a second life: the recycling rate's numerator (a cohort share, never above 1).
    Column("retired_then_formal", Integer, nullable=False),
    Column("recovered_li_g", BigInteger, nullable=False),
    Column("recovered_ni_g", BigInteger, nullable=False),
    Column("recovered_co_g", BigInteger, nullable=False),
    Column("recovered_mn_g", BigInteger, nullable=False),
    Column("recovered_total_g", BigInteger, nullable=False),
    Index("ix_report_monthly_month", "month"),
)

report_findings = Table(
    "report_findings",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(30), primary_key=True),
    Column("manufacturer_id", String(18), nullable=False, index=True),
    Column("event", String(30), nullable=False),
    Column("actor_id", String(18), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("detail", String(500), nullable=False),
    # A late report's deadline: the moment it became late (00:00 China Standard Time after the
    # last allowed day), the working days and the role it was held to (events/deadlines.py).
    # Empty for other kinds of finding.
    Column("due_at", UTCDateTime),
    Column("deadline_working_days", Integer),
    Column("deadline_role", String(20)),
    Index("ix_report_findings_kind", "kind", "occurred_at"),
)

# Battery swaps per swap operator, station division and month (China Standard Time): one swap is
# one battery swapped in, paired with the one swapped out in the same command. Kept by division so
# that a region filter of any depth is exact; the report adds them up by province.
report_swaps = Table(
    "report_swaps",
    metadata,
    Column("operator_id", String(18), primary_key=True),
    Column("division_code", String(6), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("province_code", String(6), nullable=False),
    Column("swaps", Integer, nullable=False),
    Index("ix_report_swaps_month", "month"),
)

# The roles each participant registered with (they never change), to find which deadline a
# report is held to; the reports view keeps its own copy rather than read the lifecycle view's.
report_participants = Table(
    "report_participants",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("roles", JSON, nullable=False),
)

# -------------------------------------------------------------------------------------- ledger
# The tamper-evidence log (projections/ledger_view.py): every stored event's canonical record as a
# leaf of an RFC 9162 Merkle tree, in notification order, stored as tiles of height 8 (C2SP
# tlog-tiles): the leaves' hashes (``ledger_leaves.hash``) and every complete subtree whose level is
# a multiple of 8 (``ledger_nodes``), each written once; a subtree between (levels 1-7, 9-15, …)
# is folded from at most 128 stored ones on reading (``ledger_merkle.stored_span``). A proof reads
# O(log n) short ranges; an event costs one leaf row and 1/256 of a node row to write.
ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Which leaf is which event (to find a stream's records in the tree, and a leaf's event), and its
# hash (the tree's level 0).
ledger_leaves = Table(
    "ledger_leaves",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("notification_id", BigInteger, nullable=False, unique=True),
    Column("aggregate", String(80), nullable=False),
    Column("version", Integer, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Index("ix_ledger_leaves_stream", "aggregate", "version", unique=True),
)

# The tree's right edge (``ledger_merkle.Frontier``): one complete subtree per binary digit of its
# size, rewritten with every batch. What the follower appends to, read in one query; most of its
# nodes are not stored in tiles yet (they are inside an unfinished tile).
ledger_edge = Table(
    "ledger_edge",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Each stream's last record's leaf hash: the next record's ``prev`` (the stream's hash chain).
ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("aggregate", String(80), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("leaf", LargeBinary(32), nullable=False),
)

# Signed checkpoints. Not a view table: a rebuild keeps them (they are what left the system, and
# the rebuilt tree must reproduce their roots), so it is in ``metadata`` but not in VIEW_TABLES.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
)

VIEW_TABLES: dict[str, list[Table]] = {
    "lifecycle": [lifecycle_batteries, lifecycle_events, lifecycle_participants, lifecycle_points],
    "network": [network_points, network_flows, network_last_point, network_participants],
    "reports": [report_batteries, report_monthly, report_findings, report_participants, report_swaps],
    "ledger": [ledger_nodes, ledger_leaves, ledger_heads, ledger_edge],
}
VIEWS = tuple(VIEW_TABLES)


def schema_fingerprint(view: str) -> str:
    """A short digest of the view's tables as this release defines them."""
    import hashlib

    from sqlalchemy.schema import CreateTable

    text = "\n".join(str(CreateTable(table)) for table in VIEW_TABLES[view])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
