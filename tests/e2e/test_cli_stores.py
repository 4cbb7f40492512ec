"""``batterytrace init`` on the stores a first user points it at (issue 11, item 12): a PostgreSQL
schema that does not exist yet is created, a schema name that is not a name is refused on one
line as a usage error, and a file that is not a SQLite database is called just that (not "check
that the database server is running")."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.test_cli import CAST, Cli


def _schema_exists(server_url: str, schema: str) -> bool:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    return found is not None


@pytest.mark.postgres
def test_init_creates_the_postgresql_schema_named_in_the_url(postgres_server: str, tmp_path: Path) -> None:
    import psycopg

    schema = f"t_new_{uuid.uuid4().hex[:10]}"
    separator = "&" if "?" in postgres_server else "?"
    cli = Cli(f"{postgres_server}{separator}schema={schema}", tmp_path)
    try:
        first = cli.ok("init")
        again = cli.ok("init")
        assert _schema_exists(postgres_server, schema)
        assert f"schema={schema} (0 events)" in first.stdout
        assert f"schema={schema} (0 events)" in again.stdout
        cli.ok("participants", "add", CAST.regulator, "--name", "MIIT", "--role", "regulator")
        assert "MIIT" in cli.ok("participants", "list").stdout
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize(
    "schema", ["my-schema", "1st", "a;DROP TABLE x", "s p a c e", "x" * 64, "%22quoted%22"]
)
def test_a_schema_name_that_is_not_a_name_is_a_usage_error_on_one_line(schema: str, tmp_path: Path) -> None:
    cli = Cli(f"postgresql://postgres@127.0.0.1:5432/test?schema={schema}", tmp_path)

    result = cli.run("init", COLUMNS="40")

    assert result.returncode == 2, str(result)
    assert result.stdout == "" and "Traceback" not in result.stderr, str(result)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: BATTERYTRACE_DATABASE_URL names the schema "), line
    assert "use letters, digits and underscores (at most 63, not starting with a digit)" in line
    assert "syntax error" not in line


def test_a_file_that_is_not_a_sqlite_database_is_called_that(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping: milk, batteries\n" * 50, encoding="utf-8")
    cli = Cli(f"sqlite:///{notes}", tmp_path)

    line = cli.refused("init")

    assert line == (
        f"error: {str(notes)!r} is not a SQLite database; point BATTERYTRACE_DATABASE_URL at a "
        "batterytrace .db file, or at a new file name to create one"
    )
    assert notes.read_text(encoding="utf-8").startswith("shopping")  # left as it was


def test_an_empty_file_becomes_a_new_store(tmp_path: Path) -> None:
    empty = tmp_path / "new.db"
    empty.touch()

    assert "(0 events)" in Cli(f"sqlite:///{empty}", tmp_path).ok("init").stdout


@pytest.mark.postgres
def test_a_user_that_owns_only_its_schema_can_still_init(postgres_server: str, tmp_path: Path) -> None:
    """Production users often may not create schemas (no CREATE on the database): an existing
    schema must then be used as it is, not re-created."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"t_own_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN')
        admin.execute(f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"')
    server = make_url(postgres_server).set(username=name, password=None)
    cli = Cli(f"{server.render_as_string(hide_password=False)}?schema={name}", tmp_path)
    try:
        assert f"schema={name} (0 events)" in cli.ok("init").stdout
        # and the user indeed may not create schemas: creating a missing one is refused clearly
        other = Cli(f"{server.render_as_string(hide_password=False)}?schema={name}_x", tmp_path)
        line = other.refused("init")
        assert line.startswith(f"error: cannot create the schema '{name}_x' at postgresql://"), line
        assert "GRANT CREATE ON DATABASE" in line
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')
