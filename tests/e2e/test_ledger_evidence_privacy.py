"""A battery's evidence file hands no participant another's request ids (issue 15), on SQLite and
PostgreSQL: outlet A scans a battery in with its own scan id and hands it over with its own
request id; the battery's manufacturer (involved from the start, knows the VIN), the recycler
that received it (involved from the hand-over, no VIN) and the regulator get evidence without
either id, which ``verify-evidence`` still accepts; after ``projections rebuild ledger`` the
store still passes ``verify``."""

from __future__ import annotations

import json
from pathlib import Path

from batterytrace.events.ledger_evidence import check_evidence
from batterytrace.projections.ledger_config import write_new_key
from tests.e2e.test_cli import Cli
from tests.utils.api import api_on
from tests.utils.views import VIN, varied_store

SCAN_ID = "A-SECRET-123"  # the outlet's own scan id (an ERP number, say)
HANDOVER_ID = "A-SECRET-456"


def test_evidence_holds_no_request_id_of_another_party(
    database_url: str, tmp_path: Path, monkeypatch
) -> None:
    key = tmp_path / "ledger.key"
    signer = write_new_key(key, "127.0.0.1:8000/ledger")
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    monkeypatch.setenv("BATTERYTRACE_LEDGER_CHECKPOINT_EVENTS", "1")  # a checkpoint at every batch
    with api_on(database_url) as api:
        store = varied_store(api.service, api.cast)
        code = store.others["retired"]  # made by the manufacturer, retired by the vehicle maker
        outlet = api.auth("outlet_operator")
        scanned = api.client.post(
            f"/api/v1/collection-points/{api.cast.collection_point}/scans",
            json={"text": code, "client_scan_id": SCAN_ID, "source_vin": VIN},
            headers=outlet,
        )
        assert scanned.status_code == 201, scanned.text
        handed = api.client.post(
            f"/api/v1/batteries/{code}/handover",
            json={"receiver_id": api.cast.recycler, "activity": "recycling", "request_id": HANDOVER_ID},
            headers=outlet,
        )
        assert handed.status_code in (200, 201) and handed.json()["replayed"] is False, handed.text
        after = {"after": handed.json()["notification_id"]}
        files = {}
        for reader in ("manufacturer", "recycler", "regulator"):
            answer = api.client.get(
                f"/api/v1/batteries/{code}/evidence", params=after, headers=api.auth(reader)
            )
            assert answer.status_code == 200, answer.text
            files[reader] = answer.content
        # the outlet's own scan is answered as a replay still: the store keeps its request ids
        again = api.client.post(
            f"/api/v1/collection-points/{api.cast.collection_point}/scans",
            json={"text": code, "client_scan_id": SCAN_ID},
            headers=outlet,
        )
        assert again.status_code == 200 and again.json()["replayed"] is True, again.text

    for reader, content in files.items():
        text = content.decode()
        assert SCAN_ID not in text and HANDOVER_ID not in text and "request_id" not in text, reader
        checked = check_evidence(content, signer.verifier())
        assert (
            checked.aggregate == code
            and checked.last_version == checked.first_version + len(json.loads(content)["records"]) - 1
        )
    records = [json.loads(r["record"]) for r in json.loads(files["manufacturer"])["records"]]
    assert records[0]["version"] == 1  # involved from the start: the whole history
    collected = next(r for r in records if r["type"] == "Battery.Collected")
    assert collected["data"]["source_vin"] == VIN and collected["actor"] == api.cast.outlet_operator
    recycler = [json.loads(r["record"]) for r in json.loads(files["recycler"])["records"]]
    assert [r["type"] for r in recycler] == ["Battery.HandedOver"]  # from its involvement on, no VIN
    assert VIN not in files["recycler"].decode() and VIN in files["manufacturer"].decode()

    (tmp_path / "ledger.pub").write_text(signer.verifier().text() + "\n", encoding="utf-8")
    (tmp_path / "recycler.json").write_bytes(files["recycler"])
    offline = Cli("sqlite:////nonexistent/nowhere.db", tmp_path)
    assert "signed by the key" in offline.ok("verify-evidence", "recycler.json", "--key", "ledger.pub").stdout

    cli = Cli(database_url, tmp_path)
    cli.ok("projections", "rebuild", "ledger", BATTERYTRACE_LEDGER_KEY=str(key))
    verified = cli.ok("verify", BATTERYTRACE_LEDGER_KEY=str(key)).stdout
    assert "events match their ledger leaves" in verified
