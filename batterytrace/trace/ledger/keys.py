"""The ledger's signing key: made by ``init`` where none exists, never replaced."""

from __future__ import annotations

from urllib.parse import urlsplit

from batterytrace.projections.ledger_config import LedgerConfig, write_new_key
from batterytrace.trace.settings import Settings


def log_name(public_url: str) -> str:
    """The log's origin and key name: the public URL without its scheme, ``/ledger`` after it
    (``127.0.0.1:8000/ledger``), the form C2SP checkpoints use."""
    parts = urlsplit(public_url)
    return f"{parts.netloc}{parts.path.rstrip('/')}/ledger"


def ensure_ledger_key(settings: Settings) -> str:
    """Make the key if the configuration names a place for it and none is there; say what."""
    config = LedgerConfig.from_environment(settings.database_url)
    if config.key_path is None:
        return (
            "ledger: not signed (set BATTERYTRACE_LEDGER_KEY to a key file path and run init again "
            "to make one there)"
        )
    if config.key_path.exists():
        signer = config.signer()
        assert signer is not None
        return f"ledger key at {config.key_path}; public key: {signer.verifier().text()}"
    signer = write_new_key(config.key_path, log_name(settings.public_url))
    return f"ledger key made at {config.key_path} (keep it private); public key: {signer.verifier().text()}"
