"""The validating proxy (`conformance proxy`): relays unchanged, judges every exchange, never leaks a key.

Upstreams here are the embedded reference server (with faults, for the SDKs and the rules) and a
scripted ASGI upstream (for bytes, timing, concurrency and disconnects it can observe itself).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn

from conformance.proxy import ProxyServer, ProxySettings
from conformance.reference.app import ServerSettings
from conformance.reference.faults import FAULTS
from conformance.reference.server import EmbeddedServer
from conformance.report import load_results

KEY = "sk-proxy-canary-5e1d9a7c3b2f4e60a8d1c3b5f7e9a2c4"
OPENAI_MODEL = "deepseek/deepseek-v4-pro"
ANTHROPIC_MODEL = "anthropic/claude-sonnet-4.6"
# the installed anthropic SDK sends an anthropic-version the reference server does not know yet
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}
FAULTS_USED = ("repeat_role", "anthropic_stream_zero_start_usage")


# -- a scripted upstream -----------------------------------------------------------------------------
# Split mid-line, mid-UTF-8 character, with CRLF, a comment and an unknown field: relayed as they are.
STREAM_CHUNKS = [
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"caf',
    b'\xc3', b'\xa9"}}]}\r\n\r\n: keep-alive\n\n',
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


class Upstream:
    """A raw ASGI upstream that records what it received and streams what a test asks for."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.cancelled = threading.Event()
        self.open = 0
        self.max_open = 0
        self.hold_until = 50

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append({"method": scope["method"], "raw_path": scope["raw_path"], "query": scope["query_string"],
                              "headers": list(scope["headers"]), "body": body})
        path = scope["path"]
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream"), (b"x-upstream", b"yes")]}
        if path.endswith("/bytes"):
            await send(start)
            for chunk in STREAM_CHUNKS:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await anyio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif path.endswith("/gzip"):
            payload = gzip.compress(json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]}).encode())
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-encoding", b"gzip"), (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload, "more_body": False})
        elif path.endswith("/odd-encoding"):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-encoding", b"x-private")]})
            await send({"type": "http.response.body", "body": b"\x00\x01 not json"})
        elif path.endswith("/slow-headers"):
            with anyio.move_on_after(10):
                if (await receive())["type"] == "http.disconnect":
                    self.cancelled.set()
                    return
            await send(start)
            await send({"type": "http.response.body", "body": b"late"})
        elif path.endswith("/endless"):
            await send(start)
            try:
                while True:
                    await send({"type": "http.response.body", "body": b": tick\n\n", "more_body": True})
                    with anyio.move_on_after(0.05):
                        if (await receive())["type"] == "http.disconnect":
                            break
            except OSError:
                pass
            finally:
                self.cancelled.set()
        elif path.endswith("/hold"):
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            try:
                await send(start)
                await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
                with anyio.move_on_after(30):
                    while self.max_open < self.hold_until:
                        await anyio.sleep(0.02)
                await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            finally:
                self.open -= 1
        elif path.startswith("/timed"):
            await send(start)
            for i in range(int(scope["query_string"] or b"100")):
                await anyio.sleep(0.004)
                await send({"type": "http.response.body", "body": f"data: {time.monotonic_ns()}\n\n".encode(), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"error":{"message":"no such path","type":"not_found"}}'})


@pytest.fixture(scope="module")
def upstream():
    app = Upstream()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off", http="h11"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    app.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def reference():
    settings = ServerSettings(api_keys=frozenset({KEY}), faults=frozenset(FAULTS_USED))
    with EmbeddedServer(settings) as server:
        server.origin = f"http://127.0.0.1:{server.port}"
        yield server


def proxy(upstream_url: str, report_dir: Path, **kwargs) -> ProxyServer:
    return ProxyServer(ProxySettings(upstream=upstream_url, port=0, report_dir=str(report_dir), **kwargs))


def cases_of(report_dir: Path) -> list[dict]:
    return load_results(report_dir / "results.json")["cases"]  # also validates against the schema


# -- the official SDKs through the proxy -------------------------------------------------------------
def _openai_calls(base_url: str) -> list:
    import openai

    client = openai.OpenAI(base_url=base_url + "/v1", api_key=KEY, max_retries=0)
    out = []
    reply = client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=20)
    out.append((reply.choices[0].message.content, reply.choices[0].finish_reason, reply.usage.total_tokens))
    stream = client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hello"}], stream=True)
    out.append([(c.choices[0].delta.role, c.choices[0].delta.content, c.choices[0].finish_reason) for c in stream if c.choices])
    out.append([m.id for m in client.models.list()])
    try:
        openai.OpenAI(base_url=base_url + "/v1", api_key="sk-wrong-key-000000", max_retries=0).chat.completions.create(
            model=OPENAI_MODEL, messages=[{"role": "user", "content": "x"}])
    except openai.APIStatusError as exc:
        out.append((type(exc).__name__, exc.status_code))
    return out


