"""uvicorn's HTTP protocol with one change: a request that is not valid HTTP is refused with an
RFC 9457 problem (``application/problem+json``) like every other refusal, not uvicorn's
``text/plain`` line. ``batterytrace serve`` passes this class as ``uvicorn.run(http=...)``.

And every connection gets ``TCP_NODELAY``. With ``--workers`` above 1, uvicorn (0.54) binds the
listening socket itself with ``proto`` 0; accepted sockets inherit it, and asyncio turns Nagle's
algorithm off only for sockets that say ``IPPROTO_TCP``, so a response written in two segments
(headers, then body) waits for the client's delayed ACK: ~40 ms per keep-alive request on Linux
(Kludex/uvicorn#3149; measured with bench/scan_rate.py ``--workers 2``). One worker is not
affected; setting it again there costs nothing.

Only ``send_400_response`` is replaced; it is the one place uvicorn answers on its own. uvicorn
picks httptools when it is installed ("auto"); so does ``PROBLEM_PROTOCOL``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

DETAIL = (
    "the request is not valid HTTP/1.1 (request line, headers or chunked body); check what the client sends"
)


def invalid_http_body() -> bytes:
    return json.dumps(
        {"type": "/problems/invalid-http", "title": "Bad request", "status": 400, "detail": DETAIL}
    ).encode()


def invalid_http_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
    ]


def set_no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP connection (see the module's docstring)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ProblemH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_no_delay(transport)
        super().connection_made(transport)

    def send_400_response(self, msg: str) -> None:
        body = invalid_http_body()
        event = h11.Response(status_code=400, headers=invalid_http_headers(body), reason=STATUS_PHRASES[400])
        self.transport.write(self.conn.send(event) or b"")
        self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        self.transport.close()


PROBLEM_PROTOCOL = "batterytrace.trace.api.http_protocol:ProblemH11Protocol"

if importlib.util.find_spec("httptools") is not None:  # pragma: no cover - not installed here
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    class ProblemHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_no_delay(transport)
            super().connection_made(transport)

        def send_400_response(self, msg: str) -> None:
            body = invalid_http_body()
            head = [STATUS_LINE[400]]
            for name, value in [*self.server_state.default_headers, *invalid_http_headers(body)]:
                head.extend([name, b": ", value, b"\r\n"])
            self.transport.write(b"".join([*head, b"\r\n", body]))
            self.transport.close()

    PROBLEM_PROTOCOL = "batterytrace.trace.api.http_protocol:ProblemHttpToolsProtocol"
