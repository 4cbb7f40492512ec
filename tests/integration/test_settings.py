"""A database URL that cannot work is refused at start-up with one clear ConfigurationError.

The person who set ``BATTERYTRACE_DATABASE_URL`` reads the message on one line: it names what is
wrong and how to fix it, hides the library's exception chain, and comes quickly even when the
server is unreachable.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import ConfigurationError, Settings

UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/test"
UNREACHABLE_LIMIT_SECONDS = 15


def refusal(database_url: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as refused:
        BatteryTrace(Settings(database_url=database_url))
    error = refused.value
    assert "\n" not in error.message, "the message is read on one line"
    assert error.message == str(error)
    assert error.__suppress_context__ or error.__cause__ is None, "no library traceback attached"
    assert error.kind == "configuration-error"
    return error


@pytest.mark.parametrize("database_url", ["nonsense://", "mysql://x/y"])
def test_a_store_batterytrace_does_not_support_is_refused_naming_the_supported_ones(
    database_url: str,
) -> None:
    started = time.monotonic()
    message = refusal(database_url).message

    assert time.monotonic() - started < 1
    backend = database_url.split(":", 1)[0]
    assert f"'{backend}'" in message
    assert "BATTERYTRACE_DATABASE_URL" in message
    assert "sqlite:///" in message and "postgresql://" in message


def test_text_that_is_no_url_at_all_is_refused_with_examples() -> None:
    message = refusal("not a url").message

    assert "is not a database URL" in message
    assert "sqlite:///" in message and "postgresql://" in message


def test_an_in_memory_sqlite_database_is_refused_because_it_would_lose_events() -> None:
    message = refusal("sqlite://").message

    assert "SQLite file" in message and "in-memory" in message


def test_a_sqlite_file_in_a_missing_folder_is_refused_naming_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "batterytrace.db"

    message = refusal(f"sqlite:///{missing}").message

    assert str(missing) in message
    assert "does not exist" in message
    assert "BATTERYTRACE_DATABASE_URL" in message
    assert not missing.parent.exists(), "refusing must not create the folder"


def test_a_file_that_is_not_a_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("minutes of the meeting\n", encoding="utf-8")
    message = str(refusal(f"sqlite:///{path}"))
    assert message.startswith(f"{str(path)!r} is not a SQLite database")
    assert "server is running" not in message  # there is no server to check
    assert "BATTERYTRACE_DATABASE_URL" in message
    assert path.read_text(encoding="utf-8") == "minutes of the meeting\n"


def test_an_unreachable_postgresql_server_is_refused_quickly() -> None:
    started = time.monotonic()
    message = refusal(UNREACHABLE_POSTGRES).message
    elapsed = time.monotonic() - started

    assert elapsed < UNREACHABLE_LIMIT_SECONDS, f"took {elapsed:.1f} s"
    assert "cannot open the event store" in message
    assert "127.0.0.1:1/test" in message
    assert "database server is running" in message
    assert "BATTERYTRACE_DATABASE_URL" in message


def test_the_password_of_an_unreachable_server_is_not_shown() -> None:
    message = refusal("postgresql://postgres:s3cret-pw@127.0.0.1:1/test").message

    assert "s3cret-pw" not in message
    assert "127.0.0.1:1/test" in message


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_refused_naming_it(postgres_server: str) -> None:
    message = refusal("postgresql://postgres@127.0.0.1:5432/no_such_batterytrace_db").message

    assert "does not exist" in message, message


def test_the_url_is_read_from_the_environment_when_no_settings_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATTERYTRACE_DATABASE_URL", "mysql://x/y")
    with pytest.raises(ConfigurationError, match="'mysql'"):
        BatteryTrace()

    monkeypatch.setenv("BATTERYTRACE_IMPORT_BATCH_SIZE", "0")
    with pytest.raises(ConfigurationError, match="BATTERYTRACE_IMPORT_BATCH_SIZE='0'"):
        BatteryTrace()
