"""Lists that are not reports answer in the reports' page shape (issue 11, item 1 follow-up), on
SQLite and PostgreSQL: the participants (regulator), the public collection points and the
batteries an outlet holds now. Before, they answered ``{items, limit, offset, count}``: a page had
no total and no link to the next one, so a page could not tell "all of them" from "the first
100". Now every page says ``total`` and links ``next`` (null on the last page); walking ``next``
reads every row exactly once; ``format=csv`` holds every row.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from batterytrace.trace.api.routes.participants import ParticipantRecord
from tests.e2e.test_api_scan import retired, scan_text
from tests.utils.api import Api

CAST_SIZE = 9  # the regulator and the eight enterprises of tests/utils/cast.py


def read(api: Api, path: str, member: str | None, **params: Any) -> dict[str, Any]:
    answer = api.client.get(path, params=params, headers=api.auth(member))
    assert answer.status_code == 200, answer.text
    return answer.json()


def walk(api: Api, path: str, member: str | None, **params: Any) -> tuple[list[dict[str, Any]], list[dict]]:
    """Every row, following ``next`` from the first page; and the pages, without their items."""
    page = read(api, path, member, **params)
    rows, pages = [], []
    while True:
        rows += page["items"]
        pages.append({key: value for key, value in page.items() if key != "items"})
        if page["next"] is None:
            return rows, pages
        answer = api.client.get(page["next"], headers=api.auth(member))
        assert answer.status_code == 200, answer.text
        page = answer.json()


def link(next_page: str) -> tuple[str, dict[str, str]]:
    """A ``next`` link's path and query parameters (their order does not matter)."""
    parts = urlsplit(next_page)
    return parts.path, dict(parse_qsl(parts.query))


def csv_rows(api: Api, path: str, member: str | None, **params: Any) -> list[dict[str, str]]:
    answer = api.client.get(path, params={**params, "format": "csv"}, headers=api.auth(member))
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_the_participants_list_says_its_total_and_walking_next_reads_everyone_once(api: Api) -> None:
    everyone, pages = walk(api, "/api/v1/participants", "regulator", limit=4)

    assert [(p["total"], p["count"], p["offset"]) for p in pages] == [(9, 4, 0), (9, 4, 4), (9, 1, 8)]
    assert link(pages[0]["next"]) == ("/api/v1/participants", {"limit": "4", "offset": "4"})
    assert len({p["credit_code"] for p in everyone}) == CAST_SIZE == len(everyone)
    assert api.cast.regulator == everyone[0]["credit_code"]  # in order of registration

    recyclers = read(api, "/api/v1/participants", "regulator", role="recycler", limit=1)
    assert (recyclers["total"], recyclers["count"]) == (2, 1)
    assert link(recyclers["next"]) == (
        "/api/v1/participants",
        {"role": "recycler", "limit": "1", "offset": "1"},
    )


def test_the_participants_csv_holds_everyone_in_the_records_columns(api: Api) -> None:
    answer = api.client.get("/api/v1/participants", params={"format": "csv"}, headers=api.auth("regulator"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == ",".join(ParticipantRecord.model_fields)
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == CAST_SIZE
    recycler = next(row for row in rows if row["credit_code"] == api.cast.recycler)
    assert recycler["roles"] == '["recycler"]' and '"activity": "recycling"' in recycler["whitelist"]

    translated = api.client.get(
        "/api/v1/participants", params={"format": "csv", "lang": "zh"}, headers=api.auth("regulator")
    )
    assert translated.status_code == 422
    assert "no translated header row; drop lang" in translated.text


def test_the_public_collection_points_say_their_total_and_link_the_next_page(api: Api) -> None:
    first = read(api, "/api/v1/collection-points", None, limit=1)
    assert (first["total"], first["count"], first["limit"], first["offset"]) == (1, 1, 1, 0)
    assert first["next"] is None  # the vehicle maker's own point is still pending review
    approved = api.client.post(
        f"/api/v1/collection-points/{api.cast.other_collection_point}/approve", headers=api.auth("regulator")
    )
    assert approved.status_code == 200, approved.text

    points, pages = walk(
        api, "/api/v1/collection-points", None, limit=1, after=approved.json()["notification_id"]
    )
    assert [p["id"] for p in points] == [api.cast.collection_point, api.cast.other_collection_point]
    assert [(p["total"], p["offset"]) for p in pages] == [(2, 0), (2, 1)]
    after = approved.json()["notification_id"]
    assert link(pages[0]["next"]) == (
        "/api/v1/collection-points",
        {"limit": "1", "after": str(after), "offset": "1"},
    )
    assert [row["id"] for row in csv_rows(api, "/api/v1/collection-points", None, limit=1)] == [
        api.cast.collection_point
    ]
    assert len(csv_rows(api, "/api/v1/collection-points", None)) == 2


def test_an_outlets_stock_says_its_total_and_its_csv_holds_every_battery(api: Api) -> None:
    codes = [retired(api, serial) for serial in (611, 612, 613)]
    for number, code in enumerate(codes):
        scanned = scan_text(api, code, f"stock-{number}")
        assert scanned.status_code == 201, scanned.text
    after = scanned.json()["notification_id"]
    path = f"/api/v1/collection-points/{api.cast.collection_point}/batteries"

    stock, pages = walk(api, path, "outlet_operator", limit=2, after=after)
    assert [b["code"] for b in stock] == codes  # longest-held first, each once
    assert [(p["total"], p["count"]) for p in pages] == [(3, 2), (3, 1)]
    assert pages[-1]["next"] is None
    assert [row["code"] for row in csv_rows(api, path, "outlet_operator")] == codes
