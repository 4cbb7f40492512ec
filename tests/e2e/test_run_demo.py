"""What ``scripts/run-demo`` (``serve --demo``) prints for a first-time user (issue 11, item 9).

The first start loads the demo and prints codes to try, a key per role, the outlet operator's
collection points and a scan request, body included, that works as printed. A second start on
the same store says the demo is already there and why the keys are new, and still prints codes
to try; the keys of the first start keep working.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.utils.server import running_server

DEMO = ("--demo", "--demo-batteries", "40")
EXAMPLE_ROW = re.compile(r"│ (\w+)\s+│ ([0-9A-Z]{24}) ")
KEY_ROW = re.compile(r"│ (\w+)\s+│ .+? │ (bt_\S+) ")
SCAN = re.compile(
    r"curl -X POST (?P<url>\S+/api/v1/collection-points/(?P<point>CP-[\d-]+)/scans) \\\n"
    r'\s+-H "Authorization: Bearer (?P<key>bt_\S+)" -H "Content-Type: application/json" \\\n'
    r"\s+-d '(?P<body>[^']+)'"
)
POINTS = re.compile(r"outlet_operator (\w{18}) runs (\d+) collection point\(s\): (CP-[\d-]+)")


def _printed(log: str) -> str:
    """What the command printed before uvicorn's own lines."""
    return log.split("INFO:", 1)[0]


def test_run_demo_prints_a_scan_that_works_and_a_second_start_says_why_the_keys_are_new(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'batterytrace.db'}"
    with running_server(database_url, tmp_path, args=DEMO) as server:
        first = _printed(server.log())
        scan = SCAN.search(first)
        assert scan, first
        assert scan["url"] == f"{server.base_url}/api/v1/collection-points/{scan['point']}/scans"
        answer = httpx.post(
            scan["url"], headers={"Authorization": f"Bearer {scan['key']}"}, json=json.loads(scan["body"])
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["collection_point"]["id"] == scan["point"]

    assert "generating demo data (40 batteries)" in first
    examples = dict(EXAMPLE_ROW.findall(first))
    assert {"retired", "recycled", "late_report", "second_life_product"} <= set(examples)
    assert json.loads(scan["body"])["text"] == examples["retired"]
    points = POINTS.search(first)
    assert points and points[3] == scan["point"] and int(points[2]) >= 1, first
    first_keys = dict(KEY_ROW.findall(first))
    assert first_keys["outlet_operator"] == scan["key"] and "regulator" in first_keys
    assert re.search(rf"start page +{re.escape(server.base_url)}/\n", first), first

    with running_server(database_url, tmp_path, args=DEMO) as again:
        second = _printed(again.log())
        replay = httpx.post(
            scan["url"].replace(server.base_url, again.base_url),
            headers={"Authorization": f"Bearer {scan['key']}"},  # a key of the first start
            json=json.loads(scan["body"]),
        )
        assert replay.status_code == 200 and replay.json()["replayed"] is True, replay.text

    assert "generating demo data" not in second
    assert "the store already holds data" in second and "was not generated again" in second
    assert "keys printed before still work" in second
    again_examples = dict(EXAMPLE_ROW.findall(second))
    assert {"retired", "collected", "recycled", "late_report"} <= set(again_examples), second
    assert SCAN.search(second), second
    second_keys = dict(KEY_ROW.findall(second))
    assert set(second_keys) == set(first_keys)
    assert not set(second_keys.values()) & set(first_keys.values())