def _anthropic_calls(base_url: str) -> list:
    import anthropic

    client = anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=0, default_headers=ANTHROPIC_HEADERS)
    out = []
    message = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=30, messages=[{"role": "user", "content": "hello"}])
    out.append(([b.text for b in message.content], message.stop_reason, message.usage.output_tokens))
    with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=30, messages=[{"role": "user", "content": "hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    out.append((text, final.stop_reason, final.usage.output_tokens))
    try:
        client.messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.APIStatusError as exc:
        out.append((type(exc).__name__, exc.status_code))
    return out


def test_the_official_sdks_work_through_the_proxy_as_without_it_and_the_faults_rules_fire(reference, tmp_path):
    direct = (_openai_calls(reference.origin), _anthropic_calls(reference.origin))
    with proxy(reference.origin, tmp_path) as px:
        proxied = (_openai_calls(px.url), _anthropic_calls(px.url))
    assert proxied == direct
    cases = cases_of(tmp_path)
    assert len(cases) == 7  # every exchange is a case
    fired = {f["rule"] for c in cases for f in c["findings"]}
    for name in FAULTS_USED:
        assert set(FAULTS[name].expect) <= fired, (name, fired)
    rules = {f["rule"] for c in cases for f in c["findings"]}
    assert "stream_role_first_only" in rules
    from conformance.checks import RULES, load_all

    load_all()
    assert rules <= set(RULES)
    by_title = {c["title"]: c for c in cases}
    assert by_title[f"POST /v1/chat/completions ({OPENAI_MODEL}, stream) → 200"]["verdict"] == "FAIL"
    assert by_title["GET /v1/models → 200"]["verdict"] == "PASS"
    assert by_title[f"POST /v1/chat/completions ({OPENAI_MODEL}) → 401"]["feature"] == "errors"


def test_a_reference_stream_reaches_the_client_exactly_as_the_upstream_sent_it(tmp_path):
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}))) as clean, proxy(f"http://127.0.0.1:{clean.port}", tmp_path) as px:
        body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "tell me"}], "stream": True}
        with httpx.stream("POST", px.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}) as r:
            received = b"".join(r.iter_raw())
    (case,) = cases_of(tmp_path)
    assert case["verdict"] == "PASS", case["findings"]
    assert received.decode() == case["exchanges"][0]["response"]["raw_sse"]  # what the proxy read upstream
    assert received.endswith(b"data: [DONE]\n\n")


