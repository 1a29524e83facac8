"""The hostile-server catalogue: HTTP servers that each answer chat requests with one bad behaviour
(issue 18), a canary key, and the scan that proves no form of the key reached an artifact.

Each server answers ``GET /v1/models`` normally (so the CLI's preflight passes) and misbehaves on
``/v1/chat/completions``. Servers are threaded (one thread per connection), so a hanging answer
does not hold the next request; every loop stops when the client goes away or the test ends.
Sizes are parameters: the tests use small ones, ``python tests/hostile_servers.py`` full ones.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote

CANARY = "sk-canary-5e1f0c9d2b7a4e38a6c1d0f9b8e7a6d5"
MODELS = json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]}).encode()
CHUNK = b"x" * 65536
MB_ = 1024 * 1024
CREATED = int(time.time())


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def stream(self) -> bool:
        try:
            return json.loads(self.body or b"{}").get("stream") is True
        except ValueError:
            return False

    @property
    def key(self) -> str:
        auth = self.headers.get("authorization", "")
        return auth.partition(" ")[2] or self.headers.get("x-api-key", "")


@dataclass
class Server:
    url: str
    stop: threading.Event
    requests: list[Request] = field(default_factory=list)


def read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return Request(method, path, headers, body)


@contextmanager
def hostile_server(chat: Callable[[socket.socket, Request, threading.Event], None], models: bytes = MODELS):
    """A threaded HTTP server: ``/models`` answers ``models``, anything else goes to ``chat``."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    stop = threading.Event()
    server = Server(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", stop)

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                request = read_request(conn)
                if request is None:
                    return
                server.requests.append(request)
                if request.path.rstrip("/").endswith("/models"):
                    conn.sendall(response(200, models))
                else:
                    chat(conn, request, stop)
            except OSError:
                pass

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


def response(status: int, body: bytes, content_type: str = "application/json", extra: str = "", version: str = "1.1") -> bytes:
    return (f"HTTP/{version} {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}"
            "connection: close\r\n\r\n").encode() + body


SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"


def chunk_event(text: str = "hi", i: int = 0) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": CREATED, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": text} if i == 0 else {"content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


FINAL = b'data: {"id": "c", "object": "chat.completion.chunk", "created": %d, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n' % CREATED


def completion(content: str = "hi") -> bytes:
    return json.dumps({"id": "c", "object": "chat.completion", "created": CREATED, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()


def wait(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)


def send_for(conn: socket.socket, stop: threading.Event, chunks, pause: float = 0.0) -> None:
    """Write chunks until they run out, the client leaves (OSError) or the test ends."""
    for piece in chunks:
        if stop.is_set():
            return
        conn.sendall(piece)
        if pause:
            time.sleep(pause)


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


# -- the catalogue: name -> chat handler (sizes as parameters) ------------------------------------
def hang_before_headers(conn, req, stop):
    wait(stop, 60)


def hang_mid_stream(conn, req, stop):
    conn.sendall(SSE_HEAD + chunk_event())
    wait(stop, 60)


def drip(conn, req, stop):
    """One byte a second of a valid answer."""
    whole = (SSE_HEAD + chunk_event() + FINAL) if req.stream else response(200, completion())
    send_for(conn, stop, (whole[i : i + 1] for i in range(len(whole))), pause=1.0)


def big_body(size: int):
    def handler(conn, req, stop):
        conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n".encode())
        conn.sendall(b'{"pad": "')
        send_for(conn, stop, (CHUNK for _ in range(size // len(CHUNK))))
    return handler


def big_stream(size: int):
    def handler(conn, req, stop):
        event = chunk_event("x" * 2000, 1)
        conn.sendall(SSE_HEAD + chunk_event())
        send_for(conn, stop, (event * 32 for _ in range(size // (len(event) * 32) + 1)))
        conn.sendall(FINAL)
    return handler


def infinite_stream(conn, req, stop):
    conn.sendall(SSE_HEAD + chunk_event())
    event = chunk_event("more", 1) * 64
    send_for(conn, stop, iter(lambda: event, None))


def tiny_events(count: int):
    def handler(conn, req, stop):
        conn.sendall(SSE_HEAD)
        batch = b"data: {}\n\n" * 10_000
        send_for(conn, stop, (batch for _ in range(count // 10_000)))
        conn.sendall(b"data: [DONE]\n\n")
    return handler


def invalid_json(conn, req, stop):
    if req.stream:
        conn.sendall(SSE_HEAD + b'data: {"choices": [\n\ndata: [DONE]\n\n')
    else:
        conn.sendall(response(200, b'{"id": "c", "choices": [{"message": '))


def invalid_utf8(conn, req, stop):
    bad = b'\xff\xfe\xc3\x28 \xed\xa0\x80'
    if req.stream:
        conn.sendall(SSE_HEAD + chunk_event().replace(b"hi", bad) + b"data: [DONE]\n\n")
    else:
        conn.sendall(response(200, completion().replace(b"hi", bad)))


def wrong_content_type(conn, req, stop):
    if req.stream:
        body = chunk_event() + b"data: [DONE]\n\n"
        conn.sendall(response(200, body, "application/json"))
    else:
        conn.sendall(response(200, completion(), "text/html"))


def reset_mid_stream(conn, req, stop):
    if req.stream:
        conn.sendall(SSE_HEAD + chunk_event() + chunk_event("more", 1))
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n" + completion()[:40])
    time.sleep(0.1)
    reset(conn)


def no_terminator(conn, req, stop):
    if req.stream:
        conn.sendall(SSE_HEAD + chunk_event() + chunk_event("!", 1))
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n" + completion())


def http10_close_delimited(conn, req, stop):
    if req.stream:
        conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\n" + chunk_event() + FINAL)
    else:
        conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n" + completion())


def huge_headers(conn, req, stop):
    conn.sendall(response(200, completion(), extra=f"x-padding: {'a' * 65536}\r\n"))


def deep_json(depth: int):
    def handler(conn, req, stop):
        body = b"[" * depth + b"]" * depth
        if req.stream:
            conn.sendall(SSE_HEAD + b"data: " + body + b"\n\ndata: [DONE]\n\n")
        else:
            conn.sendall(response(200, body))
    return handler


def gzip_bomb(size: int):
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing, built without holding `size` bytes
    zeros = b"\0" * MB_
    payload = b"".join(packer.compress(zeros) for _ in range(size // MB_)) + packer.flush()

    def handler(conn, req, stop):
        conn.sendall(response(200, payload, extra="content-encoding: gzip\r\n"))
    return handler


def error_body_with_200(conn, req, stop):
    body = json.dumps({"error": {"message": "upstream failed", "type": "server_error", "code": None}}).encode()
    if req.stream:
        conn.sendall(SSE_HEAD + b"data: " + body + b"\n\ndata: [DONE]\n\n")
    else:
        conn.sendall(response(200, body))


def redirect_to(other_url: str):
    def handler(conn, req, stop):
        conn.sendall(response(307, b"", extra=f"location: {other_url}/chat/completions\r\n"))
    return handler


# -- echo of the key, in each encoding -------------------------------------------------------------
def encodings(key: str) -> dict[str, str]:
    return {
        "plain": key,
        "upper": key.upper(),
        "base64": base64.b64encode(f"Bearer {key}".encode()).decode(),
        "percent": quote(key, safe="") if quote(key, safe="") != key else "".join(f"%{b:02X}" for b in key.encode()),
        "u_escaped": "".join(f"\\u{ord(c):04x}" for c in key),
        "pieces": f"{key[:8]}...{key[-4:]} and {key[12:24]}",  # a masked key still shows 8+ characters
    }


def key_echo(names: list[str]):
    """Echoes the key it was sent, in each of the named encodings, in a header, a Location, the
    body (a 200 reply to a request with a system message, else a 401 error) or the stream."""
    def handler(conn, req, stop):
        forms = encodings(req.key or "no-key-sent")
        shown = " | ".join(forms[name] for name in names)
        extra = f"x-request-key: {shown}\r\nlocation: https://example.invalid/keys/{forms[names[-1]]}\r\n"
        content = json.dumps("your key is " + shown)[1:-1].replace("\\\\u", "\\u")  # \u forms stay JSON escapes
        if req.stream:
            chunk = chunk_event("x").replace(b'"x"', f'"{content}"'.encode())
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" + extra.encode() + b"connection: close\r\n\r\n"
                         + chunk + FINAL)
        elif b'"system"' not in req.body:
            error = '{"error": {"message": "Incorrect API key provided: %s", "type": "invalid_request_error", "code": "invalid_api_key"}}' % content
            conn.sendall(response(401, error.encode(), extra=extra))
        else:
            body = completion("X").replace(b'"X"', f'"{content}"'.encode())
            conn.sendall(response(200, body, extra=extra))
    return handler


# -- the scan --------------------------------------------------------------------------------------
def canary_forms(key: str = CANARY) -> list[str]:
    """Every form of the key a leak could take (lower-cased; compare with a lower-cased text)."""
    forms = set()
    for variant in (key, key.lower(), key.upper()):
        raw = variant.encode()
        for i in range(len(variant) - 7):
            forms.add(variant[i : i + 8].lower())
        forms.add(quote(variant, safe="").lower())
        forms.add("".join(f"%{b:02x}" for b in raw))
        forms.add("".join(f"\\u{ord(c):04x}" for c in variant))
        for k in range(3):
            encoded = base64.b64encode(b"\0" * k + raw).decode()
            stable = encoded[-(-k * 8 // 6) : (k + len(raw)) * 8 // 6]
            forms.add(stable.lower())
            forms.add(stable.replace("+", "-").replace("/", "_").lower())
    return sorted(forms)


def leaks(text: str, key: str = CANARY) -> list[str]:
    low = text.lower()
    return [form for form in canary_forms(key) if form in low]


def main() -> None:  # a full-size run by hand: see the note of issue 18
    import sys

    name = sys.argv[1]
    handlers = {"big_body": big_body(100 * 1024 * 1024), "big_stream": big_stream(1024 ** 3), "tiny_events": tiny_events(1_000_000),
                "gzip_bomb": gzip_bomb(1024 ** 3), "infinite_stream": infinite_stream, "drip": drip, "deep_json": deep_json(100_000)}
    with hostile_server(handlers[name]) as server:
        print(server.url, flush=True)
        server.stop.wait()


if __name__ == "__main__":
    main()
