"""Reading a request body within the configured size, and its media type.

A streamed upload (a bulk production file, a scanned image) may come without a Content-Length,
so the size limit is checked while the body arrives, not only by the middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request, Response

from batterytrace.trace.api.errors import PayloadTooLarge
from batterytrace.trace.api.problems import problem


async def limited_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body chunk by chunk, raising ``PayloadTooLarge`` as soon as more than ``limit`` bytes
    have arrived (a chunked body has no Content-Length for the middleware to check)."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(
                f"the body is larger than the limit of {limit} bytes ({received} bytes had arrived when "
                "it was stopped); split the file, or raise BATTERYTRACE_MAX_BODY_MB"
            )
        if chunk:
            yield chunk


def too_large(error: PayloadTooLarge) -> Response:
    return problem(413, str(error), kind="payload-too-large")


def media_type(request: Request) -> tuple[str, dict[str, str]]:
    """The Content-Type's media type (lower case) and its parameters."""
    header = request.headers.get("content-type", "")
    kind, _, rest = header.partition(";")
    params = {}
    for part in rest.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params
