"""``plain_db.target_of`` reads a database URL as ``store.eventsourcing_env`` (SQLAlchemy's URL
parser) does, for every form it handles, and leaves every other form to the SQLAlchemy path."""

from __future__ import annotations

from pathlib import Path

import pytest

from batterytrace.projections.plain_db import Target, target_of
from batterytrace.store import ConfigurationError, eventsourcing_env

POSTGRES_URLS = [
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://postgres@127.0.0.1:5432/test?schema=t_1",
    "postgresql://user:secret@db.example.org/trace",
    "postgresql://user:p%40ss%2Fword@db:6543/trace?schema=bt",
    "postgresql://db/trace",
    "postgresql:///trace",
    "postgresql://u%20x@host/d%2Db",
]


def _as_env(target: Target) -> dict[str, str]:
    """The part of ``eventsourcing_env`` a target stands for."""
    if target.dialect == "sqlite":
        return {"SQLITE_DBNAME": target.path or ""}
    env = {
        "POSTGRES_DBNAME": target.dbname,
        "POSTGRES_HOST": target.host,
        "POSTGRES_PORT": str(target.port),
        "POSTGRES_USER": target.user,
        "POSTGRES_PASSWORD": target.password,
    }
    if target.schema:
        env["POSTGRES_SCHEMA"] = target.schema
    return env


@pytest.mark.parametrize("url", POSTGRES_URLS)
def test_a_postgres_url_names_the_database_the_event_store_opens(url: str) -> None:
    target = target_of(url)
    expected = eventsourcing_env(url)

    assert target is not None
    assert _as_env(target) == {key: expected[key] for key in _as_env(target)}
    assert ("POSTGRES_SCHEMA" in expected) == (target.schema is not None)


def test_a_sqlite_url_names_the_file_the_event_store_opens(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a b.db").write_bytes(b"")
    (tmp_path / "rel.db").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    for url in (f"sqlite:///{tmp_path}/a%20b.db", f"sqlite:///{tmp_path}/rel.db", "sqlite:///rel.db"):
        target = target_of(url)
        assert target is not None
        assert target.path == eventsourcing_env(url)["SQLITE_DBNAME"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1/test",  # a driver name
        "postgresql://postgres@127.0.0.1/test?sslmode=require",  # an option besides the schema
        "postgresql://postgres@127.0.0.1/test?schema=bad-name",  # refused by the full path
        "postgresql://postgres@127.0.0.1:notaport/test",
        "postgresql://postgres@[::1]:5432/test",
        "postgresql://h1,h2/test",
        "postgresql://postgres@127.0.0.1:5432/",  # no database
        "mysql://root@localhost/trace",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///missing/folder/batterytrace.db",  # no file: the full path creates or refuses it
        "sqlite:///file.db?mode=ro",
        "not a url",
    ],
)
def test_other_forms_are_left_to_the_full_path(url: str) -> None:
    assert target_of(url) is None


def test_a_refused_url_is_refused_by_the_full_path_too() -> None:
    with pytest.raises(ConfigurationError):
        eventsourcing_env("postgresql://postgres@127.0.0.1/test?schema=bad-name")
