"""Raw TCP servers that misbehave on purpose (hang, trickle, send garbage), for tests."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager


@contextmanager
def raw_server(handler):
    """A one-request-at-a-time TCP server whose replies are written by ``handler(conn, request)``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    data = conn.recv(65536)
                    handler(conn, data)
                except OSError:
                    pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


def response(status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}"
            f"connection: close\r\n\r\n").encode() + body
