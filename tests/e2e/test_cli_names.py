"""English names from the command line (issue 11, item 6): ``participants add --name-en`` records
an enterprise's English name beside its registered (Chinese) one, for English pages (SQLite)."""

from __future__ import annotations

from pathlib import Path

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.e2e.test_cli import Cli
from tests.utils.cast import NationalCast

CAST = NationalCast()


def test_participants_add_records_the_english_name_beside_the_registered_one(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'batterytrace.db'}"
    cli = Cli(database_url, tmp_path)
    cli.ok("init")
    cli.ok("participants", "add", CAST.regulator, "--name", "工业和信息化部", "--role", "regulator")
    cli.ok(
        "participants", "add", CAST.recycler, "--name", "赣州豪鹏回收有限公司",
        "--name-en", "Ganzhou Haopeng Recycling Co.", "--role", "recycler", "--as", CAST.regulator,
    )  # fmt: skip
    service = BatteryTrace(Settings(database_url=database_url))
    try:
        recycler = service.participant(CAST.recycler)
        assert (recycler.name, recycler.name_en) == ("赣州豪鹏回收有限公司", "Ganzhou Haopeng Recycling Co.")
        assert service.participant(CAST.regulator).name_en is None
    finally:
        service.close()
