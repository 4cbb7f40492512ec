"""Commands: ``verify``, ``verify-evidence`` and ``ledger key|checkpoint`` (tamper evidence).

``verify-evidence`` is meant for anyone, anywhere: it opens no database and reads nothing but the
file and the public key. The others open the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from batterytrace.cli.common import err_console

ledger_app = typer.Typer(
    help="The tamper-evidence ledger: its public key and its checkpoints.", no_args_is_help=True
)
MAX_KEY_TEXT = 4096


def _read_key(key: str) -> object:
    """``--key``: a verifier key's text, or a file holding it."""
    from batterytrace.events.ledger_note import NoteError, parse_verifier
    from batterytrace.store import ConfigurationError

    text = key
    if "+" not in key or Path(key).is_file():
        try:
            with open(key, encoding="utf-8") as file:
                text = file.read(MAX_KEY_TEXT + 1)
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"cannot read the public key {key!r}: {error}") from None
    try:
        return parse_verifier(text)
    except NoteError as error:
        raise ConfigurationError(f"{key!r} is not a ledger public key: {error}") from None


def _config_and_app() -> tuple[Any, Any]:
    from batterytrace.cli.common import open_app
    from batterytrace.projections.ledger_config import LedgerConfig

    app = open_app()
    return LedgerConfig.from_environment(app.settings.database_url), app


def _signer_or_refuse(config: object) -> object:
    from batterytrace.store import ConfigurationError

    signer = config.signer()  # type: ignore[attr-defined]
    if signer is None:
        raise ConfigurationError(
            "the ledger has no key: run `batterytrace init` (SQLite) or set BATTERYTRACE_LEDGER_KEY "
            "to a key file made by it"
        )
    return signer


def verify(
    code: Annotated[
        str | None, typer.Option("--code", help="Check one battery's (or stream's) records only.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The public key (text or file); default: the ledger key's own."),
    ] = None,
) -> None:
    """Recompute every ledger leaf from the event store and check the signed checkpoints; exit 1
    naming the first event or checkpoint that does not match."""
    from batterytrace.projections.runner import ViewRunner
    from batterytrace.trace.ledger.verify import LedgerMismatch, verify_store, verify_stream

    config, app = _config_and_app()
    verifier = _read_key(key) if key else _signer_or_refuse(config).verifier()  # type: ignore[attr-defined]
    runner = ViewRunner(app)  # type: ignore[arg-type]
    runner.catch_up(["ledger"])
    try:
        if code:
            report = verify_stream(app, runner.engine, verifier, code.strip().upper())  # type: ignore[arg-type]
        else:
            report = verify_store(app, runner.engine, verifier)  # type: ignore[arg-type]
    except LedgerMismatch as mismatch:
        err_console.print(f"error: {mismatch}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    what = f"{code}: " if code else ""
    typer.echo(
        f"{what}{report.events} events match their ledger leaves; {report.checkpoints} signed "
        f"checkpoint(s) verified"
        + (f"; {report.unlogged} event(s) not logged yet" if report.unlogged else "")
    )


def verify_evidence(
    file: Annotated[Path, typer.Argument(help="An evidence file (GET /api/v1/batteries/{code}/evidence).")],
    key: Annotated[str, typer.Option("--key", help="The log's public key: its text, or a file holding it.")],
) -> None:
    """Check an evidence file offline: records, their chain, the inclusion proof, the signature."""
    from batterytrace.events.ledger_evidence import MAX_EVIDENCE_BYTES, EvidenceError, check_evidence
    from batterytrace.store import ConfigurationError

    verifier = _read_key(key)
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_EVIDENCE_BYTES + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {str(file)!r}: {error.strerror}") from None
    try:
        checked = check_evidence(data, verifier)  # type: ignore[arg-type]
    except EvidenceError as error:
        err_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{checked.aggregate}: {checked.records} record(s), "
        f"versions {checked.first_version}-{checked.last_version}, "
        f"chained and included in checkpoint {checked.checkpoint.size} of {checked.checkpoint.origin}, "
        "signed by the key"
    )


@ledger_app.command("key")
def key() -> None:
    """Print the ledger's public key (verifier key text) for participants to keep."""
    config, _ = _config_and_app()
    typer.echo(_signer_or_refuse(config).verifier().text())  # type: ignore[attr-defined]


@ledger_app.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the ledger now (the view signs one every N events or M minutes)."""
    from datetime import UTC, datetime

    from batterytrace.projections.ledger_view import sign_now
    from batterytrace.projections.runner import ViewRunner

    config, app = _config_and_app()
    signer = _signer_or_refuse(config)
    runner = ViewRunner(app)  # type: ignore[arg-type]
    runner.catch_up(["ledger"])
    with runner.engine.begin() as connection:
        note = sign_now(connection, signer, datetime.now(UTC))  # type: ignore[arg-type]
    typer.echo(note or "the latest checkpoint covers every logged event already", nl=note is None)


@ledger_app.command("evidence")
def evidence_file(
    code: Annotated[str, typer.Argument(help="Battery code (or another stream's id).")],
    output: Annotated[
        Path | None, typer.Option("--output", help="Write it to this file (default: stdout).")
    ] = None,
) -> None:
    """A battery's evidence file, as GET /api/v1/batteries/{code}/evidence gives a regulator."""
    import json

    from batterytrace.projections.runner import ViewRunner
    from batterytrace.trace.ledger.reading import evidence

    _, app = _config_and_app()
    runner = ViewRunner(app)
    runner.catch_up(["ledger"])
    stream = code.strip().upper()
    text = json.dumps(
        evidence(runner.engine, stream, list(app.events.get(stream))), ensure_ascii=False, indent=1
    )
    if output is None:
        typer.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"wrote the evidence of {stream} to {output}")
