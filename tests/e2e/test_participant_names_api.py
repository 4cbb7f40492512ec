"""An enterprise registered with its English name (``name_en``) shows it wherever the API answers
its record (itself, the regulator's list, ``/me``), so English pages can use it; the Chinese
registered name stays ``name``. On both stores."""

from __future__ import annotations

from tests.e2e.test_api_participants import NEW_RECYCLER, get, post, registration
from tests.utils.api import Api


def test_an_enterprise_registered_with_its_english_name_is_answered_with_both(api: Api) -> None:
    body = registration(name="成都再生资源有限公司", name_en="Chengdu Recycling Co.")
    answer = post(api, "/api/v1/participants", "regulator", body)
    assert answer.status_code == 201, answer.text
    token = answer.json()["api_key"]["token"]
    for record in (
        answer.json()["participant"],
        get(api, "/api/v1/me", token=token).json(),
        next(
            p
            for p in get(api, "/api/v1/participants", "regulator").json()["items"]
            if p["credit_code"] == NEW_RECYCLER
        ),
    ):
        assert (record["name"], record["name_en"]) == ("成都再生资源有限公司", "Chengdu Recycling Co.")
    assert get(api, "/api/v1/me", "recycler").json()["name_en"] is None  # registered without one
