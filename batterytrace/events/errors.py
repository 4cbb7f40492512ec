"""Domain errors: each says what is wrong and what to do instead.

The HTTP layer maps them to problem details and the CLI prints their message on one line, so the
message is written for the person who made the request, not for a developer.

The message is English (API users, logs). Refusals that a page shows to a person also carry a
stable ``code`` (a message key of the pages' ``problems`` catalogue) and its ``params``, so a page
can say the same thing in the reader's language and fall back to the message for a code it does
not know. Params hold only what the message itself already tells the caller.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal that the domain makes on purpose."""

    kind = "domain-error"
    # The message key a page translates (``code`` in the problem body; the attribute is not
    # called ``code`` because some refusals keep the battery code there); None: pages show the
    # message itself.
    message_key: str | None = None

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # What the caller may not be told (who holds a battery, who owns a code): for the server
        # log, where the regulator's operators find it; never sent back in the refusal.
        self.detail = detail
        if key is not None:
            self.message_key = key
        self.params: dict[str, Any] = dict(params or {})


class InvalidInput(DomainError):
    """A value is malformed (a code, a number, a date); nothing was stored."""

    kind = "invalid-input"


class InvalidBatteryCode(InvalidInput):
    """A GB/T 34014 code that cannot be parsed; ``segment`` names the part that is wrong."""

    kind = "invalid-battery-code"

    def __init__(self, code: str, segment: str, reason: str) -> None:
        super().__init__(
            f"invalid battery code {code!r}: {reason}",
            key="battery_code.invalid",
            params={"code": code, "segment": segment},
        )
        self.code = code
        self.segment = segment
        self.reason = reason


class InvalidCreditCode(InvalidInput):
    """A Unified Social Credit Code (GB 32100) that is malformed or fails its check character."""

    kind = "invalid-credit-code"


class LifecycleViolation(DomainError):
    """A transition the battery's current state does not allow."""

    kind = "lifecycle-violation"

    def __init__(
        self, code: str, state: str, action: str, allowed: list[str] | str, *, why: str | None = None
    ) -> None:
        params: dict[str, Any] = {"code": code, "state": state, "action": action}
        if isinstance(allowed, list):
            instead = ", ".join(allowed) if allowed else "nothing (the battery's life has ended)"
            message = f"battery {code} is {state}: cannot {action}; allowed now: {instead}"
            params["allowed"] = list(allowed)
        else:
            message = f"battery {code} is {state}: cannot {action}; {allowed}"
        # ``why`` names a reason the pages can say in words of their own (a message key suffix).
        key = f"battery.wrong_state.{why}" if why else "battery.wrong_state"
        super().__init__(message, key=key, params=params)
        self.code = code
        self.state = state
        self.action = action


class ChronologyViolation(DomainError):
    """An event whose real-world time runs before the previous event's, not flagged as a correction."""

    kind = "chronology-violation"


class NotAuthorised(DomainError):
    """The acting participant may not do this (wrong role, someone else's code or collection point)."""

    kind = "not-authorised"
    message_key = "auth.forbidden"


class NotAuthenticated(DomainError):
    """No valid API key: missing, malformed, unknown or revoked."""

    kind = "not-authenticated"
    message_key = "auth.not_authenticated"


class NotFound(DomainError):
    """A battery, participant or collection point that is not registered."""

    kind = "not-found"
    message_key = "not_found"


class AlreadyExists(DomainError):
    """Registering something twice with different data."""

    kind = "already-exists"


class ConcurrentWrite(DomainError):
    """Another writer changed the same stream first; re-read and retry."""

    kind = "concurrent-write"
    message_key = "concurrent_write"
