"""The ledger as users reach it, on SQLite and PostgreSQL: ``init`` makes the key, ``ledger key``
prints it, ``verify`` passes on an untouched store and exits 1 naming an edited event, the API
serves the checkpoint, proofs, the public key and a battery's evidence, and ``verify-evidence``
checks that file with nothing but the public key (no database: its URL points nowhere)."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from batterytrace.events.ledger_merkle import verify_consistency, verify_inclusion
from batterytrace.events.ledger_note import open_checkpoint, parse_verifier
from batterytrace.projections.ledger_config import write_new_key
from batterytrace.projections.ledger_view import sign_now
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.e2e.test_cli import Cli
from tests.utils.api import api_on
from tests.utils.cast import register_cast
from tests.utils.views import varied_store


def test_init_verify_and_an_edited_event(database_url: str, tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"
    app = BatteryTrace(Settings(database_url=database_url))
    try:
        store = varied_store(app, register_cast(app))
        table = app.recorder.events_table_name  # type: ignore[attr-defined]
    finally:
        app.close()
    cli = Cli(database_url, tmp_path)
    made = cli.ok("init", BATTERYTRACE_LEDGER_KEY=str(key)).stdout
    assert f"ledger key made at {key}" in made
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    public = cli.ok("ledger", "key", BATTERYTRACE_LEDGER_KEY=str(key)).stdout.strip()
    assert public in made and parse_verifier(public).name == "127.0.0.1:8000/ledger"
    assert "ledger key at" in cli.ok("init", BATTERYTRACE_LEDGER_KEY=str(key)).stdout  # never replaced
    assert public == cli.ok("ledger", "key", BATTERYTRACE_LEDGER_KEY=str(key)).stdout.strip()

    verified = cli.ok("verify", BATTERYTRACE_LEDGER_KEY=str(key)).stdout
    assert "events match their ledger leaves; 1 signed checkpoint(s) verified" in verified
    assert (
        "match their ledger leaves"
        in cli.ok("verify", "--code", store.pack, BATTERYTRACE_LEDGER_KEY=str(key)).stdout
    )

    already = cli.ok("ledger", "checkpoint", BATTERYTRACE_LEDGER_KEY=str(key)).stdout
    assert "covers every logged event already" in already
    cli.ok("ledger", "evidence", store.pack, "--output", "pack.json", BATTERYTRACE_LEDGER_KEY=str(key))
    checked = cli.ok("verify-evidence", "pack.json", "--key", public).stdout
    assert checked.startswith(f"{store.pack}: ") and "signed by the key" in checked

    other = tmp_path / "other.key"
    other_public = write_new_key(other, "127.0.0.1:8000/ledger").verifier().text()
    line = cli.refused("verify", "--key", other_public, BATTERYTRACE_LEDGER_KEY=str(key))
    assert "not signed by 127.0.0.1:8000/ledger" in line

    from sqlalchemy import create_engine

    from batterytrace.projections.database import create_view_engine

    engine = create_view_engine(database_url) if "postgresql" in database_url else create_engine(database_url)
    try:
        with engine.begin() as connection:
            state = connection.execute(
                text(f"SELECT state FROM {table} WHERE originator_id = :o AND originator_version = 1"),
                {"o": store.pack},
            ).scalar_one()
            connection.execute(
                text(f"UPDATE {table} SET state = :s WHERE originator_id = :o AND originator_version = 1"),
                {"s": bytes(state).replace(b"110.5", b"100.5"), "o": store.pack},
            )
    finally:
        engine.dispose()
    line = cli.refused("verify", BATTERYTRACE_LEDGER_KEY=str(key))
    assert f"Battery.Produced of {store.pack} version 1" in line and "changed" in line
    line = cli.refused("verify", "--key", str(tmp_path / "missing.pub"), BATTERYTRACE_LEDGER_KEY=str(key))
    assert "cannot read the public key" in line


def test_a_readable_key_file_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"
    write_new_key(key, "log")
    os.chmod(key, 0o644)
    line = Cli(sqlite_url, tmp_path).refused("ledger", "key", BATTERYTRACE_LEDGER_KEY=str(key))
    assert "may be read by others" in line and "chmod 600" in line


def test_api_checkpoint_proofs_key_and_evidence(database_url: str, tmp_path: Path, monkeypatch) -> None:
    key = tmp_path / "ledger.key"
    signer = write_new_key(key, "127.0.0.1:8000/ledger")
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    monkeypatch.setenv("BATTERYTRACE_LEDGER_CHECKPOINT_EVENTS", "1")  # at every batch
    with api_on(database_url) as api:
        store = varied_store(api.service, api.cast)
        client = api.client
        after = {"after": store.last_notification}
        note = client.get("/api/v1/ledger/checkpoint", params=after)
        assert note.status_code == 200 and note.headers["content-type"].startswith("text/plain")
        checkpoint = open_checkpoint(note.text, signer.verifier(), "127.0.0.1:8000/ledger")
        stored = api.service.recorder.select_notifications(start=1, limit=10_000)
        assert checkpoint.size == len(stored)  # every event logged and signed

        published = client.get("/.well-known/batterytrace-ledger.pub")
        assert published.status_code == 200 and published.text.strip() == signer.verifier().text()

        proof = client.get(
            "/api/v1/ledger/proofs/inclusion", params={"index": 3, "tree_size": checkpoint.size}
        ).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        assert base64.b64decode(proof["root_hash"]) == checkpoint.root
        assert verify_inclusion(
            base64.b64decode(proof["leaf_hash"]), 3, checkpoint.size, hashes, checkpoint.root
        )
        steps = client.get(
            "/api/v1/ledger/proofs/consistency", params={"first": 7, "second": checkpoint.size}
        ).json()
        assert verify_consistency(
            7,
            checkpoint.size,
            base64.b64decode(steps["first_root_hash"]),
            checkpoint.root,
            [base64.b64decode(h) for h in steps["hashes"]],
        )
        for bad in (
            {"index": 0, "tree_size": checkpoint.size + 1},
            {"index": 5, "tree_size": 5},
            {"index": -1, "tree_size": 2},
        ):
            refused = client.get("/api/v1/ledger/proofs/inclusion", params=bad)
            assert (
                refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
            )
        refused = client.get("/api/v1/ledger/proofs/consistency", params={"first": 9, "second": 8})
        assert refused.status_code == 422

        assert client.get(f"/api/v1/batteries/{store.pack}/evidence").status_code == 401
        assert (
            client.get(
                f"/api/v1/batteries/{store.pack}/evidence", headers=api.auth("informal_recycler")
            ).status_code
            == 403
        )
        answer = client.get(f"/api/v1/batteries/{store.pack}/evidence", headers=api.auth("regulator"))
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert document["checkpoint"] == note.text
    evidence = tmp_path / "evidence.json"
    evidence.write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "ledger.pub").write_text(signer.verifier().text() + "\n", encoding="utf-8")
    offline = Cli("sqlite:////nonexistent/nowhere.db", tmp_path)
    checked = offline.ok("verify-evidence", str(evidence), "--key", "ledger.pub").stdout
    assert f"{store.pack}: {len(document['records'])} record(s)" in checked and "signed by the key" in checked
    document["records"][-1]["record"] = document["records"][-1]["record"].replace('"v":1', '"v":1 ')
    evidence.write_text(json.dumps(document), encoding="utf-8")
    assert "canonical" in offline.refused("verify-evidence", str(evidence), "--key", "ledger.pub")
    assert "not an evidence file" in offline.refused("verify-evidence", "ledger.pub", "--key", "ledger.pub")
    assert "not a ledger public key" in offline.refused(
        "verify-evidence", str(evidence), "--key", str(evidence)
    )
    assert not Path("/nonexistent").exists()


def test_evidence_waits_for_a_checkpoint_and_is_for_the_involved(
    sqlite_url: str, tmp_path: Path, monkeypatch
) -> None:
    key = tmp_path / "ledger.key"
    signer = write_new_key(key, "log")
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    with api_on(sqlite_url) as api:
        store = varied_store(api.service, api.cast)
        # the default: one checkpoint at the first batch, then every 1000 events or 10 minutes
        waiting = api.client.get(
            f"/api/v1/batteries/{store.pack}/evidence",
            params={"after": store.last_notification},
            headers=api.auth("regulator"),
        )
        assert (
            waiting.status_code == 409
            and "not covered by a signed checkpoint yet" in waiting.json()["detail"]
        )
        with api.client.app.state.runner.engine.begin() as connection:  # type: ignore[attr-defined]
            assert sign_now(connection, signer, datetime.now(UTC))  # what `ledger checkpoint` does
        answer = api.client.get(
            f"/api/v1/batteries/{store.modules[0]}/evidence",
            params={"after": store.last_notification},
            headers=api.auth("manufacturer"),
        )
        assert answer.status_code == 200, answer.text
    from batterytrace.events.ledger_evidence import check_evidence

    assert check_evidence(answer.content, signer.verifier()).first_version == 1
