"""Fresh, disposable stores for benchmarks: a SQLite file in a temp folder or a PostgreSQL schema."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace

POSTGRES_URL = os.environ.get("BATTERYTRACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_store(kind: str) -> Iterator[str]:
    """Yield a database URL for an empty store of ``kind`` (sqlite or postgres); removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bt-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def register_manufacturer(app: BatteryTrace, manufacturer_code: str = "3CA") -> str:
    """Register a regulator and one manufacturer owning ``manufacturer_code``; return its id."""
    from batterytrace.events.credit_code import credit_code_check_character

    regulator = "11100000000013127" + credit_code_check_character("11100000000013127")
    maker = "91350900MA2YE0001" + credit_code_check_character("91350900MA2YE0001")
    app.register_participant(actor_id=None, credit_code=regulator, name="Regulator", roles=["regulator"])
    app.register_participant(
        actor_id=regulator,
        credit_code=maker,
        name="Bench Cells Co.",
        roles=["manufacturer"],
        manufacturer_codes=[manufacturer_code],
    )
    return maker


def register_outlet_and_recycler(
    app: BatteryTrace, regulator: str, *, operator: str, recycler: str, point: str, capacity_kg: int
) -> None:
    """An outlet operator with one collection point in Chaoyang, Beijing, and a recycler
    whitelisted for recycling since 30 days ago: what the scan and hand-over loads need."""
    from datetime import timedelta

    for code, name, role in (
        (operator, "Bench Outlets", "outlet_operator"),
        (recycler, "Bench Recycling", "recycler"),
    ):
        app.register_participant(actor_id=regulator, credit_code=code, name=name, roles=[role])
    app.grant_whitelist(
        actor_id=regulator,
        participant_id=recycler,
        activity="recycling",
        effective_on=app.clock().date() - timedelta(days=30),
    )
    app.register_collection_point(
        actor_id=regulator,
        point_id=point,
        operator_id=operator,
        name="Bench outlet",
        kind="collection",
        capacity_kg=capacity_kg,
        address="1 Battery Road, Chaoyang, Beijing",
        division_code="110105",
    )
