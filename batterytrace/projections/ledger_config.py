"""Where the ledger's signing key is and how often it signs, read from the environment.

Why here and not in ``trace/settings.py``: the ledger view signs checkpoints while it follows the
store, and the read side may not import the service (the layers README). The view is built by
``runner.default_views`` without the service's settings, so it reads these few settings itself;
the CLI and the API read them through the same function, so all agree.

- ``BATTERYTRACE_LEDGER_KEY``: path of the signer key file (mode 0600). Unset: beside a SQLite
  store (``batterytrace.db`` -> ``batterytrace.db.ledger-key``); a PostgreSQL store has no
  default, and its ledger is built but not signed until the setting names a key.

  The key belongs to the event store, also when the views (and with them the ledger's tree and
  signed checkpoints) are in a database of their own (``BATTERYTRACE_VIEWS_DATABASE_URL``): it
  signs the store's history, and whoever checks a checkpoint holds its public key. Views are
  disposable; were the key beside them, moving them to a new database would make a new key at
  the next ``init``, and readers holding the published public key could not check a checkpoint
  signed after the move. So the default is always beside the store's file (``database_url``
  below is the store's), never beside a views file, and every caller (``init``, the follower's
  ledger view, the API, the CLI) passes the store's URL.
- ``BATTERYTRACE_LEDGER_CHECKPOINT_EVENTS`` (1000) and ``…_CHECKPOINT_MINUTES`` (10): a
  checkpoint is signed when the tree has grown by that many events, or when events arrived and
  the last checkpoint is that old.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from batterytrace.events.ledger_note import NoteError, Signer, parse_signer
from batterytrace.store import ConfigurationError, InvalidSetting

log = logging.getLogger(__name__)
DEFAULT_CHECKPOINT_EVENTS = 1000
DEFAULT_CHECKPOINT_MINUTES = 10
MAX_KEY_FILE_BYTES = 4096


@dataclass(frozen=True)
class LedgerConfig:
    key_path: Path | None
    checkpoint_events: int = DEFAULT_CHECKPOINT_EVENTS
    checkpoint_minutes: int = DEFAULT_CHECKPOINT_MINUTES

    @classmethod
    def from_environment(cls, database_url: str) -> LedgerConfig:
        named = os.environ.get("BATTERYTRACE_LEDGER_KEY", "").strip()
        return cls(
            key_path=Path(named) if named else default_key_path(database_url),
            checkpoint_events=_whole("BATTERYTRACE_LEDGER_CHECKPOINT_EVENTS", DEFAULT_CHECKPOINT_EVENTS),
            checkpoint_minutes=_whole("BATTERYTRACE_LEDGER_CHECKPOINT_MINUTES", DEFAULT_CHECKPOINT_MINUTES),
        )

    def signer(self) -> Signer | None:
        """The signer key, or None when there is no key file (the ledger is then unsigned)."""
        if self.key_path is None or not self.key_path.exists():
            return None
        return read_signer(self.key_path)


def default_key_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".ledger-key")
    return None


def read_signer(path: Path) -> Signer:
    """The key file, refused when others may read it (like ssh's keys) or when malformed."""
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"the ledger key {str(path)!r} may be read by others (mode {stat.S_IMODE(info.st_mode):o}); "
                f"make it private: chmod 600 {path}"
            )
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise ConfigurationError(f"{str(path)!r} is not a ledger key (too large)")
        return parse_signer(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read the ledger key {str(path)!r}: {error}") from None
    except NoteError as error:
        raise ConfigurationError(f"{str(path)!r} is not a ledger key: {error}") from None


def write_new_key(path: Path, name: str) -> Signer:
    """Make a signer key at ``path`` (mode 0600, never over an existing file)."""
    signer = Signer.generate(name)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigurationError(f"{str(path)!r} exists already; the ledger key is never replaced") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(signer.text() + "\n")
    return signer


def _whole(name: str, default: int) -> int:
    value = os.environ.get(name, str(default)).strip()
    if not value.isdigit() or int(value) < 1:
        raise InvalidSetting(f"{name}={value!r} must be a whole number of 1 or more")
    return int(value)
