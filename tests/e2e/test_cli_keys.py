"""Issue 10, finding 6, through the real CLI: ``participants keys`` lists a participant's keys
(table, CSV, JSON) and ``participants revoke-keys`` revokes them all but one; a key that is not
there is refused with a message naming the command that lists keys, which exists. SQLite."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.e2e.test_cli import Cli
from tests.utils.cast import NationalCast

CAST = NationalCast()
TOKEN = re.compile(r"\bbt_([0-9a-f]+)_\S+")


def issued_key_id(output: str) -> str:
    found = TOKEN.search(output)
    assert found, output
    return found.group(1)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(f"sqlite:///{tmp_path / 'batterytrace.db'}", tmp_path)
    cli.ok("init")
    cli.ok("participants", "add", CAST.regulator, "--name", "MIIT traceability", "--role", "regulator")
    return cli


def test_the_cli_lists_a_participants_keys_and_revokes_all_but_one(cli: Cli) -> None:
    added = cli.ok(
        "participants", "add", CAST.recycler, "--name", "Ganzhou Recycling", "--role", "recycler",
        "--as", CAST.regulator,
    )  # fmt: skip
    first = issued_key_id(added.stdout)
    second = issued_key_id(cli.ok("participants", "key", CAST.recycler, "--label", "ERP upload").stdout)

    table = cli.ok("participants", "keys", CAST.recycler).stdout
    for text in (first, second, "ERP upload", "operator (CLI)", "live", "never", "+08:00"):
        assert text in table, table
    records = cli.ok("participants", "keys", CAST.recycler, "--format", "json").json()
    assert [r["key_id"] for r in records] == [first, second]
    assert all(r["issued_by"] is None and r["issued_via"] is None and not r["revoked"] for r in records)
    rows = list(
        csv.DictReader(io.StringIO(cli.ok("participants", "keys", CAST.recycler, "-f", "csv").stdout))
    )
    assert [row["key_id"] for row in rows] == [first, second] and "secret_digest" not in rows[0]

    revoked = cli.ok(
        "participants", "revoke-keys", CAST.recycler, "--reason", "audit", "--except", first,
        "--as", CAST.regulator,
    )  # fmt: skip
    assert f"revoked 1 key(s): {second}" in revoked.stdout, revoked.stdout
    states = {r["key_id"]: r for r in cli.ok("participants", "keys", CAST.recycler, "-f", "json").json()}
    assert not states[first]["revoked"]
    assert (states[second]["revoked"], states[second]["revoked_by"], states[second]["revoke_reason"]) == (
        True,
        CAST.regulator,
        "audit",
    )
    assert "revoked" in cli.ok("participants", "keys", CAST.recycler).stdout

    # The operator on the server (no --as) revokes the rest; nothing live is left to revoke.
    assert (
        f"revoked 1 key(s): {first}"
        in cli.ok("participants", "revoke-keys", CAST.recycler, "--reason", "closed").stdout
    )
    assert "none was live" in cli.ok("participants", "revoke-keys", CAST.recycler, "--reason", "x").stdout


def test_revoke_keys_refuses_another_participants_actor_and_an_unknown_kept_key(cli: Cli) -> None:
    cli.ok(
        "participants", "add", CAST.recycler, "--name", "Ganzhou Recycling", "--role", "recycler",
        "--as", CAST.regulator,
    )  # fmt: skip
    cli.ok(
        "participants", "add", CAST.dismantler, "--name", "Suzhou Dismantling", "--role", "dismantler",
        "--as", CAST.regulator,
    )  # fmt: skip
    refused = cli.refused(
        "participants", "revoke-keys", CAST.recycler, "--reason", "rival", "--as", CAST.dismantler
    )
    assert f"cannot revoke the API keys of {CAST.recycler}" in refused
    refused = cli.refused(
        "participants", "revoke-keys", CAST.recycler, "--reason", "x", "--except", "0123456789abcdef"
    )
    assert "is not a live key of" in refused and "participants keys" in refused


def test_an_unknown_key_names_a_command_that_exists(cli: Cli) -> None:
    refused = cli.refused("participants", "revoke-key", "0123456789abcdef", "--as", CAST.regulator)
    assert "'batterytrace participants keys CREDIT_CODE'" in refused, refused
    assert "List a participant's API keys" in cli.ok("participants", "keys", "--help").stdout
    assert cli.ok("participants", "keys", CAST.regulator, "-f", "json").json()[0]["key_id"]
