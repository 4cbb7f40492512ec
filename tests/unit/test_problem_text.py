"""Refusals in the reader's language (issue 11, item 6): domain errors carry a message key and
params, and the pages' catalogue says them in Chinese with the domain words translated; English
readers get the API's own sentence. Also: every page message exists in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.errors import InvalidBatteryCode, LifecycleViolation, NotAuthorised, NotFound
from batterytrace.trace.pages.problem_text import problem_text
from batterytrace.trace.pages.public_page import render_error_page

MESSAGES = Path(__file__).resolve().parents[2] / "batterytrace" / "trace" / "pages" / "messages"
CODE = "3CAPB120A1B2C3R7F0000123"
LATIN_WORDS = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{2,}){1,}")  # a run of English words


def test_a_state_refusal_names_the_state_the_action_and_what_is_allowed_in_chinese() -> None:
    error = LifecycleViolation(CODE, "installed", "collect", ["remove", "retire"])
    said = problem_text("zh", error.message_key, error.params, error.message)
    assert said == f"电池 {CODE} 当前状态为「使用中」，不能收集入库。当前可以：拆卸、退役。"
    assert not LATIN_WORDS.search(said), said


def test_the_states_that_end_a_life_say_why() -> None:
    error = LifecycleViolation(
        CODE, "recycled", "collect", "it has been recycled; its life has ended", why="recycled"
    )
    assert error.message_key == "battery.wrong_state.recycled"
    said = problem_text("zh", error.message_key, error.params, error.message)
    assert "生命周期已结束" in said and not LATIN_WORDS.search(said)


def test_an_invalid_code_names_the_segment_in_chinese() -> None:
    with pytest.raises(InvalidBatteryCode) as caught:
        parse_battery_code("3CAPB120A1B2C3I7F0000123")
    error = caught.value
    assert error.code == "3CAPB120A1B2C3I7F0000123"  # the battery code stays where it was
    assert error.message_key == "battery_code.invalid"
    said = problem_text("zh", error.message_key, error.params, error.message)
    assert "生产日期（第 15–17 位）有误" in said, said


def test_english_readers_get_the_apis_own_sentence() -> None:
    error = NotAuthorised(
        "you do not hold it", key="battery.not_holder", params={"code": CODE, "action": "hand over"}
    )
    assert problem_text("en", error.message_key, error.params, error.message) == "you do not hold it"
    assert problem_text("zh", error.message_key, error.params, error.message) == (
        f"您未持有电池 {CODE}，不能移交；只有持有该电池的企业可以操作。"
    )


def test_an_unknown_code_or_a_missing_value_falls_back_to_the_detail() -> None:
    assert problem_text("zh", "battery.something_new", {}, "the detail") == "the detail"
    assert problem_text("zh", "battery.not_holder", {"code": CODE}, "the detail") == "the detail"
    assert problem_text("zh", None, None, "the detail") == "the detail"


def test_errors_without_their_own_key_use_their_kinds() -> None:
    assert NotFound("x").message_key == "not_found"
    assert NotAuthorised("x").message_key == "auth.forbidden"
    assert NotAuthorised("x", key="point.not_operator").message_key == "point.not_operator"
    assert NotAuthorised("x").params == {}


def test_the_public_error_page_says_an_unknown_battery_in_chinese() -> None:
    page = render_error_page(
        404, "battery X: no battery", "zh", code="not_found.battery", params={"id": CODE}
    )
    shown = re.search(r'<p id="problem">(.*?)</p>', page).group(1)
    assert shown == f"编码为 {CODE} 的电池尚无记录。请核对标签上的编码。"
    english = render_error_page(
        404, "battery X: no battery", "en", code="not_found.battery", params={"id": CODE}
    )
    assert "battery X: no battery" in english


def test_every_page_message_exists_in_both_languages() -> None:
    """Except the problems: English pages show the API's detail; and a count's ``.one`` form,
    which Chinese does not have."""
    for part in sorted({p.name.split(".")[0] for p in MESSAGES.glob("*.json")} - {"problems"}):
        zh = json.loads((MESSAGES / f"{part}.zh.json").read_text("utf-8"))
        en = json.loads((MESSAGES / f"{part}.en.json").read_text("utf-8"))
        assert set(zh) == {key for key in en if not key.endswith(".one")}, part
    assert not (MESSAGES / "problems.en.json").exists()
    problems = json.loads((MESSAGES / "problems.zh.json").read_text("utf-8"))
    assert all(key.startswith("problem.") for key in problems)
