"""Speed work (issue 12): the pooled client per worker, `serve --latency`, the schema shape cache,
the stream fast paths, and `conformance bench` (a smoke run at tiny sizes: its JSON shape only,
never a timing assertion)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from conformance.exchange import Exchange, Recorder, record
from conformance.redact import REDACTED, Redactor
from conformance.schemas import SchemaRegistry
from conformance.transport import Limits, Transport, close_pooled_clients, pooled_client

KEY = "sk-speed-secret-0123456789abcdef"


@contextmanager
def keep_alive_server(set_cookie: str | None = None):
    """An HTTP/1.1 server that keeps connections open; counts the connections it accepted and
    records the Cookie header of every request."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()
    state = {"connections": 0, "cookies": []}

    def serve(conn):
        with conn:
            conn.settimeout(2)
            buf = b""
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    cookie = [line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n") if line.lower().startswith(b"cookie:")]
                    state["cookies"].append(cookie[0] if cookie else None)
                    body = b'{"ok": true}'
                    extra = f"set-cookie: {set_cookie}\r\n" if set_cookie else ""
                    conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body)

    def loop():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            state["connections"] += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", state
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


@pytest.fixture(autouse=True)
def _close_pool():
    yield
    close_pooled_clients()


# -- the pooled client -----------------------------------------------------------------------------------
def test_cases_of_a_worker_share_one_client_and_one_connection():
    with keep_alive_server() as (url, state):
        for _ in range(5):  # five cases, each with its own Transport, as the plugin makes them
            t = Transport(url, limits=Limits(), client=pooled_client(url, Limits()))
            assert t.request("GET", "/models").status == 200
            t.close()
    assert state["connections"] == 1


def test_a_transport_with_its_own_client_still_closes_it():
    with keep_alive_server() as (url, state):
        t = Transport(url)
        t.request("GET", "/models")
        t.close()
        assert t._client.is_closed
    shared = pooled_client(url)
    t = Transport(url, client=shared)
    t.close()
    assert not shared.is_closed  # a pooled client outlives the case
    close_pooled_clients()
    assert shared.is_closed


def test_the_pool_is_keyed_by_origin_and_transport_limits():
    a = pooled_client("http://127.0.0.1:1/v1")
    assert pooled_client("http://127.0.0.1:1/other") is a
    assert pooled_client("http://127.0.0.1:2/v1") is not a
    assert pooled_client("http://127.0.0.1:1/v1", Limits(read_s=1)) is not a
    assert a.timeout.read == Limits().read_s
    assert a._transport._pool._keepalive_expiry <= 2.0  # idle connections go before servers drop them
    close_pooled_clients()
    assert pooled_client("http://127.0.0.1:1/v1") is not a  # a closed client is replaced


def test_cookies_stay_within_one_transport_even_with_a_shared_client():
    with keep_alive_server(set_cookie="session=abc") as (url, state):
        first = Transport(url, client=pooled_client(url))
        first.request("GET", "/models")
        first.request("GET", "/models")  # the same case: its cookie comes back, as with its own client
        second = Transport(url, client=pooled_client(url))
        second.request("GET", "/models")  # another case: no cookie of the first one
    assert state["cookies"] == [None, "session=abc", None]


def test_a_cut_response_does_not_poison_the_pooled_connection():
    def handler(conn, request):
        if b"/huge" in request:
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n" + b"x" * 200_000)
        else:
            conn.sendall(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}')

    from hostile import raw_server

    limits = Limits(connect_s=2, read_s=1, total_s=3, max_bytes=100_000)
    with raw_server(handler) as url:
        client = pooled_client(url, limits)
        cut = Transport(url, limits=limits, client=client).request("GET", "/huge")
        after = Transport(url, limits=limits, client=client).request("GET", "/models")
    assert cut.error_kind == "too_large"
    assert after.error is None and after.status == 200 and after.body == {}


def test_the_plugin_builds_case_transports_on_the_pooled_client():
    import inspect

    from conformance import pytest_plugin

    assert "client=pooled_client(" in inspect.getsource(pytest_plugin.CaseContext.__init__)
    assert "close_pooled_clients()" in inspect.getsource(pytest_plugin.Session.close)


