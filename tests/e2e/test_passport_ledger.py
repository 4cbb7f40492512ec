"""The passport names the ledger's leaf of the battery's last event and the signed checkpoint that
covers it, on SQLite and PostgreSQL: absent until the ledger logs that event, the leaf the ledger
holds and the battery's records give, ``checkpoint`` null until one is signed, the same in every
access tier, and the aspects still valid Battery Pass 1.2.0."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from batterytrace.events.zone import CHINA_STANDARD_TIME
from batterytrace.projections.ledger_config import write_new_key
from batterytrace.projections.ledger_view import sign_now
from batterytrace.trace.ledger.reading import stream_records
from tests.utils.api import Api, api_on
from tests.utils.batterypass import aspect_errors, model_body
from tests.utils.views import _pack_spec, battery_code, varied_store


def _passport(api: Api, code: str, member: str | None) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/batteries/{code}/passport", headers=api.auth(member))
    assert response.status_code == 200, response.text
    body = response.json()
    assert aspect_errors(body) == []
    return body


def _leaf_held(api: Api, code: str) -> tuple[int, int, str]:
    """The battery's last logged version, its leaf index and hash, from the ledger's tables."""
    with api.client.app.state.runner.engine.connect() as connection:  # type: ignore[attr-defined]
        row = connection.execute(
            text(
                "SELECT version, idx, hash FROM ledger_leaves "
                "WHERE aggregate = :code ORDER BY version DESC LIMIT 1"
            ),
            {"code": code},
        ).one()
    return int(row.version), int(row.idx), bytes(row.hash).hex()


def test_the_passport_names_the_last_events_leaf_and_its_checkpoint(
    database_url: str, tmp_path: Path, monkeypatch
) -> None:
    key = tmp_path / "ledger.key"  # named, made later: the ledger signs nothing until then
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    with api_on(database_url, run_projections=False) as api:
        store = varied_store(api.service, api.cast)
        posted = api.client.post(
            "/api/v1/models", json=model_body("3CAPB12"), headers=api.auth("manufacturer")
        )
        assert posted.status_code == 201, posted.text
        assert "ledger" not in _passport(api, store.non_compliant, None)  # not logged yet: nothing to name

        runner = api.client.app.state.runner  # type: ignore[attr-defined]
        runner.catch_up(["ledger"])
        history = api.service.history(store.non_compliant)
        version, index, sha256 = _leaf_held(api, store.non_compliant)
        assert version == history[-1].originator_version
        assert sha256 == stream_records(history)[-1][2].hex()  # the leaf its records give
        url = f"{api.service.settings.public_url.rstrip('/')}/api/v1/batteries/{store.non_compliant}/evidence"
        unsigned = {"version": version, "index": index, "sha256": sha256, "checkpoint": None, "evidence": url}
        assert _passport(api, store.non_compliant, None)["ledger"] == unsigned
        assert _passport(api, store.non_compliant, "regulator")["ledger"] == unsigned

        signer = write_new_key(key, "127.0.0.1:8000/ledger")
        signed_at = datetime.now(UTC).replace(microsecond=0)
        with runner.engine.begin() as connection:
            assert sign_now(connection, signer, signed_at)
            size = int(connection.execute(text("SELECT max(tree_size) FROM ledger_checkpoints")).scalar_one())
        checkpoint = {"treeSize": size, "signedAt": signed_at.astimezone(CHINA_STANDARD_TIME).isoformat()}
        covered = {**unsigned, "checkpoint": checkpoint}
        assert _passport(api, store.non_compliant, "vehicle_maker")["ledger"] == covered

        late = battery_code("P", 91)
        api.service.produce(actor_id=api.cast.manufacturer, spec=_pack_spec(late))
        assert "ledger" not in _passport(api, late, None)
        runner.catch_up(["ledger"])
        logged = _passport(api, late, None)["ledger"]
        assert logged["version"] == 1 and logged["index"] >= size and logged["checkpoint"] is None