def test_requests_are_forwarded_unchanged_and_streams_relayed_byte_for_byte(upstream, tmp_path):
    body = b'{"model":"m","stream":true,  "messages":[{"role":"user","content":"hi"}]}'
    headers = [("authorization", f"Bearer {KEY}"), ("x-custom", "a"), ("x-custom", "b"), ("content-type", "application/json"),
               ("connection", "keep-alive, x-hop"), ("x-hop", "not forwarded"), ("accept-encoding", "identity")]
    with proxy(upstream.url, tmp_path) as px:
        upstream.requests.clear()
        with httpx.Client() as client:
            with client.stream("POST", px.url + "/v1/bytes?a=1&b=%20x", content=body, headers=headers) as r:
                chunks = list(r.iter_raw())
                status, got_headers = r.status_code, r.headers
    assert b"".join(chunks) == b"".join(STREAM_CHUNKS)
    assert status == 200 and got_headers["x-upstream"] == "yes" and got_headers["content-type"] == "text/event-stream"
    (seen,) = upstream.requests
    assert seen["raw_path"] == b"/v1/bytes" and seen["query"] == b"a=1&b=%20x" and seen["body"] == body
    sent = [(k.decode(), v.decode()) for k, v in seen["headers"]]
    assert ("authorization", f"Bearer {KEY}") in sent  # credentials are forwarded
    assert [v for k, v in sent if k == "x-custom"] == ["a", "b"]
    assert not any(k in ("x-hop", "connection") for k, v in sent)  # hop-by-hop ones are not
    assert dict(sent)["host"] == upstream.url.removeprefix("http://")
    (case,) = cases_of(tmp_path)
    assert case["exchanges"][0]["request"]["headers"]["authorization"] == "[REDACTED]"
    assert KEY not in json.dumps(case)


def test_a_compressed_body_is_relayed_compressed_and_judged_decoded(upstream, tmp_path):
    with proxy(upstream.url, tmp_path) as px:
        r = httpx.get(px.url + "/v1/gzip", headers={"accept-encoding": "gzip"})
        raw = httpx.get(upstream.url + "/v1/gzip", headers={"accept-encoding": "gzip"})
        assert r.json()["object"] == "list"
        assert r.headers["content-encoding"] == "gzip" and r.headers["content-length"] == raw.headers["content-length"]
    (case,) = cases_of(tmp_path)
    assert case["exchanges"][0]["response"]["body"]["object"] == "list"


