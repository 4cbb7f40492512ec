"""A participant's English name (issue 11, item 6): Chinese pages show the registered (Chinese)
name, English pages its ``name_en``; registrations recorded before ``name_en`` existed still load,
without one. The demo cast has Chinese names, each with its English one."""

from __future__ import annotations

from batterytrace.demo.cast import CAST, ENGLISH_NAMES, REGULATOR_NAME
from batterytrace.events.participant import Participant
from tests.utils.cast import NationalCast

CREDIT = NationalCast().regulator


def test_a_participant_keeps_its_english_name_beside_its_registered_one() -> None:
    miit = Participant.register(
        credit_code=CREDIT, name="工业和信息化部", name_en=" MIIT ", roles=["regulator"], registered_by=None
    )
    assert (miit.name, miit.name_en) == ("工业和信息化部", "MIIT")
    blank = Participant.register(
        credit_code=CREDIT, name="工信部", name_en=" ", roles=["regulator"], registered_by=None
    )
    assert blank.name_en is None


def test_a_registration_recorded_before_english_names_still_loads() -> None:
    registered = Participant.register(
        credit_code=CREDIT, name="工业和信息化部", name_en="MIIT", roles=["regulator"], registered_by=None
    )
    (event,) = registered.collect_events()
    del event.__dict__["name_en"]  # as an event stored by an earlier release reads back
    replayed = event.mutate(None)
    assert replayed is not None and replayed.name == "工业和信息化部" and replayed.name_en is None


def test_the_demo_cast_is_named_in_chinese_with_an_english_name_each() -> None:
    names = [row.name for row in CAST] + [REGULATOR_NAME]
    assert all(any("\u4e00" <= char <= "\u9fff" for char in name) for name in names), names
    assert all(ENGLISH_NAMES[name].isascii() for name in names)
