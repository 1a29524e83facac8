"""The transport against hostile and broken servers: every failure becomes a recorded exchange
with an error (a verdict), never a hang or an exception; secrets never reach the record."""

from __future__ import annotations

import json
import socket
import time

import pytest

from hostile import raw_server, response

from conformance.transport import REDACTED, Limits, Redactor, Transport, close_pooled_clients, pooled_client

KEY = "sk-transport-secret-0123456789abcdef"
POOLED = {"on": False}


@pytest.fixture(autouse=True, params=["own client", "pooled client"])
def client_kind(request):
    """Every transport test runs twice: with the transport's own client and with the worker's
    pooled client (the one suites use), which must behave the same."""
    POOLED["on"] = request.param == "pooled client"
    yield request.param
    close_pooled_clients()


def transport(url: str, **limits) -> Transport:
    limits_ = Limits(**{"connect_s": 2, "read_s": 1, "total_s": 3, **limits})
    client = pooled_client(url, limits_) if POOLED["on"] else None
    return Transport(url, limits=limits_, redactor=Redactor([KEY]), client=client)


def test_credentials_and_echoed_secrets_are_redacted_at_capture():
    def handler(conn, request):
        body = json.dumps({"error": {"message": f"bad key {KEY}", "type": "x"}}).encode()
        conn.sendall(response(401, body, extra=f"x-echo: {KEY}\r\nset-cookie: s={KEY}\r\n"))

    with raw_server(handler) as url:
        ex = transport(url).request("POST", f"/chat?key={KEY}", json={"k": KEY}, headers={"authorization": f"Bearer {KEY}", "x-api-key": KEY})
    record = json.dumps(ex.to_dict())
    assert KEY not in record
    assert ex.request_headers["authorization"] == REDACTED and ex.request_headers["x-api-key"] == REDACTED
    assert ex.headers["x-echo"] == REDACTED and ex.headers["set-cookie"] == REDACTED
    assert ex.body["error"]["message"] == f"bad key {REDACTED}"
    assert ex.status == 401


def test_a_server_that_never_answers_times_out_instead_of_hanging():
    def handler(conn, request):
        time.sleep(3)

    with raw_server(handler) as url:
        started = time.monotonic()
        ex = transport(url).request("GET", "/models")
        elapsed = time.monotonic() - started
    assert ex.error_kind == "timeout" and ex.status is None
    assert elapsed < 2.5  # the read timeout is 1 s: a guard against hanging, not a speed target


def test_a_stream_that_trickles_forever_is_cut_at_the_total_deadline():
    def handler(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
        for _ in range(100):
            conn.sendall(b": still here\n\n")
            time.sleep(0.2)

    with raw_server(handler) as url:
        started = time.monotonic()
        ex = transport(url, total_s=1.0, read_s=1.0).request("POST", "/chat", json={}, stream=True)
        elapsed = time.monotonic() - started
    assert ex.error_kind == "timeout" and ex.status == 200
    assert elapsed < 2.5  # the total deadline is 1 s
    assert ex.is_sse


def test_a_huge_response_is_cut_at_the_size_cap():
    def handler(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n")
        for _ in range(64):
            conn.sendall(b"x" * 65536)

    with raw_server(handler) as url:
        ex = transport(url, max_bytes=100_000).request("GET", "/models")
    assert ex.error_kind == "too_large"


def test_a_connection_reset_mid_body_is_a_read_error():
    def handler(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"partial\":")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with raw_server(handler) as url:
        ex = transport(url).request("GET", "/models")
    assert ex.error_kind in ("read", "timeout")
    assert ex.error


def test_garbage_instead_of_http_is_an_error_not_a_crash():
    def handler(conn, request):
        conn.sendall(b"this is not http\r\n\r\n")

    with raw_server(handler) as url:
        ex = transport(url).request("GET", "/models")
    assert ex.error and ex.status is None


def test_an_unreachable_port_is_a_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = transport(f"http://127.0.0.1:{port}/v1").request("GET", "/models")
    assert ex.error_kind == "connect"


def test_credentials_are_not_sent_to_another_host_on_redirect():
    received = []

    def other(conn, request):
        received.append(request)
        conn.sendall(response(200, b"{}"))

    with raw_server(other) as other_url:
        def redirecting(conn, request):
            conn.sendall(response(307, b"", extra=f"location: {other_url.replace('127.0.0.1', 'localhost')}/models\r\n"))

        with raw_server(redirecting) as url:
            ex = transport(url).request("GET", "/models", headers={"authorization": f"Bearer {KEY}"})
    assert ex.error_kind == "redirect" and ex.status == 307
    assert received == []


def test_same_origin_redirects_are_followed():
    calls = []

    def handler(conn, request):
        calls.append(request.split(b"\r\n", 1)[0])
        if b"/v1/old" in request:
            conn.sendall(response(308, b"", extra="location: /v1/new\r\n"))
        else:
            conn.sendall(response(200, b'{"ok": true}'))

    with raw_server(handler) as url:
        ex = transport(url).request("GET", "/old")
    assert ex.status == 200 and ex.body == {"ok": True}
    assert len(calls) == 2


def test_a_non_json_body_is_kept_as_text():
    with raw_server(lambda conn, request: conn.sendall(response(500, b"Internal Server Error", "text/plain"))) as url:
        ex = transport(url).request("GET", "/models")
    assert ex.status == 500 and ex.body == "Internal Server Error" and not ex.is_json


@pytest.mark.parametrize("secret", ["", "abc"])
def test_tiny_secrets_are_not_used_for_redaction(secret):
    assert Redactor([secret]).text("abc abc") == "abc abc"
