"""A view's tables built beside the live ones, written set-wise, and swapped in at once.

Why: a rebuild that upserts batch after batch into the live tables spends most of its time in SQL
round trips and leaves readers an empty, half-built view for as long as it runs. Here a rebuild
writes each of a view's tables under another name (``<table>_rebuild``) with one multi-row
statement per chunk (``executemany`` on SQLite, ``COPY`` on PostgreSQL), in short transactions of
their own, so the event store's writers are never held up for long; then one transaction drops
the live tables, renames the fresh ones, creates their indexes and moves the view's position.
DDL is transactional on both databases: readers see the old view or the new one, never a mix,
and a crash at any moment before that commit leaves the old view and its position as they were
(the leftover ``_rebuild`` tables are dropped by the next rebuild).

No secondary index is made until the swap: indexes built once over sorted data cost less than
indexes kept up row by row, and index names are unique per schema on both databases, so they can
only take their real names once the live tables are gone. Primary keys and unique constraints:
on SQLite from the start (it cannot add a primary key to a table). On PostgreSQL they are added
once the rows are in (``prepare_swap``, with the indexes under fresh names, before the swap's
transaction, so readers never wait for them): keeping a key up during ``COPY`` cost the server
a fifth of a rebuild's CPU, in random order (the timeline arrives in event order, keyed by
battery), where one sort builds it at the end. A table some of whose rows are written early
(``flushed_early``: they may have to be read back by key) gets its key at that first early
write, and keeps it up from then on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect

from batterytrace.projections.tables import UTCDateTime, positions
from batterytrace.sqlite_turn import SQLiteTurn

SUFFIX = "_rebuild"
READ_BACK_CHUNK = 500  # keys per IN (...) when a flushed row is read back


class FreshTables:
    """The fresh copies of some views' tables, and the set-wise writes into them."""

    def __init__(self, engine: Engine, tables: Iterable[Table], *, keys_first: bool = False) -> None:
        """``keys_first``: the fresh tables keyed from the start on PostgreSQL too (see the
        module's docstring), for a rebuild whose fold follows a writer (``WrittenHeads``): it
        waits for the writer's pages much of the time, so keys kept up meanwhile cost little,
        where keys added at the end would all come after the writer's last event."""
        self.engine = engine
        self._metadata = MetaData()
        keyed = keys_first or engine.dialect.name != "postgresql"
        self.fresh: dict[str, Table] = {t.name: _fresh_copy(t, self._metadata, keyed) for t in tables}
        self.live: dict[str, Table] = {t.name: t for t in tables}
        self._flushed: set[str] = set()  # tables some of whose keyed rows were written early
        self._unkeyed: set[str] = set() if keyed else set(self.live)  # keys still to add
        self._indexed: set[str] = set()  # tables whose indexes are made, under fresh names
        self._turns: tuple[int, SQLiteTurn] | None = None  # (process, its turn): see ``_writing``

    # ------------------------------------------------------------------------------ building
    def create(self) -> None:
        """Drop what a rebuild that did not finish left, and create empty fresh tables."""
        with self.engine.begin() as connection:
            self._metadata.drop_all(connection)
            self._metadata.create_all(connection)

    def drop(self) -> None:
        """Remove the fresh tables (after a failure: the live view stays as it was)."""
        with self.engine.begin() as connection:
            self._metadata.drop_all(connection)

    def write(
        self,
        table: Table,
        rows: Sequence[dict[str, Any]] | Sequence[tuple[Any, ...]],
        *,
        flushed_early: bool = False,
    ) -> None:
        """Insert ``rows`` (dicts with every column of ``table``, or tuples of every column in
        its order) into its fresh copy, in one transaction. ``flushed_early``: these rows may
        change again later (see ``read_back``).

        The rows are made ready for the driver (``_as_tuples``: times as SQLite's text, JSON as
        text) before the transaction begins. Why: on SQLite the rebuild's two processes take
        turns at the file's one write lock (``_writing``), and converting inside the turn kept
        the other process waiting for work that needs no lock (a 100k rebuild's final writes:
        the parent waited 3.2 of the ledger's 4.3 s for the child's turn)."""
        if rows:
            ready = _as_tuples(self.engine.dialect, self.fresh[table.name], rows)
            self._insert(table, ready, flushed_early)

    def write_tuples(
        self, table: Table, rows: Sequence[tuple[Any, ...]], *, flushed_early: bool = False
    ) -> None:
        """``write`` for rows already made tuples in column order, with values the driver takes
        as they are (``insert_tuples``): the ledger writes three rows an event, and a dict per
        row cost it more than the write."""
        self._insert(table, rows, flushed_early)

    def _insert(self, table: Table, rows: Sequence[tuple[Any, ...]], flushed_early: bool) -> None:
        """Rows ready for the driver into ``table``'s fresh copy, in one write transaction (in
        turn, on SQLite); rows written early key their table (``_add_keys``), since they may be
        read back by key."""
        if not rows:
            return
        if flushed_early:
            self._flushed.add(table.name)
        with self._writing() as connection:
            insert_tuples(connection, self.fresh[table.name], rows)
            if flushed_early:
                self._add_keys(connection, table.name)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction into the fresh tables, on SQLite in turn with the file's other
        writers (``sqlite_turn``).

        Why: a rebuild's two processes (``parallel_fold``) write their views' fresh tables into
        one SQLite file, which has one write lock; waiting for it in SQLite's busy handler (which
        sleeps in growing steps) left each of them idle a fifth of a rebuild (4.3 and 6.6 s of
        30, 600k events). A turn wakes within half a millisecond of the other's commit. Each
        process takes its own (a lock file opened before a fork would be shared with the child)."""
        if self._turns is None or self._turns[0] != os.getpid():
            sqlite_file = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
            self._turns = (os.getpid(), SQLiteTurn(sqlite_file))
        with self.engine.connect() as connection, self._turns[1], connection.begin():
            yield connection

    def read_back(self, table: Table, key: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The rows of ``keys`` written early to ``table``'s fresh copy, removed from it so that
        they can be written again, changed, with a plain insert. Nothing when none was."""
        if table.name not in self._flushed:
            return {}
        fresh = self.fresh[table.name]
        wanted = sorted(set(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._writing() as connection:
            for start in range(0, len(wanted), READ_BACK_CHUNK):
                chunk = wanted[start : start + READ_BACK_CHUNK]
                rows = connection.execute(select(fresh).where(fresh.c[key].in_(chunk))).mappings()
                found.update({row[key]: dict(row) for row in rows})
                connection.execute(delete(fresh).where(fresh.c[key].in_(chunk)))
        return found

    def prepare_swap(self) -> None:
        """What can be made of the fresh tables once every row is in, before the swap's
        transaction (which readers wait for). On PostgreSQL: each table's keys (``_add_keys``)
        and its secondary indexes under fresh names (``swap`` renames them), in two connections
        at a time (the server builds them while this process waits; largest tables first), each
        table in a transaction of its own. A duplicate key fails it, and so the rebuild, as it
        would have failed the row's insert. On SQLite nothing: its tables are keyed from the
        start, and an index cannot be renamed, so ``swap`` creates the indexes."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect() as connection:
            query = text(
                "SELECT name, pg_relation_size(to_regclass(name)) FROM unnest(CAST(:names AS text[])) name"
            )
            rows = connection.execute(query, {"names": [self.fresh[name].name for name in self.live]})
            sizes = {table: size for table, size in rows}
        largest_first = sorted(self.live, key=lambda name: -(sizes.get(self.fresh[name].name) or 0))
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rebuild-index") as pool:
            for done in [pool.submit(self._index, name) for name in largest_first]:
                done.result()

    def _index(self, name: str) -> None:
        fresh = self.fresh[name]
        with self.engine.begin() as connection:
            self._add_keys(connection, name)
            for index in self.live[name].indexes:
                columns = ", ".join(f'"{c.name}"' for c in index.columns)
                unique = "UNIQUE " if index.unique else ""
                connection.execute(
                    text(f'CREATE {unique}INDEX "{index.name}{SUFFIX}" ON "{fresh.name}" ({columns})')
                )
        self._indexed.add(name)

    def _add_keys(self, connection: Connection, name: str) -> None:
        """The primary key and unique constraints of table ``name`` that its fresh copy lacks, in
        the caller's transaction, named as PostgreSQL names them itself (``<table>_pkey``,
        ``<table>_<column>_key``, which ``swap`` renames with the table). Asked of the server,
        not only of ``_unkeyed``: a table written early may have been keyed by the rebuild's
        other process (``parallel_fold``), which holds its own copy of this object."""
        if name not in self._unkeyed:
            return
        live, fresh = self.live[name], self.fresh[name]
        wanted: dict[str, str] = {}
        if live.primary_key.columns:
            keys = ", ".join(f'"{c.name}"' for c in live.primary_key.columns)
            wanted[f"{fresh.name}_pkey"] = f"PRIMARY KEY ({keys})"
        for column in (c.name for c in live.columns if c.unique):
            wanted[f"{fresh.name}_{column}_key"] = f'UNIQUE ("{column}")'
        present = set(
            connection.execute(
                text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:table)"),
                {"table": fresh.name},
            ).scalars()
        )
        clauses = [f'ADD CONSTRAINT "{key}" {what}' for key, what in wanted.items() if key not in present]
        if clauses:
            connection.execute(text(f'ALTER TABLE "{fresh.name}" {", ".join(clauses)}'))
        self._unkeyed.discard(name)

    # ------------------------------------------------------------------------------ swapping
    def swap(self, connection: Connection, positions_now: dict[str, tuple[int, str]]) -> None:
        """In the caller's transaction: the fresh tables become the live ones, with the live
        tables' indexes, and each view in ``positions_now`` stands at its (position, fingerprint)."""
        postgres = connection.dialect.name == "postgresql"
        for name in list(self._unkeyed):  # any not keyed before (``prepare_swap``)
            self._add_keys(connection, name)
        for name, live in self.live.items():
            fresh = self.fresh[name]
            live.drop(connection, checkfirst=True)
            connection.execute(text(f'ALTER TABLE "{fresh.name}" RENAME TO "{live.name}"'))
            if postgres:  # the primary key's and unique constraints' indexes keep their names
                connection.execute(
                    text(f'ALTER INDEX IF EXISTS "{fresh.name}_pkey" RENAME TO "{live.name}_pkey"')
                )
                for column in (c.name for c in live.columns if c.unique):
                    connection.execute(
                        text(
                            f'ALTER INDEX IF EXISTS "{fresh.name}_{column}_key" '
                            f'RENAME TO "{live.name}_{column}_key"'
                        )
                    )
            for index in live.indexes:
                if name in self._indexed:  # made before (``prepare_swap``): its real name now
                    connection.execute(text(f'ALTER INDEX "{index.name}{SUFFIX}" RENAME TO "{index.name}"'))
                else:
                    index.create(connection)
        for view, (position, fingerprint) in positions_now.items():
            connection.execute(
                update(positions)
                .where(positions.c.view == view)
                .values(position=position, schema=fingerprint)
            )


def _fresh_copy(table: Table, metadata: MetaData, keyed: bool) -> Table:
    """``table``'s columns under the fresh name, without its secondary indexes; ``keyed``: with
    its primary key and unique constraints (else ``FreshTables.prepare_swap`` adds them later)."""
    columns = [
        Column(
            c.name,
            c.type,
            primary_key=keyed and c.primary_key,
            nullable=c.nullable,
            unique=keyed and c.unique,  # a constraint as in the live table (ledger_leaves.notification_id)
            autoincrement=False,
        )
        for c in table.columns
    ]
    return Table(table.name + SUFFIX, metadata, *columns)


# ------------------------------------------------------------------------------ bulk inserts
def insert_tuples(connection: Connection, table: Table, tuples: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``tuples`` as one set: ``COPY`` on PostgreSQL, one ``executemany`` on SQLite. The
    tuples are in column order with values both drivers take as they are (integers, texts, bytes,
    nulls: what ``_as_tuples`` makes of a view's rows, and the ledger makes itself)."""
    names = [c.name for c in table.columns]
    driver = connection.connection.driver_connection
    quoted = ", ".join(f'"{n}"' for n in names)
    if connection.dialect.name == "postgresql":
        types = _binary_types(table, tuples)
        binary = " (FORMAT BINARY)" if types else ""
        statement = f'COPY "{table.name}" ({quoted}) FROM STDIN{binary}'
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            if types:
                copy.set_types(types)
            for row in tuples:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(names))
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', tuples)
    finally:
        cursor.close()


def _binary_types(table: Table, tuples: Sequence[tuple[Any, ...]]) -> list[str] | None:
    """The PostgreSQL types to ``COPY`` ``tuples`` in binary with, or None to copy them as text.

    Why: psycopg writes a row in the binary format in about a third of the time it takes to
    format it as text (times and numbers are packed, not printed). The server stores the same
    values either way, as long as each value is packed as its column's type: so binary is used
    only when every column has a known type (``_BINARY``) and holds only the Python types that
    type's packing takes exactly as the text would have been read (strings for texts and JSON
    text, ints for integers, floats or ints for floats, aware datetimes for times …). Anything
    else (a tuple list from a caller that is not a list, a value of another type, a naive time)
    goes as text, as before."""
    if not isinstance(tuples, list | tuple) or not tuples:
        return None
    known = [_binary_type(column) for column in table.columns]
    if None in known:
        return None
    for (_, allowed), values in zip(known, zip(*tuples, strict=True), strict=True):  # type: ignore[misc]
        kinds = set(map(type, values))
        kinds.discard(_NONE)
        if not kinds <= allowed:
            return None
        if datetime in kinds and None in map(_tzinfo, filter(None, values)):
            return None  # a naive time: as text, read in the session's zone as before
    return [pg_type for pg_type, _ in known]  # type: ignore[misc]


_NONE = type(None)
_tzinfo = attrgetter("tzinfo")


def _binary_type(column: Column[Any]) -> tuple[str, frozenset[type]] | None:
    """A column's PostgreSQL type for a binary ``COPY`` and the Python types it takes there;
    None for a type not known here (by its exact class: a subclass may be another type on the
    server, as JSONB is to JSON or REAL to FLOAT)."""
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if getattr(column_type, "_variant_mapping", None):
        return None  # ``with_variant``: the server's type may be another (JSON as JSONB)
    kind = type(column_type)
    if kind is DateTime:
        return _TIMESTAMPTZ if column_type.timezone else None  # type: ignore[attr-defined]
    if kind is Float and column_type.precision is not None:  # type: ignore[attr-defined]
        return None  # FLOAT(p) may be a real
    return _BINARY.get(kind)


_TEXT = ("text", frozenset({str}))
_TIMESTAMPTZ = ("timestamptz", frozenset({datetime}))
# JSON is packed as its text (the rows' JSON is already text), which is the json type's binary
# format; a varchar's binary format is its text.
_BINARY: dict[type, tuple[str, frozenset[type]]] = {
    JSON: _TEXT,
    String: _TEXT,
    Text: _TEXT,
    BigInteger: ("int8", frozenset({int})),
    Integer: ("int4", frozenset({int})),
    SmallInteger: ("int2", frozenset({int})),
    Float: ("float8", frozenset({float, int})),
    Boolean: ("bool", frozenset({bool})),
    LargeBinary: ("bytea", frozenset({bytes})),
}


def _as_tuples(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]] | Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order, with the values the driver is given: JSON as text; on
    SQLite times as SQLAlchemy's text and other values through SQLAlchemy's own bind processors;
    on PostgreSQL, whose ``COPY`` takes every other Python value as it is, nothing else. Rows
    that are tuples already (in column order, every column) are only converted: a view that
    makes a row an event need not make a dict for it."""
    columns = list(table.columns)
    processors = _processors(dialect, columns)
    if type(rows[0]) is tuple:
        raw: Sequence[tuple[Any, ...]] = rows  # type: ignore[assignment]
    else:
        absent = {c.name: _default(c) for c in columns if c.name not in rows[0]}
        if absent:  # as an INSERT would: a column the rows leave out takes its default
            rows = [{**absent, **row} for row in rows]  # type: ignore[dict-item]
        getter = itemgetter(*[c.name for c in columns])
        raw = [(getter(row),) for row in rows] if len(columns) == 1 else list(map(getter, rows))
    if not processors:
        return list(raw)
    # Converted column by column (a transpose costs little, a Python loop over every value of
    # every row cost a tenth of a rebuild's writing).
    by_column: list[Sequence[Any]] = list(zip(*raw, strict=True))
    for i, process in processors:
        values = by_column[i]
        if None in values:
            by_column[i] = [None if value is None else process(value) for value in values]
        else:
            by_column[i] = list(map(process, values))
    return list(zip(*by_column, strict=True))


def _default(column: Column[Any]) -> Any:
    default = column.default
    return getattr(default, "arg", None) if default is not None and default.is_scalar else None


def _processors(dialect: Dialect, columns: Sequence[Column[Any]]) -> list[tuple[int, Callable[[Any], Any]]]:
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        if isinstance(column.type, JSON):
            found.append((i, json_text))
            continue
        if dialect.name == "postgresql":
            continue  # COPY takes every other Python value as it is
        if isinstance(column.type, UTCDateTime):
            found.append((i, sqlite_utc_text))
            continue
        process = column.type._cached_bind_processor(dialect)  # SQLAlchemy's own converter
        if process is not None:
            found.append((i, process))
    return found


def sqlite_utc_text(value: datetime) -> str:
    """What SQLAlchemy stores on SQLite for a ``UTCDateTime`` (UTC, no zone, always with
    microseconds: compared as text in queries, so it must be the very same text), in C calls
    instead of its Python formatting, which took a tenth of a rebuild
    (``tests/unit/test_fresh_tables.py`` checks they agree). An aware time becomes the naive UTC
    time by adding its distance from the epoch to the naive epoch (two C operations, less than
    ``astimezone`` and ``replace``), and ``str`` of a naive time is its ISO text with a space
    (half the time of an aware one's, whose offset is formatted), without microseconds when
    they are 0 (added back): this runs for every time of every row on SQLite."""
    if value.tzinfo is None:  # a naive time is local time, as ``astimezone`` has it
        value = value.astimezone(UTC)
    text = str(_NAIVE_EPOCH + (value - _UTC_EPOCH))
    return text if len(text) == _WITH_MICROSECONDS else text + ".000000"


_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_WITH_MICROSECONDS = len("2024-01-01 00:00:00.000000")


def json_text(value: Any) -> str:
    """A JSON column's text, by orjson (a tenth of ``json.dumps``' time; the views only ever
    parse these columns back, never compare their text), by ``json`` for what orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: keys that are not strings, integers beyond 64 bits
        return json.dumps(value, ensure_ascii=False)
