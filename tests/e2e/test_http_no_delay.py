"""Every served connection has Nagle's algorithm off (``trace/api/http_protocol.py``): with
``serve --workers 2`` uvicorn's own listening socket would otherwise leave each keep-alive
response waiting ~40 ms for the client's delayed ACK (Kludex/uvicorn#3149)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from uvicorn.config import Config
from uvicorn.server import ServerState

from batterytrace.trace.api.http_protocol import ProblemH11Protocol


class SocketTransport(asyncio.Transport):
    """Just enough of a transport for ``connection_made``: the socket, a peer and a writer."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {
            "socket": self.sock,
            "peername": self.sock.getpeername(),
            "sockname": self.sock.getsockname(),
        }.get(name, default)

    def is_closing(self) -> bool:
        return False


@contextmanager
def accepted_like_uvicorn_workers() -> Iterator[socket.socket]:
    """A connection accepted on a listening socket made as uvicorn makes it for several
    workers (``proto`` 0), so asyncio would not set TCP_NODELAY on it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client.connect(listener.getsockname())
        accepted, _ = listener.accept()
        with accepted:
            yield accepted
    finally:
        client.close()
        listener.close()


def test_a_served_connection_has_nagles_algorithm_off() -> None:
    config = Config(app=lambda scope, receive, send: None, http=ProblemH11Protocol)
    config.load()
    with accepted_like_uvicorn_workers() as accepted:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        protocol = ProblemH11Protocol(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(SocketTransport(accepted))

        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        protocol.timeout_keep_alive_task and protocol.timeout_keep_alive_task.cancel()
