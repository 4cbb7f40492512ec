"""``batterytrace demo`` names a battery whose EU passport answers, with the command to fetch it,
and that command, typed as printed, gives a complete passport (every aspect valid, the performance
aspect from the readings the demo reported)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_cli import Cli
from tests.utils.batterypass import aspect_errors

HINT = re.compile(r"EU battery passport of (\w{24}) .*: batterytrace passport (\w{24}) ")
PERFORMANCE = "urn:samm:io.BatteryPass.Performance:1.2.0#PerformanceAndDurability"


def test_the_printed_passport_command_gives_a_complete_passport(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)

    demo = cli.ok("demo", "--batteries", "40", "--seed", "3")

    hint = HINT.search(demo.stdout)
    assert hint and hint[1] == hint[2], demo.stdout
    code = hint[1]
    assert re.search(rf"│ passport +│ {code} │", demo.stdout), demo.stdout
    public = cli.ok("passport", code, "--public").json()
    assert public["status"] == "Original" and public["access"] == "public"
    assert PERFORMANCE in public["aspects"] and public["missing"] == {}
    assert aspect_errors(public) == []
    full = cli.ok("passport", code).json()
    assert full["withheld"] == {} and aspect_errors(full) == []