def test_a_body_the_proxy_cannot_decode_is_relayed_and_not_judged(upstream, tmp_path):
    with proxy(upstream.url, tmp_path) as px:
        r = httpx.post(px.url + "/v1/chat/completions/odd-encoding", json={"model": "m"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "x-private"
    (case,) = cases_of(tmp_path)
    assert case["verdict"] == "ERROR" and case["findings"] == [] and "x-private" in case["reason"]


def test_an_upstream_that_breaks_mid_stream_breaks_the_client_stream_too(tmp_path):
    from hostile import raw_server

    def handler(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 1000\r\n\r\ndata: {}\n\n")
        time.sleep(0.2)  # then the connection closes, 990 bytes short

    with raw_server(handler) as url:
        origin = url.removesuffix("/v1")
        cut = (httpx.RemoteProtocolError, httpx.ReadError)  # incomplete body, or reset: never a clean end
        with pytest.raises(cut):
            httpx.post(url + "/chat/completions", json={"stream": True})
        with proxy(origin, tmp_path) as px, pytest.raises(cut):
            httpx.post(px.url + "/v1/chat/completions", json={"stream": True})
    (case,) = cases_of(tmp_path)
    assert case["verdict"] == "ERROR" and "upstream connection failed while reading" in case["reason"]


def test_fifty_concurrent_streams_are_relayed_at_once(upstream, tmp_path):
    async def one(client: httpx.AsyncClient, url: str) -> bytes:
        async with client.stream("POST", url, json={"stream": True}) as r:
            return b"".join([c async for c in r.aiter_raw()])

    async def all_of(url: str) -> list[bytes]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=100)) as client:
            return await asyncio.gather(*(one(client, url) for _ in range(50)))

    upstream.max_open = 0
    with proxy(upstream.url, tmp_path) as px:
        bodies = asyncio.run(all_of(px.url + "/v1/hold"))
    assert upstream.max_open == 50  # every stream was open upstream at the same time
    assert bodies == [b": open\n\ndata: [DONE]\n\n"] * 50
    assert len(cases_of(tmp_path)) == 50


def test_a_client_disconnect_cancels_the_upstream_request(upstream, tmp_path):
    upstream.cancelled.clear()
    with proxy(upstream.url, tmp_path) as px:
        with httpx.stream("POST", px.url + "/v1/endless", json={"stream": True}, timeout=10) as r:
            next(r.iter_raw())
        assert upstream.cancelled.wait(5), "the upstream kept streaming after the client left"
        deadline = time.monotonic() + 5
        while px.app.open_upstream and time.monotonic() < deadline:
            time.sleep(0.05)
        assert px.app.open_upstream == 0
    (case,) = cases_of(tmp_path)
    assert case["verdict"] == "SKIP" and "disconnected" in case["reason"]  # never judged as a broken stream


def test_a_client_that_leaves_before_the_upstream_answers_cancels_the_upstream_request(upstream, tmp_path):
    upstream.cancelled.clear()
    with proxy(upstream.url, tmp_path) as px:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(px.url + "/v1/chat/completions/slow-headers", json={"model": "m"}, timeout=httpx.Timeout(5, read=0.5))
        assert upstream.cancelled.wait(5), "the upstream request went on after the client left"
    (case,) = cases_of(tmp_path)
    assert case["verdict"] == "SKIP" and "before the upstream answered" in case["exchanges"][0]["response"]["error"]


def test_an_unreachable_upstream_is_a_502_with_a_clear_body(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with proxy(dead, tmp_path) as px:
        r = httpx.post(px.url + "/v1/chat/completions", json={"model": "m"}, headers={"authorization": f"Bearer {KEY}"})
        a = httpx.post(px.url + "/v1/messages", json={"model": "m"})
    assert r.status_code == 502 and "could not reach the upstream" in r.json()["error"]["message"]
    assert a.status_code == 502 and a.json()["type"] == "error" and "could not reach" in a.json()["error"]["message"]
    cases = cases_of(tmp_path)
    assert [c["verdict"] for c in cases] == ["ERROR", "ERROR"]
    assert "could not reach the upstream" in cases[0]["reason"]


def test_a_body_over_the_limit_gets_413_and_is_not_forwarded(upstream, tmp_path):
    upstream.requests.clear()
    with proxy(upstream.url, tmp_path, max_body_bytes=1000) as px:
        big = httpx.post(px.url + "/v1/bytes", content=b"x" * 1001)

        def chunked():
            yield b"y" * 600
            yield b"y" * 600

        streamed = httpx.post(px.url + "/v1/bytes", content=chunked())
        ok = httpx.post(px.url + "/v1/bytes", content=b"z" * 1000)
    assert big.status_code == 413 and "1000 bytes" in big.json()["error"]["message"]
    assert streamed.status_code == 413
    assert ok.status_code == 200
    assert [r["body"] for r in upstream.requests] == [b"z" * 1000]


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_the_proxy_never_forwards_to_another_host(upstream, tmp_path):
    upstream.requests.clear()
    with proxy(upstream.url, tmp_path) as px:
        absolute = _raw(px.url, b"GET http://example.invalid/v1/gzip HTTP/1.1\r\nHost: example.invalid\r\nConnection: close\r\n\r\n")
        host_trick = _raw(px.url, b"GET /v1/gzip HTTP/1.1\r\nHost: example.invalid\r\nConnection: close\r\n\r\n")
        own = _raw(px.url, f"GET {upstream.url}/v1/gzip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        slashes = _raw(px.url, b"GET //example.invalid/v1/gzip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert absolute.startswith(b"HTTP/1.1 400") and b"refusing to forward to example.invalid" in absolute
    assert host_trick.startswith(b"HTTP/1.1 200")  # the Host header does not choose the destination
    assert own.startswith(b"HTTP/1.1 200")  # absolute-form naming the upstream itself is fine
    assert slashes.startswith(b"HTTP/1.1 200")  # a path on the upstream (see below), not a host
    hosts = [dict(r["headers"])[b"host"].decode() for r in upstream.requests]
    assert hosts == [upstream.url.removeprefix("http://")] * 3
    assert [r["raw_path"] for r in upstream.requests] == [b"/v1/gzip", b"/v1/gzip", b"//example.invalid/v1/gzip"]


def test_an_upstream_path_prefix_is_kept_once(upstream, tmp_path):
    upstream.requests.clear()
    with proxy(upstream.url + "/v1", tmp_path) as px:
        httpx.get(px.url + "/v1/gzip")  # OPENAI_BASE_URL=http://proxy/v1
        httpx.get(px.url + "/gzip")  # a base URL without /v1
    assert [r["raw_path"] for r in upstream.requests] == [b"/v1/gzip", b"/v1/gzip"]


# -- the command line --------------------------------------------------------------------------------
def _start_cli(upstream_url: str, report_dir: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "proxy", "--upstream", upstream_url, "--listen", "127.0.0.1:0",
                             "--report-dir", str(report_dir), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = proc.stdout.readline()
    assert first.startswith("conformance proxy: http://127.0.0.1:"), first + proc.stderr.read()
    return proc, first.split()[2]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_command_writes_every_report_on_exit_and_no_key_anywhere(reference, tmp_path, stop):
    import anthropic
    import openai

    report_dir = tmp_path / "reports"
    proc, url = _start_cli(reference.origin, report_dir)
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        list(client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": f"repeat {KEY}"}], stream=True))
        anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, default_headers=ANTHROPIC_HEADERS).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        httpx.get(f"{url}/v1/models?key={KEY}", headers={"x-api-key": KEY})
        deadline = time.monotonic() + 30
        while not (report_dir / "results.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (report_dir / "results.json").is_file(), "results.json is written while the proxy runs"
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    for name in ("results.json", "summary.md", "junit.xml", "index.html"):
        assert f"wrote {report_dir / name}" in out
    assert "proxy: 3 exchanges: 2 PASS, 1 FAIL" in out
    results = load_results(report_dir / "results.json")
    assert results["summary"]["total"] == 3 and results["summary"]["failed"] == 1
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 4
    for text in [p.read_text(errors="replace") for p in written] + [out, err]:
        assert KEY not in text and KEY[-12:] not in text
    assert "[REDACTED]" in (report_dir / "results.json").read_text()


def test_bad_command_lines_are_one_line_errors(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args, message in [
            (["--upstream", "ftp://x"], "--upstream: 'ftp://x' is not an http(s) URL"),
            (["--upstream", "http://x", "--listen", "nowhere"], "--listen 'nowhere': expected HOST:PORT"),
            (["--upstream", "http://user:pw@x"], "--upstream: put no credentials in the URL"),
            (["--upstream", "http://x", "--max-body-bytes", "0"], "--max-body-bytes must be a positive"),
            (["--upstream", "http://x", "--profile", "nope"], "nope"),
            (["--upstream", "http://x", "--listen", f"127.0.0.1:{port}"], "cannot listen there"),
        ]:
            proc = subprocess.run([sys.executable, "-m", "conformance", "proxy", *args], capture_output=True, text=True, env=env, timeout=60)
            assert proc.returncode == 2 and proc.stderr.startswith("conformance: error:") and message in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr


# -- latency ---------------------------------------------------------------------------------------
def _chunk_delays_ms(url: str, chunks: int) -> list[float]:
    """For each chunk: when the client read it minus when the upstream sent it (same machine clock)."""
    delays = []  # (a chat-completions path, so the proxy's worker judges every one of these streams)
    with httpx.stream("POST", f"{url}/timed/v1/chat/completions?{chunks}", json={"model": "m", "stream": True}, timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                delays.append((time.monotonic_ns() - int(line[6:])) / 1e6)
    return delays


def test_the_relay_adds_under_a_millisecond_per_chunk(upstream, tmp_path):
    """The proxy runs as the CLI does (its own process, judging in its worker); the added latency
    is the median per-chunk delay through it minus the median delay straight from the upstream."""
    proc, url = _start_cli(upstream.url, tmp_path)
    try:
        _chunk_delays_ms(url, 20)  # warm up: connections, the worker
        figures = []
        for _ in range(3):
            direct = statistics.median(_chunk_delays_ms(upstream.url, 150))
            proxied = statistics.median(_chunk_delays_ms(url, 150))
            figures.append(proxied - direct)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    added = min(figures)
    print(f"added per-chunk latency (median): {added:.3f} ms; runs: {', '.join(f'{f:.3f}' for f in figures)}")
    assert added <= 1.0


def test_a_long_running_proxy_keeps_full_exchanges_only_where_they_are_evidence():
    from conformance.proxy import judging

    state = judging._State(judging.WorkerConfig(profiles=("openai",), strictness="compatible", disabled=frozenset(), report_dir="x", upstream="http://u"))
    failing = {"rule": "stream_role_first_only", "severity": "error"}
    for seq in range(1, judging.KEEP_RECENT_EXCHANGES + 3):
        exchange = {"request": {"method": "POST", "url": "http://u/v1/chat/completions", "body": {"big": "x" * 100}},
                    "response": {"status": 200, "body": "y" * 100}}
        state.keep(seq, {"findings": [failing] if seq in (1, 2) else [], "exchanges": [exchange]})
    assert "body" in state.cases[1]["exchanges"][0]["request"]  # the first evidence of its rule
    assert state.cases[2]["exchanges"][0] == {"request": {"method": "POST", "url": "http://u/v1/chat/completions"},
                                              "response": {"status": 200}, "kept": False}
    assert "body" in state.cases[3]["exchanges"][0]["request"]  # still among the most recent


def test_the_live_line_is_rewritten_in_place_on_a_terminal_and_throttled_otherwise():
    import io

    from conformance.proxy import LiveLine

    tty = io.StringIO()
    line = LiveLine(tty, tty=True)
    line("proxy: 1 exchange")
    line("proxy: 2 exchanges")
    line.final("proxy: 2 exchanges")
    assert tty.getvalue() == "\r\x1b[Kproxy: 1 exchange\r\x1b[Kproxy: 2 exchanges\r\x1b[Kproxy: 2 exchanges\n"
    plain = io.StringIO()
    line = LiveLine(plain, tty=False)
    for n in range(1, 6):
        line(f"proxy: {n} exchanges")
    line.final("proxy: 5 exchanges")
    assert plain.getvalue() == "proxy: 1 exchanges\nproxy: 5 exchanges\n"


def test_a_relayed_stream_past_the_memory_limit_is_an_error_not_a_fail():
    """With --max-record-bytes above the recorder's max_stream_bytes, a conformant stream is read
    only in part when judged: its cut end must not be judged (no false FAIL), the case says why."""
    import json as jsonlib

    from conformance.exchange import MAX_STREAM_BYTES
    from conformance.judge import JudgeContext
    from conformance.proxy.judging import Recording, case_for

    def event(delta, finish=None):
        return "data: " + jsonlib.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"

    piece = event({"content": "x" * 1000})
    body = event({"role": "assistant", "content": ""}) + piece * (MAX_STREAM_BYTES // len(piece) + 100) + event({}, "stop") + "data: [DONE]\n\n"
    recording = Recording(seq=1, method="POST", url="http://127.0.0.1:9/v1/chat/completions", request_headers=[("content-type", "application/json")],
                          request_body=jsonlib.dumps({"model": "m", "stream": True, "messages": []}).encode(), started_at=0.0, status=200,
                          response_headers=[("content-type", "text/event-stream")], body=body.encode())
    case = case_for(recording, JudgeContext())
    assert case["verdict"] == "ERROR" and case["findings"] == []
    assert case["reason"].startswith("not judged: response stream larger than the 24 MB limit")
