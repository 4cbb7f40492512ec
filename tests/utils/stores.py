"""Fresh stores for fixtures: a SQLite file, or a schema of its own on the PostgreSQL test server
that is dropped afterwards, so that tests never see each other's events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def fresh_schema(server: str, prefix: str = "t") -> Iterator[str]:
    """A database URL on a new schema of ``server`` (named ``<prefix>_<random>``), dropped after."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{server}{'&' if '?' in server else '?'}schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, prefix: str
) -> Iterator[str]:
    """For a fixture parametrised by store ("sqlite" or "postgres"): a fresh store's URL."""
    if request.param == "postgres":
        with fresh_schema(request.getfixturevalue("postgres_server"), prefix) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp(prefix) / 'batterytrace.db'}"
