"""``serve --demo`` (what ``scripts/run-demo`` runs): demo data, a key per role, and what to try.

The demo data set is generated only into an empty store. Started again on the same store, the
command says so, finds codes to try in the views instead, and explains why the keys are new: a
key is shown only once (the store keeps its hash), so every start issues fresh ones, and the keys
printed before keep working. It ends with the outlet operator's collection points and a scan
request ready to paste, body included, since a first-time user cannot guess the point id.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.table import Table

from batterytrace.cli.common import console, open_app

if TYPE_CHECKING:
    from batterytrace.events.participant import Participant
    from batterytrace.trace.application import BatteryTrace

SHOWN_POINTS = 3  # collection point ids listed for the outlet operator
SCAN_EXAMPLE_STAGES = ("retired", "overdue")  # retired, not yet collected: a scan takes it in
ALREADY_LOADED = (
    "the store already holds data ({events} events): the demo data set is loaded only into an "
    "empty store, so it was not generated again; the codes below are read from the views. "
    "The API keys below are new: a key is shown only once (the store keeps only its hash), so "
    "each start issues fresh ones; keys printed before still work until revoked."
)


def prepare_demo(batteries: int, address: str) -> None:
    """Generate the demo into an empty store (or find its codes again), issue one fresh key per
    role and print what to try: codes, keys, the outlet's points and an example scan."""
    from batterytrace.demo.with_views import generate_demo_with_views

    app = open_app()
    try:
        events = app.recorder.max_notification_id() or 0
        if events:
            console.print(ALREADY_LOADED.format(events=events), soft_wrap=True)
            examples = _examples_in_views(app)
        else:
            console.print(f"generating demo data ({batteries} batteries) …")
            examples = generate_demo_with_views(app, batteries=batteries).examples
        _print_examples(examples)
        _print_passport_hint(examples, address)
        keys = _issue_demo_keys(app)
        _print_scan_example(app, keys, examples, address)
    finally:
        app.close()


def _examples_in_views(app: BatteryTrace) -> dict[str, str]:
    from batterytrace.demo.examples import examples_from_views
    from batterytrace.projections.runner import ViewRunner

    runner = ViewRunner(app)
    try:
        runner.catch_up()
        return examples_from_views(runner.engine)
    finally:
        runner.engine.dispose()


def _print_examples(examples: dict[str, str]) -> None:
    table = Table("stage or case", "battery code to try", title="demo batteries (open /b/CODE)")
    for stage, code in examples.items():
        table.add_row(stage, code)
    console.print(table)


def _print_passport_hint(examples: dict[str, str], address: str) -> None:
    from batterytrace.demo.examples import passport_hint

    if hint := passport_hint(examples, address):
        console.print(hint, markup=False, highlight=False, soft_wrap=True)


def _issue_demo_keys(app: BatteryTrace) -> dict[str, tuple[Participant, str]]:
    """One new key for the first participant of each role: role -> (participant, key)."""
    from batterytrace.events.participant import Role

    keys: dict[str, tuple[Participant, str]] = {}
    for participant in app.participants():
        for role in participant.roles:
            if role not in keys:
                issued = app.issue_api_key(actor_id=None, participant_id=participant.id, label="demo")
                keys[role] = (participant, issued.token)
                break
        if len(keys) == len(Role):
            break
    table = Table("role", "participant", "API key (new, shown once)", title="demo API keys")
    for role, (participant, token) in keys.items():
        table.add_row(role, f"{participant.name} ({participant.id})", token)
    console.print(table)
    return keys


def _print_scan_example(
    app: BatteryTrace, keys: dict[str, tuple[Participant, str]], examples: dict[str, str], address: str
) -> None:
    """The outlet operator's collection points, and a scan of a retired battery at the first."""
    if "outlet_operator" not in keys:
        return
    operator, token = keys["outlet_operator"]
    points = sorted(
        (p for p in app.collection_points() if p.operator_id == operator.id),
        key=lambda p: (p.review.value != "approved", p.id),
    )
    if not points:
        return
    shown = ", ".join(p.id for p in points[:SHOWN_POINTS])
    more = f" and {len(points) - SHOWN_POINTS} more" if len(points) > SHOWN_POINTS else ""
    console.print(
        f"outlet_operator {operator.id} runs {len(points)} collection point(s): {shown}{more}", soft_wrap=True
    )
    code = next((examples[s] for s in SCAN_EXAMPLE_STAGES if s in examples), "CODE")
    body = json.dumps({"text": code, "client_scan_id": "demo-scan-1"})
    console.print(
        "scan a retired battery in at the first (the outlet_operator key; send it again: the same "
        "client_scan_id is answered, not recorded twice):",
        soft_wrap=True,
    )
    console.print(
        f"  curl -X POST {address}/api/v1/collection-points/{points[0].id}/scans \\\n"
        f'    -H "Authorization: Bearer {token}" -H "Content-Type: application/json" \\\n'
        f"    -d '{body}'",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
