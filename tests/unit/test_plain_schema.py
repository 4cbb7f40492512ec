"""The plain reads' copy of the views' schema (``projections/plain_schema.py``) is the one the
tables define: the fingerprints the runner stores and every table's columns with their kinds.
When ``tables.py`` changes, this fails until the copy is regenerated."""

from __future__ import annotations

from pathlib import Path

from batterytrace.projections import plain_schema
from batterytrace.projections.tables import VIEWS, schema_fingerprint

REGENERATE = "tables.py changed: run `python -m batterytrace.projections.plain_schema` and commit the result"


def test_the_written_fingerprints_are_the_tables() -> None:
    assert {name: schema_fingerprint(name) for name in VIEWS} == plain_schema.FINGERPRINTS, REGENERATE


def test_the_written_block_is_the_generated_one() -> None:
    source = Path(plain_schema.__file__).read_text(encoding="utf-8")

    assert plain_schema.generated_block() in source, REGENERATE


def test_regenerating_rewrites_only_the_block(tmp_path: Path) -> None:
    copy = tmp_path / "plain_schema.py"
    original = Path(plain_schema.__file__).read_text(encoding="utf-8")
    stale = original.replace(plain_schema.generated_block(), "FINGERPRINTS = {}\nCOLUMNS = {}\n")
    copy.write_text(stale, encoding="utf-8")

    assert plain_schema.regenerate(copy) is True
    assert copy.read_text(encoding="utf-8") == original
    assert plain_schema.regenerate(copy) is False


def test_column_kinds_name_how_values_are_decoded() -> None:
    batteries = dict(plain_schema.COLUMNS["lifecycle_batteries"])

    assert batteries["produced_at"] == "time"
    assert batteries["components"] == "json"
    assert batteries["energy_kwh"] == "plain"
    assert dict(plain_schema.COLUMNS["lifecycle_events"])["late_correction"] == "bool"
