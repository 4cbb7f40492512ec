"""The command line's commands, each imported and built only when it is used.

A person typing ``batterytrace code X`` should wait for the interpreter, Typer and the ``code``
command, not for every other command's module or for Typer to introspect the signatures of all
thirty commands. So the top-level group knows its commands by name (``COMMANDS``) and imports a
command's module, and builds its click command, the first time that name is asked for. The
command modules in turn keep the event store's, the views' and the web service's libraries
inside the functions that use them. ``--help`` lists every command, which builds them all: a
listing costs what it lists.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_command, get_group

# command name -> (module, attribute): a function (one command) or a typer.Typer (a group of
# sub-commands). In the order ``--help`` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("batterytrace.cli.main", "init"),
    "produce": ("batterytrace.cli.lifecycle", "produce"),
    "deliver": ("batterytrace.cli.lifecycle", "deliver"),
    "install": ("batterytrace.cli.lifecycle", "install"),
    "remove": ("batterytrace.cli.lifecycle", "remove"),
    "retire": ("batterytrace.cli.lifecycle", "retire"),
    "collect": ("batterytrace.cli.lifecycle", "collect"),
    "handover": ("batterytrace.cli.lifecycle", "handover"),
    "recycle": ("batterytrace.cli.lifecycle", "recycle"),
    "cascade-reuse": ("batterytrace.cli.lifecycle", "cascade_reuse"),
    "swap": ("batterytrace.cli.vehicles", "swap"),
    "scrap": ("batterytrace.cli.vehicles", "scrap"),
    "import": ("batterytrace.cli.bulk", "import_"),
    "demo": ("batterytrace.cli.bulk", "demo"),
    "show": ("batterytrace.cli.show", "show"),
    "code": ("batterytrace.cli.show", "code"),
    "qr": ("batterytrace.cli.qr", "qr"),
    "serve": ("batterytrace.cli.serve", "serve"),
    "participants": ("batterytrace.cli.participants", "participants_app"),
    "collection-points": ("batterytrace.cli.participants", "collection_points_app"),
    "projections": ("batterytrace.cli.projections", "projections_app"),
    "report": ("batterytrace.cli.reports", "report_app"),
    "export": ("batterytrace.cli.export", "export_app"),
    "models": ("batterytrace.cli.passport", "models_app"),
    "readings": ("batterytrace.cli.passport", "readings"),
    "passport": ("batterytrace.cli.passport", "passport"),
    "verify": ("batterytrace.cli.ledger", "verify"),
    "verify-evidence": ("batterytrace.cli.ledger", "verify_evidence"),
    "ledger": ("batterytrace.cli.ledger", "ledger_app"),
}


def build_command(name: str, target: Any) -> Any:
    """The click command for a Typer group or a command function, as ``add_typer(…, name=…)``
    or ``app.command(name)`` would have built it (without shell-completion options)."""
    if isinstance(target, typer.Typer):
        group = get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name)(target)
    return get_command(single)


class LazyCommands(TyperGroup):
    """The top-level command: its eagerly registered commands plus those of ``COMMANDS``, each
    built from its module the first time it is asked for."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*COMMANDS, *(name for name in eager if name not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # a click command, or None
        if cmd_name not in self.commands:
            if cmd_name in COMMANDS:
                self._load(cmd_name)
            else:  # a typo: load them all, so that "Did you mean …?" can name the right one
                for name in COMMANDS:
                    self._load(name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> None:
        if name not in self.commands:
            module, attribute = COMMANDS[name]
            self.add_command(build_command(name, getattr(import_module(module), attribute)), name)