# -- serve --latency / --chunk-delay ---------------------------------------------------------------------
def test_the_reference_server_adds_latency_and_chunk_delay():
    from conformance.reference.app import ServerSettings, new_api_key
    from conformance.reference.server import EmbeddedServer

    key = new_api_key()
    settings = ServerSettings(api_keys=frozenset({key}), latency_ms=300, chunk_delay_ms=50)
    body = {"model": "deepseek/deepseek-v4-pro", "messages": [{"role": "user", "content": "Say hello."}], "stream": True}
    with EmbeddedServer(settings) as server, httpx.Client(timeout=10, trust_env=False) as client:
        assert client.get(server.base_url.replace("/v1", "/health")).status_code == 200
        started = time.monotonic()
        with client.stream("POST", f"{server.base_url}/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}) as response:
            arrivals = [time.monotonic() - started for _ in response.iter_raw()]
    assert response.status_code == 200
    assert arrivals[0] >= 0.3  # lower bounds only: a sleep guarantees them
    assert len(arrivals) >= 3 and arrivals[-1] - arrivals[0] >= 0.05 * (len(arrivals) - 1) * 0.9


def test_serve_rejects_a_negative_latency(tmp_path):
    env = {**os.environ, "CONFORMANCE_API_KEY": "sk-local-test"}
    proc = subprocess.run([sys.executable, "-m", "conformance", "serve", "--latency", "-5"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["conformance: error: --latency must be between 0 and 600000 milliseconds, not -5"]


# -- the schema shape cache ----------------------------------------------------------------------------
def _registry(tmp_path, schema: dict) -> SchemaRegistry:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "s.json").write_text(json.dumps(schema))
    return SchemaRegistry(tmp_path)


def test_valid_shapes_are_memoised_but_an_error_in_the_same_shape_is_still_found(tmp_path):
    reg = _registry(tmp_path, {"type": "object", "properties": {"content": {"type": "string"}, "n": {"type": "integer"}}})
    assert reg._free_text == {} and list(reg.errors("x/s", {"content": "a", "n": 1})) == []
    assert "content" in reg._free_text["x/s"]
    assert list(reg.errors("x/s", {"content": "something else", "n": 1})) == []
    assert [e.pointer for e in reg.errors("x/s", {"content": "a", "n": True})] == ["/n"]  # True is not 1
    assert [e.pointer for e in reg.errors("x/s", {"content": 5, "n": 1})] == ["/content"]  # a non-string is not abstracted


@pytest.mark.parametrize(
    "content_schema",
    [
        {"type": "string", "maxLength": 3},
        {"type": "string", "enum": ["abc"]},
        {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^a"}]},
        {"$ref": "#/$defs/short"},
    ],
)
def test_a_constrained_free_text_property_is_never_abstracted(tmp_path, content_schema):
    schema = {
        "type": "object",
        "properties": {"wrap": {"type": "object", "properties": {"content": content_schema}}},
        "$defs": {"short": {"type": "string", "maxLength": 3}},
    }
    reg = _registry(tmp_path, schema)
    assert list(reg.errors("x/s", {"wrap": {"content": "abc"}})) == []
    assert "content" not in reg._free_text["x/s"]
    assert [e.pointer for e in reg.errors("x/s", {"wrap": {"content": "zzzzzz"}})] == ["/wrap/content"]


def test_the_chunk_schema_abstracts_the_streamed_text():
    from conformance.schemas import registry

    reg = registry()
    for reading in ("compatible", "strict"):
        list(reg.errors(f"openai/{reading}/chat_chunk", {}))
        assert {"content", "arguments", "refusal"} <= reg._free_text[f"openai/{reading}/chat_chunk"]


# -- stream fast paths -----------------------------------------------------------------------------------
def _stream(*payloads: str) -> bytes:
    return "".join(f"data: {p}\n\n" for p in payloads).encode() + b"data: [DONE]\n\n"


def test_a_secret_hidden_behind_json_escapes_is_still_redacted_from_events():
    escaped = "\\u0073k-speed-secret-0123456789abcdef"  # 's' escaped: not in the text, but in the JSON
    ex = Exchange(index=0, method="POST", url="http://x/v1/chat/completions", request_headers={}, request_body={"stream": True}, status=200, headers={"content-type": "text/event-stream"})
    recorder = Recorder(ex, Redactor([KEY]), stream=True)
    recorder.feed(_stream(json.dumps({"plain": KEY}), '{"hidden": "' + escaped + '"}', '{"clean": "x"}'))
    recorder.finish()
    assert [e.json for e in ex.events if e.json] == [{"plain": REDACTED}, {"hidden": REDACTED}, {"clean": "x"}]
    assert KEY not in json.dumps(ex.to_dict())


def test_json_events_follows_changes_of_the_events_list():
    ex = record(method="POST", url="http://x/v1/chat/completions", request_headers={}, request_body={"stream": True}, status=200,
                headers={"content-type": "text/event-stream"}, body=_stream('{"a": 1}', '{"b": 2}'))
    assert [e.json for _, e in ex.json_events()] == [{"a": 1}, {"b": 2}]
    assert ex.json_events() is ex.json_events()
    ex.events = ex.events[1:]
    assert [e.json for _, e in ex.json_events()] == [{"b": 2}]


# -- conformance bench ---------------------------------------------------------------------------------
def test_bench_tiny_runs_every_section_and_reports_json(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "conformance", "bench", "--tiny", "--json"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert {"machine", "sizes", "targets", "suite_vs_replay", "stream", "workers", "memory"} <= out.keys()
    assert [r["latency_ms"] for r in out["suite_vs_replay"]] == out["sizes"]["latencies"]
    for r in out["suite_vs_replay"]:
        assert r["cases"] >= 1 and r["exchanges"] >= 1
        for key in ("suite_wall_s", "replay_s", "ratio", "overhead_ms_per_case", "overhead_ms_median", "startup_s"):
            assert isinstance(r[key], (int, float))
    s = out["stream"]
    assert s["events"] == out["sizes"]["events"] + 1  # the chunks and [DONE]
    assert s["findings"] == []  # the synthetic stream is conformant: the checks had nothing to say
    assert isinstance(s["ratio"], (int, float)) and s["raw_json_s"] > 0
    assert [r["workers"] for r in out["workers"]["runs"]] == out["sizes"]["workers"]
    assert set(out["workers"]["speedup"]) == {str(n) for n in out["sizes"]["workers"]}
    assert len(out["memory"]) == 4 and all(r["peak_rss_mb"] >= r["base_rss_mb"] > 0 for r in out["memory"])
    assert [r["limits"] for r in out["memory"]] == ["default", "default", "raised", "raised"]
    for r in out["memory"]:
        assert r["stopped"] is None and r["checked_bytes"] == r["bytes"]  # tiny streams: checked whole either way
    assert out["memory"][0]["bytes"] >= 1024 * 1024 and out["memory"][1]["events"] == out["sizes"]["events"] + 1


def test_bench_memory_says_when_the_limit_stopped_reading():
    """A stream past the run's default max_stream_bytes is not checked whole: the memory figure
    must say so (how much was checked), and the raised-limits row checks all of it."""
    from conformance import bench
    from conformance.exchange import MAX_STREAM_BYTES

    size = MAX_STREAM_BYTES + 2 * 1024 * 1024
    cut = bench.peak_rss("bytes", size)
    assert cut["stopped"] and "max_stream_bytes" in cut["stopped"]
    assert cut["checked_bytes"] <= MAX_STREAM_BYTES < cut["bytes"]
    whole = bench.peak_rss("bytes", size, True)
    assert whole["stopped"] is None and whole["checked_bytes"] == whole["bytes"] == cut["bytes"]
    assert "stream_done_terminator" not in whole["findings"]  # the whole stream ends with [DONE]
    table = bench.render_table({"machine": bench.machine() | {"load_after": None}, "memory": [cut, whole]})
    assert "then stopped by the limit" in table and "checked whole" in table


def test_bench_prints_a_table_and_rejects_bad_sizes(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "conformance", "bench", "--tiny", "--only", "stream"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "stream checks vs raw json.loads" in proc.stdout and "≤ 4× raw json.loads" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "conformance", "bench", "--only", "nope"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("conformance: error: --only: unknown section 'nope'")
