"""Failed authentications: throttled per client address and per key id, logged and counted.

Keys are 256 random bits, so guessing one is hopeless; the throttle is there so that a client
sending wrong keys in a loop costs the store one lookup per few seconds instead of thousands,
and so that someone is told: each refusal is logged (``batterytrace.security``, the address
and the first characters of the key id, never the secret) and counted
(``batterytrace_auth_failures``).

Each address and each key id has a token bucket of ``per_minute`` failures that refills at
``per_minute`` a minute. While an address's bucket is empty, requests that present a key from that
address are answered 429 with ``Retry-After`` before the key is looked at, right or wrong. A key
id's bucket only changes how wrong secrets for it are answered (429 instead of 401, from any
address): key ids are not secret, so a stranger guessing secrets for a key must never lock its
owner out, and the right secret always passes. The table is held in memory, per process, and
bounded: the least recently seen entries are dropped first.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batterytrace.events.errors import NotAuthenticated
from batterytrace.trace.api.metrics import AUTH_FAILURES

if TYPE_CHECKING:
    from batterytrace.events.participant import Participant
    from batterytrace.trace.application import BatteryTrace

security_log = logging.getLogger("batterytrace.security")
MAX_ENTRIES = 10_000
KEY_ID_SHOWN = 8  # characters of a key id a log line may carry
_KEY_ID = re.compile(r"bt_([A-Za-z0-9-]+)_")


class TooManyFailures(Exception):
    """Too many failed authentications from this address or for this key id; wait and retry."""

    def __init__(self, retry_after: int, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.detail = detail


@dataclass
class _Bucket:
    tokens: float
    at: float


class FailureThrottle:
    """Token buckets of failures by key (("address", "10.0.0.7"), ("key", "k1") …), bounded in
    number; thread-safe (authentication runs in the worker threads)."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self.max_entries = max_entries
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, keys: Sequence[tuple[str, str]]) -> float:
        """0 when every key may try again; else how long until the emptiest bucket has a token."""
        with self._lock:
            tokens = min((self._refilled(key).tokens for key in keys), default=self.capacity)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.refill_per_second

    def record_failure(self, keys: Sequence[tuple[str, str]]) -> bool:
        """Take a token from each key's bucket; True when one of them is now empty."""
        with self._lock:
            emptied = False
            for key in keys:
                bucket = self._refilled(key)
                bucket.tokens = max(bucket.tokens - 1, 0.0)
                emptied = emptied or bucket.tokens < 1
            return emptied

    def _refilled(self, key: tuple[str, str]) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
            while len(self._buckets) > self.max_entries:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.refill_per_second)
            bucket.at = now
        return bucket


def key_id_of(token: str) -> str | None:
    """The key id of a ``bt_<key id>_<secret>`` token (None if it does not look like one)."""
    found = _KEY_ID.match(token.strip())
    return found.group(1)[:64] if found else None


class AuthGuard:
    """``service.authenticate`` behind the throttle, with the refusals logged and counted."""

    def __init__(self, per_minute: int) -> None:
        self.throttle = FailureThrottle(per_minute)

    def authenticate(
        self, service: BatteryTrace, token: str, *, address: str, request_id: str
    ) -> Participant:
        key_id = key_id_of(token)
        by_address = [("address", address)]
        by_key = [("key", key_id)] if key_id else []
        self._refuse_if_waiting(by_address)
        try:
            return service.authenticate(token)
        except NotAuthenticated:
            self._refuse_if_waiting(by_key)  # this key's secret is being guessed: slow it down
            AUTH_FAILURES.labels("refused").inc()
            emptied = self.throttle.record_failure(by_address + by_key)
            _log_failure(address, key_id, request_id, throttled_from_now=emptied)
            raise

    def _refuse_if_waiting(self, keys: list[tuple[str, str]]) -> None:
        wait = self.throttle.wait_seconds(keys) if keys else 0.0
        if wait > 0:
            AUTH_FAILURES.labels("throttled").inc()
            seconds = max(math.ceil(wait), 1)
            raise TooManyFailures(
                seconds,
                f"too many failed authentications from this address or with this key; wait {seconds} s, "
                "then send a valid API key",
            )


def _log_failure(address: str, key_id: str | None, request_id: str, *, throttled_from_now: bool) -> None:
    record = {
        "event": "authentication_failed",
        "address": address,
        "key_id_prefix": key_id[:KEY_ID_SHOWN] if key_id else None,
        "request_id": request_id,
        "throttled": throttled_from_now,
    }
    security_log.warning(json.dumps(record))
