"""The start page at ``/`` (issue 11, item 9): whoever opens the service's address finds, in
Chinese by default or in English, links to the pages, the API documentation and the health
probes, instead of a JSON 404; every link it offers answers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.utils.api import Api, api_on

LINKS = ("/outlet", "/regulator", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("home")
    with api_on(f"sqlite:///{folder / 'batterytrace.db'}") as client:
        yield client


def _links(page: str) -> list[str]:
    return re.findall(r'<a (?:class="[^"]*" )?href="(/[^"]*)"', page)


def test_the_start_page_is_chinese_by_default_and_links_every_page_docs_and_probe(api: Api) -> None:
    answer = api.client.get("/")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="zh">' in page
    assert "动力电池溯源" in page and "回收服务网点" in page and "监管看板" in page
    assert set(LINKS) <= set(_links(page))
    assert "/b/&lt;code&gt;" in page  # how to reach a battery's public page
    assert "script" not in page  # nothing runs: the policy allows no script at all
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_the_start_page_speaks_english_when_asked_and_remembers_it(api: Api) -> None:
    answer = api.client.get("/?lang=en")

    assert answer.status_code == 200
    assert '<html lang="en">' in answer.text
    assert "Power battery traceability" in answer.text and "Regulator dashboard" in answer.text
    assert "动力电池溯源" not in answer.text
    assert 'href="?lang=zh"' in answer.text  # the switch back
    assert "bt_lang=en" in answer.headers["set-cookie"]
    assert '<html lang="en">' in api.client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text


def test_every_link_on_the_start_page_answers(api: Api) -> None:
    for path in _links(api.client.get("/?lang=en").text):
        if path.startswith("/?"):
            continue
        answer = api.client.get(path)
        assert answer.status_code in (200, 503), f"{path}: {answer.status_code}"  # readyz may lag
