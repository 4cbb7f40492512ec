"""``python -m batterytrace`` runs the CLI."""

from batterytrace.cli.main import run

run()
