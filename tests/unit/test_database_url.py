"""The PostgreSQL schema named in BATTERYTRACE_DATABASE_URL (issue 11, item 12): a name the
library can write into its SQL as it is, or one clear refusal (a usage error, exit status 2)."""

from __future__ import annotations

import pytest

from batterytrace.store import ConfigurationError, InvalidSetting, eventsourcing_env

SERVER = "postgresql://postgres@127.0.0.1:5432/batterytrace"


@pytest.mark.parametrize("schema", ["batterytrace", "_staging", "tenant_44", "T2026", "x" * 63])
def test_a_schema_name_of_letters_digits_and_underscores_is_passed_to_the_store(schema: str) -> None:
    assert eventsourcing_env(f"{SERVER}?schema={schema}")["POSTGRES_SCHEMA"] == schema


def test_no_schema_means_the_servers_default() -> None:
    assert "POSTGRES_SCHEMA" not in eventsourcing_env(SERVER)
    assert "POSTGRES_SCHEMA" not in eventsourcing_env(f"{SERVER}?schema=")


@pytest.mark.parametrize(
    "schema", ["my-schema", "2026_data", "a b", "x" * 64, "public;DROP", "名字", "a.b", '"quoted"']
)
def test_a_schema_that_is_not_a_plain_name_is_refused_with_how_to_write_one(schema: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        eventsourcing_env(f"{SERVER}?schema={schema}")

    assert isinstance(refused.value, ConfigurationError)
    assert refused.value.exit_status == 2
    assert refused.value.message.startswith("BATTERYTRACE_DATABASE_URL names the schema ")
    assert "letters, digits and underscores (at most 63, not starting with a digit)" in refused.value.message
