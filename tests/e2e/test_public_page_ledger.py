"""The public page (``/b/{code}``) names the signed checkpoint that covers the battery's history,
on SQLite and PostgreSQL, in JSON and in both languages: nothing while the ledger has no key,
"not yet covered" until a checkpoint holds the battery's last event, then the earliest checkpoint
that does (not the latest), with its signing time in China Standard Time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from batterytrace.events.zone import CHINA_STANDARD_TIME
from batterytrace.projections.ledger_config import write_new_key
from batterytrace.projections.ledger_view import sign_now
from tests.utils.api import Api, api_on
from tests.utils.views import _pack_spec, battery_code, varied_store


def _json(api: Api, code: str, after: int) -> dict[str, Any]:
    answer = api.client.get(f"/b/{code}", params={"format": "json", "after": after})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _html(api: Api, code: str, after: int, language: str) -> str:
    answer = api.client.get(
        f"/b/{code}", params={"lang": language, "after": after}, headers={"Accept": "text/html"}
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def _sign(api: Api, signer: Any, when: datetime) -> int:
    """What ``batterytrace ledger checkpoint`` does, at ``when``; the signed tree size."""
    with api.client.app.state.runner.engine.begin() as connection:  # type: ignore[attr-defined]
        assert sign_now(connection, signer, when)
        return int(connection.execute(text("SELECT max(tree_size) FROM ledger_checkpoints")).scalar_one())


def test_the_page_names_the_earliest_covering_checkpoint(
    database_url: str, tmp_path: Path, monkeypatch
) -> None:
    key = tmp_path / "ledger.key"  # named, but not made yet: the ledger signs nothing
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    with api_on(database_url) as api:
        store = varied_store(api.service, api.cast)
        after = store.last_notification
        unsigned = _json(api, store.pack, after)
        assert "ledger_checkpoint" not in unsigned
        assert 'id="ledger"' not in _html(api, store.pack, after, "en")

        signer = write_new_key(key, "127.0.0.1:8000/ledger")
        assert _json(api, store.pack, after)["ledger_checkpoint"] is None
        assert "not yet covered by a signed ledger checkpoint" in _html(api, store.pack, after, "en")
        assert "尚未被防篡改账本的签名检查点覆盖" in _html(api, store.pack, after, "zh")

        first_at = datetime.now(UTC).replace(microsecond=0)  # recent: the view signs no more by age
        first = _sign(api, signer, first_at)
        shown = first_at.astimezone(CHINA_STANDARD_TIME)
        covered = {"tree_size": first, "signed_at": shown.isoformat()}
        assert covered["signed_at"].endswith("+08:00")
        assert _json(api, store.pack, after)["ledger_checkpoint"] == covered
        english = _html(api, store.pack, after, "en")
        assert (
            f"covered by the signed ledger checkpoint of tree size {first}, "
            f"signed {shown.isoformat(sep=' ')}." in english
        )
        chinese = _html(api, store.pack, after, "zh")
        assert f"树大小 {first}，签名于 {shown.isoformat(sep=' ')}" in chinese

        # A battery recorded after that checkpoint waits for the next; the pack keeps the
        # earliest checkpoint that covers it, not the latest.
        late = battery_code("P", 90)
        made = api.service.produce(actor_id=api.cast.manufacturer, spec=_pack_spec(late))
        after = made.notification_id
        assert _json(api, late, after)["ledger_checkpoint"] is None
        second = _sign(api, signer, datetime.now(UTC))
        assert second > first
        assert _json(api, late, after)["ledger_checkpoint"]["tree_size"] == second
        assert _json(api, store.pack, after)["ledger_checkpoint"] == covered
        assert f"tree size {second}," in _html(api, late, after, "en")


def test_checkpoints_signed_as_the_view_follows_cover_the_page(
    database_url: str, tmp_path: Path, monkeypatch
) -> None:
    key = tmp_path / "ledger.key"
    write_new_key(key, "127.0.0.1:8000/ledger")
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    monkeypatch.setenv("BATTERYTRACE_LEDGER_CHECKPOINT_EVENTS", "1")  # at every batch
    with api_on(database_url) as api:
        store = varied_store(api.service, api.cast)
        after = store.last_notification
        for code in (store.pack, store.modules[0], store.product):
            shown = _json(api, code, after)["ledger_checkpoint"]
            with api.client.app.state.runner.engine.connect() as connection:  # type: ignore[attr-defined]
                sizes = connection.execute(
                    text(
                        "SELECT c.tree_size FROM ledger_checkpoints c, ledger_leaves l "
                        "WHERE l.aggregate = :code AND c.tree_size > l.idx "
                        "AND l.version = (SELECT max(version) FROM ledger_leaves WHERE aggregate = :code)"
                    ),
                    {"code": code},
                ).scalars()
                assert shown["tree_size"] == min(sizes), code
            assert shown["signed_at"].endswith("+08:00")
            assert f"tree size {shown['tree_size']}," in _html(api, code, after, "en")
