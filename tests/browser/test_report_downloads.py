"""The regulator dashboard reads whole reports (issue 11, item 3): it follows each JSON page's
``next`` link instead of guessing from page sizes, and a table's CSV download is one request
without ``limit``/``offset``, which the API answers with every row for the filters (proved at
2,500 rows in tests/e2e/test_report_paging.py); the saved file holds as many rows as the API's
``total``."""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import DemoSite, console_errors, sign_in


def test_the_monthly_download_is_every_row_in_one_request(browser: Any, demo_site: DemoSite) -> None:
    context = browser.new_context(accept_downloads=True, locale="en-GB")
    page = context.new_page()
    errors = console_errors(page)
    asked: list[dict[str, list[str]]] = []
    page.on(
        "request",
        lambda request: (
            asked.append(parse_qs(urlparse(request.url).query))
            if urlparse(request.url).path == "/api/v1/reports/monthly"
            else None
        ),
    )
    try:
        sign_in(page, demo_site, "regulator", "/regulator")
        page.wait_for_selector("#regulator[data-state=ready]")
        assert asked and all(query.get("limit") == ["1000"] for query in asked)  # pages of 1000
        asked.clear()
        with page.expect_download() as caught:
            page.click("#rg-monthly-card .rg-csv")
        with open(caught.value.path(), encoding="utf-8", newline="") as saved:
            rows = list(csv.DictReader(saved))
        assert len(asked) == 1 and asked[0].get("format") == ["csv"], asked
        assert "limit" not in asked[0] and "offset" not in asked[0], asked
        with demo_site.server.client("regulator", demo_site.keys) as client:
            total = client.get("/api/v1/reports/monthly", params={"limit": 1}).json()["total"]
        assert len(rows) == total > 0
        assert errors == []
    finally:
        context.close()
