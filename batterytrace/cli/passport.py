"""``passport``, ``models add`` and ``readings``: the EU battery passport from the command line.

``passport CODE`` prints the battery's passport as JSON (times in China Standard Time with their
offset). The operator's command line reads as the authorities do; ``--as CREDIT`` shows what that
participant may read (the holder and involved parties: legitimate interest; anyone else: public),
``--public`` what anyone may read. ``models add FILE`` posts a model's data (the body of
``POST /api/v1/models``) as its manufacturer; ``readings CODE FILE`` reports a battery's condition
(the body of ``POST /api/v1/batteries/{code}/readings``) as its holder. Example files to start
from: ``batterytrace/trace/passport/examples/model.json`` and ``readings.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from batterytrace.cli.common import ActorOption, open_app, print_json, report_write
from batterytrace.events.errors import InvalidInput

MAX_FILE_BYTES = 1_000_000  # like the API's JSON bodies (BATTERYTRACE_MAX_JSON_KB)

models_app = typer.Typer(help="Battery models' EU passport data.", no_args_is_help=True)
FileArgument = Annotated[Path, typer.Argument(help="A JSON file.", dir_okay=False)]


def _read_json(path: Path) -> Any:
    """The file's JSON, refused in one line when missing, too large or not JSON."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path} has {size} bytes; at most {MAX_FILE_BYTES} are read")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"{path} is not UTF-8 JSON: {error}") from None


def _validated(kind: Any, value: Any, path: Path) -> Any:
    """``value`` as the API's body model ``kind``; every wrong field named, as the API does."""
    from pydantic import ValidationError

    try:
        return kind.model_validate(value)
    except ValidationError as error:
        wrong = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()[:10]
        )
        raise InvalidInput(f"{path}: {wrong}") from None


@models_app.command("add")
def add(
    file: FileArgument,
    actor: ActorOption,
    model_code: Annotated[
        str | None,
        typer.Option("--model-code", help="Post the file's data for this model code instead of its own."),
    ] = None,
) -> None:
    """Post (or replace) a battery model's passport data, as the owner of its manufacturer code."""
    from batterytrace.trace.passport.model_data import ModelData
    from batterytrace.trace.passport.service import post_model

    content = _read_json(file)
    if model_code is not None and isinstance(content, dict):
        content = {**content, "model_code": model_code}
    body = _validated(ModelData, content, file)
    app = open_app()
    try:
        result = post_model(app, actor_id=actor, model_code=body.model_code, data=body.data())
    finally:
        app.close()
    report_write(result, f"model {body.model_code.upper()}")


def readings(
    code: Annotated[str, typer.Argument(help="The battery's 24-character GB/T 34014 code.")],
    file: FileArgument,
    actor: ActorOption,
) -> None:
    """Report a battery's condition (state of health, cycles, …) as the enterprise holding it."""
    from batterytrace.trace.passport.model_data import ReadingsReport
    from batterytrace.trace.passport.service import report_readings

    body = _validated(ReadingsReport, _read_json(file), file)
    app = open_app()
    try:
        result = report_readings(
            app,
            actor_id=actor,
            code=code,
            readings=body.readings(),
            occurred_at=body.occurred_at,
            request_id=body.request_id,
        )
    finally:
        app.close()
    report_write(result, f"readings of {code.strip().upper()}")


def passport(
    code: Annotated[str, typer.Argument(help="The battery's 24-character GB/T 34014 code.")],
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Show what this participant (credit code) may read.", show_default=False),
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="Show what anyone may read.")] = False,
) -> None:
    """Print a battery's EU battery passport (Battery Pass 1.2.0 aspects) as JSON."""
    from batterytrace.events.passport_access import Tier
    from batterytrace.trace.passport.build import battery_passport

    if actor and public:
        raise InvalidInput("give --as or --public, not both")
    app = open_app()
    try:
        caller = app.participant(actor) if actor else None
        tier = Tier.PUBLIC if public else (None if caller else Tier.AUTHORITIES)
        print_json(battery_passport(app, code, caller, tier=tier))
    finally:
        app.close()
