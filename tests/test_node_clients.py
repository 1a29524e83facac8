"""The Node clients as referees (conformance/clients/node.py, checks/node_clients.py).

Tests that need Node and the pinned clients skip with the reason where they are missing
(`.ci/run` installs them with `conformance clients install`; offline, npm cannot).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conformance.checks import evaluate
from conformance.checks.node_clients import check_node_clients
from conformance.clients import BREAKS, NOT_EXERCISED, WORKS, ClientOutcome, aggregate, exchange_from_dict, readiness
from conformance.clients import faults as cf
from conformance.clients import node
from conformance.exchange import record
from conformance.findings import Strictness
from conformance.judge import JudgeContext, judge
from conformance.reference.app import ServerSettings
from conformance.reference.faults import FAULTS
from conformance.reference.server import EmbeddedServer

import python_clients

KEY = "sk-ref-node-clients-0123456789abcdef"
NODE_CLIENTS = {"openai-node", "anthropic-node", "ai-sdk"}

# Which Node clients break on each reference fault (with the representative requests of
# conformance/clients/faults.py: plain, stream, stream with usage, tools, tools streamed).
# Every fault not listed breaks none of them.
NODE_BREAKS = {
    "anthropic_stream_delta_wrong_index": {"ai-sdk", "anthropic-node"},
    "anthropic_stream_error_event_openai_shape": {"ai-sdk", "anthropic-node"},
    "anthropic_stream_index_from_1": {"anthropic-node"},
    "anthropic_stream_no_block_stop": {"ai-sdk"},
    "anthropic_stream_no_delta_usage": {"ai-sdk", "anthropic-node"},
    "anthropic_stream_no_event_lines": {"anthropic-node"},
    "anthropic_stream_tool_json_broken": {"ai-sdk"},
    "anthropic_wrong_message_type": {"ai-sdk"},
    "empty_finish_reason": {"openai-node"},
    "first_delta_no_role": {"openai-node"},
    "keepalive_as_data": {"ai-sdk", "openai-node"},
    "midstream_error_unframed": {"ai-sdk", "openai-node"},
    "no_blank_lines": {"ai-sdk", "openai-node"},
    "no_finish_reason": {"ai-sdk", "openai-node"},
    "stream_tool_call_no_index": {"openai-node"},
    "tool_arguments_object": {"ai-sdk", "openai-node"},
    # issue 11's faults (measured with this file's harness)
    "anthropic_reply_not_object": {"ai-sdk"},
    "anthropic_stream_delta_before_start": {"ai-sdk", "anthropic-node"},
    "anthropic_stream_empty": {"ai-sdk", "anthropic-node"},
    "anthropic_stream_no_message_start": {"anthropic-node"},
    "anthropic_stream_no_message_stop": {"anthropic-node"},
    "anthropic_stream_two_message_starts": {"anthropic-node"},
    "anthropic_stream_wrong_delta_type": {"ai-sdk"},
    "anthropic_tool_use_duplicated": {"ai-sdk", "anthropic-node"},
    "anthropic_tool_use_undeclared": {"ai-sdk"},
    "data_not_json": {"ai-sdk", "openai-node"},
    "json_as_text_plain": {"openai-node"},
    "reply_not_object": {"ai-sdk"},
    "stream_no_choices": {"ai-sdk", "openai-node"},
    "stream_tool_arguments_object": {"ai-sdk", "openai-node"},
    "stream_tool_arguments_truncated": {"ai-sdk"},
    "stream_tool_call_no_id": {"openai-node"},
    "stream_tool_call_undeclared_name": {"ai-sdk"},
    "tool_arguments_truncated": {"ai-sdk"},
    "tool_call_undeclared_name": {"ai-sdk"},
    "two_chunks_per_event": {"ai-sdk", "openai-node"},
}
# The same bytes through the official Python SDKs (tests/python_clients.py).
PYTHON_BREAKS = {
    "stream_finish_differs": {"openai-python"},
    "anthropic_stream_delta_wrong_index": {"anthropic-python"},
    "anthropic_stream_error_event_openai_shape": {"anthropic-python"},
    "anthropic_stream_index_from_1": {"anthropic-python"},
    "anthropic_stream_no_delta_usage": {"anthropic-python"},
    "anthropic_stream_no_event_lines": {"anthropic-python"},
    "keepalive_as_data": {"openai-python"},
    "no_blank_lines": {"openai-python"},
    "stream_tool_call_header_repeated": {"openai-python"},
    "stream_tool_call_no_index": {"openai-python"},
    # issue 11's faults (measured with this file's harness)
    "anthropic_reply_not_object": {"anthropic-python"},
    "anthropic_stream_delta_before_start": {"anthropic-python"},
    "anthropic_stream_empty": {"anthropic-python"},
    "anthropic_stream_no_message_start": {"anthropic-python"},
    "anthropic_tool_use_duplicated": {"anthropic-python"},
    "chunk_wrong_object": {"openai-python"},
    "data_not_json": {"openai-python"},
    "reply_not_object": {"openai-python"},
    "stream_tool_calls_finish_length": {"openai-python"},
    "tool_calls_finish_length": {"openai-python"},
    "two_chunks_per_event": {"openai-python"},
}
# Where the official Node and Python SDKs disagree: fault → (the SDK that breaks, the one that works, why)
DISAGREE = {
    "stream_finish_differs": ("openai-python", "openai-node", "openai-python's stream helper raises LengthFinishReasonError on finish_reason 'length' by design; openai-node's finalChatCompletion returns the completion"),
    "first_delta_no_role": ("openai-node", "openai-python", "openai-node's stream helper throws 'missing role for choice 0'"),
    "empty_finish_reason": ("openai-node", "openai-python", "openai-node's stream helper throws 'missing finish_reason' on ''"),
    "no_finish_reason": ("openai-node", "openai-python", "openai-node's stream helper throws 'missing finish_reason'"),
    "midstream_error_unframed": ("openai-node", "openai-python", "the unframed error line ends the stream without a finish_reason"),
    "tool_arguments_object": ("openai-node", "openai-python", "openai-node's accumulator concatenates objects into '[object Object]'"),
    "stream_tool_call_header_repeated": ("openai-python", "openai-node", "openai-python concatenates the repeated name, openai-node overwrites it"),
    # issue 11's faults (measured with this file's harness)
    "anthropic_reply_not_object": ("anthropic-python", "anthropic-node", "anthropic-python reads .content of the list body (AttributeError)"),
    "anthropic_stream_no_message_stop": ("anthropic-node", "anthropic-python", "anthropic-node's stream ends without producing a Message"),
    "anthropic_stream_two_message_starts": ("anthropic-node", "anthropic-python", "anthropic-node throws 'Unexpected event order, got message_start'"),
    "chunk_wrong_object": ("openai-python", "openai-node", "openai-python's stream helper asserts the chunk object type"),
    "json_as_text_plain": ("openai-node", "openai-python", "openai-node returns a text/plain body as a string"),
    "reply_not_object": ("openai-python", "openai-node", "openai-python reads .choices of the list body (AttributeError)"),
    "stream_no_choices": ("openai-node", "openai-python", "openai-node's stream helper never finishes without a choice"),
    "stream_tool_arguments_object": ("openai-node", "openai-python", "openai-node's accumulator concatenates objects into '[object Object]'"),
    "stream_tool_call_no_id": ("openai-node", "openai-python", "openai-node's stream helper throws 'missing choices[0].tool_calls[0].id'"),
    "stream_tool_calls_finish_length": ("openai-python", "openai-node", "openai-python's parse helper raises LengthFinishReasonError"),
    "tool_calls_finish_length": ("openai-python", "openai-node", "openai-python's parse helper raises LengthFinishReasonError"),
}
PAIRS = (("openai-node", "openai-python"), ("anthropic-node", "anthropic-python"))


def _available() -> node.Status:
    node.reset()
    current = node.status(refresh=True)
    if not current.available:
        pytest.skip(f"the Node clients are not installed here: {current.reason}")
    return current


@pytest.fixture(scope="module")
def server():
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture(scope="module")
def fault_table(server):
    """{fault or None: [(label, outcome)]} for the clean server and every fault, Node and Python."""
    _available()
    items = [(None, "openai"), (None, "anthropic")] + [(name, f.protocol) for name, f in sorted(FAULTS.items()) if not f.profiles]

    def both(exchanges):
        return [a + b for a, b in zip(node.replay_many(exchanges), python_clients.replay_many(exchanges))]

    return cf.fault_table(server.base_url, KEY, items, both)


def _breaking(rows, clients):
    return {o.client for _, o in rows if o.outcome == BREAKS and o.client in clients}


# -- the fault × client table ------------------------------------------------------------------------
def test_clean_server_every_node_client_works(fault_table):
    rows = fault_table[None]
    assert {o.client for _, o in rows} >= NODE_CLIENTS | {"openai-python", "anthropic-python"}
    assert {(o.client, o.feature) for _, o in rows if o.client in NODE_CLIENTS} == {
        ("openai-node", "chat.completions.create"), ("openai-node", "chat.completions.create stream"),
        ("openai-node", "chat.completions.stream finalChatCompletion"),
        ("anthropic-node", "messages.create"), ("anthropic-node", "messages.create stream"), ("anthropic-node", "messages.stream finalMessage"),
        ("ai-sdk", "generateText openai-compatible"), ("ai-sdk", "streamText openai-compatible"),
        ("ai-sdk", "generateText anthropic"), ("ai-sdk", "streamText anthropic"),
    }
    broken = [(label, o) for label, o in rows if o.outcome != WORKS]
    assert not broken, broken


@pytest.mark.parametrize("fault", sorted(name for name, f in FAULTS.items() if not f.profiles))
def test_which_node_clients_break_on_each_fault(fault_table, fault):
    rows = fault_table.get(fault, [])
    assert _breaking(rows, NODE_CLIENTS) == NODE_BREAKS.get(fault, set()), [
        (label, o.client, o.feature, o.detail[:160]) for label, o in rows if o.outcome == BREAKS]


@pytest.mark.parametrize("fault", sorted(name for name, f in FAULTS.items() if not f.profiles))
def test_which_python_sdks_break_on_each_fault(fault_table, fault):
    rows = fault_table.get(fault, [])
    assert _breaking(rows, {"openai-python", "anthropic-python"}) == PYTHON_BREAKS.get(fault, set())


@pytest.mark.parametrize("fault", sorted(DISAGREE))
def test_node_and_python_sdks_disagree(fault_table, fault):
    breaks, works, why = DISAGREE[fault]
    rows = fault_table[fault]
    broken = _breaking(rows, {breaks, works})
    assert broken == {breaks}, f"{fault}: expected only {breaks} to break ({why}); broke: {broken}"
    assert any(o.client == works and o.outcome == WORKS for _, o in rows)


def test_official_sdks_agree_on_every_other_fault(fault_table):
    for fault, rows in fault_table.items():
        if fault in DISAGREE:
            continue
        for node_sdk, python_sdk in PAIRS:
            assert (node_sdk in _breaking(rows, {node_sdk})) == (python_sdk in _breaking(rows, {python_sdk})), fault


# -- the check: fires on a faulty exchange, silent on a clean one ----------------------------------------------
def _exchange(server, protocol: str, label: str, fault: str | None):
    return dict(cf.record_exchanges(server.base_url, KEY, protocol, fault))[label]


def test_check_fires_when_a_node_client_raises(server):
    _available()
    findings = evaluate(check_node_clients, _exchange(server, "openai", "stream", "no_finish_reason"), strictness=Strictness.COMPATIBLE)
    official = [f for f in findings if f.message.startswith(("openai-node", "anthropic-node"))]
    common = [f for f in findings if f.message.startswith("ai-sdk")]
    # an official SDK that breaks is a FAIL; the AI SDK (a common client) breaking is a WARN of its own rule
    assert official and {f.rule for f in official} == {"node_clients"} and all(f.severity.value == "error" for f in official)
    assert {(f.rule, f.severity.value) for f in common} <= {("node_clients.common_client", "warning")}
    assert any("openai-node 6." in f.message and "missing finish_reason" in f.message for f in official)
    assert any(f.message.startswith("ai-sdk ") for f in findings)


def test_check_fires_when_a_node_client_reads_another_reply(server):
    _available()
    findings = evaluate(check_node_clients, _exchange(server, "openai", "tools stream", "stream_tool_call_no_index"))
    assert [f.rule for f in findings] == ["node_clients.differs"]
    assert "openai-node" in findings[0].message and "tool calls []" in findings[0].message


def test_check_is_silent_on_a_clean_exchange(server):
    _available()
    for protocol in ("openai", "anthropic"):
        for label, exchange in cf.record_exchanges(server.base_url, KEY, protocol, None):
            assert evaluate(check_node_clients, exchange) == [], (protocol, label)


def test_judge_applies_the_node_clients_where_installed(server):
    _available()
    exchange = _exchange(server, "anthropic", "stream", "anthropic_stream_no_event_lines")
    rules = {f.rule for f in judge(exchange, JudgeContext())}
    assert {"node_clients", "node_clients.differs"} <= rules
    clean = _exchange(server, "anthropic", "stream", None)
    assert not [f for f in judge(clean, JudgeContext()) if f.check == "check_node_clients"]


def test_one_node_process_serves_many_replays(server):
    _available()
    exchanges = [x for _, x in cf.record_exchanges(server.base_url, KEY, "openai", None)]
    node.replay_many(exchanges)
    worker = node.replayer()
    pid = worker._proc.pid
    for exchange in exchanges:
        node.replay(exchange)
    assert worker._proc.pid == pid


def test_hostile_bodies_give_outcomes_not_crashes():
    _available()
    url = "http://127.0.0.1:9/v1/chat/completions"
    cases = [
        ({"model": "m", "messages": [], "stream": True}, {"content-type": "text/event-stream"}, b"data: {not json\n\ndata: [DONE]\n\n"),
        ({"model": "m", "messages": []}, {"content-type": "application/json"}, b"<html>gateway error</html>"),
        ({"model": "m", "messages": []}, {"content-type": "application/json"}, b"[" * 5000),
        ({"model": "m", "messages": []}, {"content-type": "application/json"}, b'{"choices": null}'),
    ]
    exchanges = [record(method="POST", url=url, request_headers={}, request_body=body, status=200, headers=headers, body=raw)
                 for body, headers, raw in cases]
    results = node.replay_many(exchanges)
    for outcomes in results:
        assert outcomes and all(o.outcome in (WORKS, BREAKS) for o in outcomes)
        assert any(o.outcome == BREAKS for o in outcomes)
    for exchange in exchanges:  # a check never crashes on them either
        evaluate(check_node_clients, exchange)


def test_not_applicable_exchanges_give_no_outcome():
    error = record(method="POST", url="http://127.0.0.1:9/v1/chat/completions", request_headers={}, request_body={"model": "m"},
                   status=400, headers={"content-type": "application/json"}, body=b'{"error": {"message": "bad"}}')
    models = record(method="GET", url="http://127.0.0.1:9/v1/models", request_headers={}, request_body=None,
                    status=200, headers={"content-type": "application/json"}, body=b'{"object": "list", "data": []}')
    assert node.replay(error) == [] and node.replay(models) == []


# -- without Node, or without the cache: not exercised, never a failure ------------------------------------------
@pytest.fixture
def no_node(monkeypatch, tmp_path):
    monkeypatch.setenv(node.NODE_ENV, str(tmp_path / "no-such-node"))
    node.reset()
    yield
    node.reset()


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(node.CACHE_ENV, str(tmp_path / "cache"))
    node.reset()
    yield
    node.reset()


def _clean_stream():
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    return record(method="POST", url="http://127.0.0.1:9/v1/chat/completions", request_headers={}, request_body={"model": "m", "messages": [], "stream": True},
                  status=200, headers={"content-type": "text/event-stream"}, body=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())


@pytest.mark.parametrize("missing", ["no_node", "empty_cache"])
def test_missing_node_or_cache_means_not_exercised(request, missing):
    request.getfixturevalue(missing)
    current = node.status()
    assert not current.available and current.reason
    outcomes = node.replay(_clean_stream())
    assert outcomes and {o.outcome for o in outcomes} == {NOT_EXERCISED}
    assert all(o.detail == current.reason for o in outcomes)
    assert evaluate(check_node_clients, _clean_stream()) == []
    assert not [f for f in judge(_clean_stream(), JudgeContext()) if f.check == "check_node_clients"]
    rows = [r for r in readiness([{"exchanges": [_clean_stream().to_dict()]}]) if not r["client"].endswith("-python")]
    assert rows and {r["outcome"] for r in rows} == {NOT_EXERCISED}  # the Python SDKs still judge it


def _cli(*args, env=None):
    import os

    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=full, timeout=120)


def test_clients_command_says_why_not(tmp_path):
    proc = _cli("clients", env={node.CACHE_ENV: str(tmp_path / "empty")})
    assert proc.returncode == 0, proc.stderr
    assert "not exercised" in proc.stdout and "conformance clients install" in proc.stdout
    proc = _cli("clients", env={node.NODE_ENV: str(tmp_path / "no-node")})
    assert proc.returncode == 0 and "why not:" in proc.stdout


def test_install_without_node_is_one_line(tmp_path):
    proc = _cli("clients", "install", env={node.NODE_ENV: str(tmp_path / "no-node"), node.CACHE_ENV: str(tmp_path / "cache")})
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("conformance: error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_unknown_client_lane_is_a_usage_error():
    proc = _cli("run", "--clients", "ruby")
    assert proc.returncode == 2 and "unknown client lane 'ruby'" in proc.stderr


# -- the live lane and the readiness matrix ------------------------------------------------------------------
@pytest.mark.parametrize("protocol,model", [("openai", cf.OPENAI_MODEL), ("anthropic", cf.ANTHROPIC_MODEL)])
@pytest.mark.parametrize("kind", node.LIVE_KINDS)
def test_live_calls_through_every_node_client_work(server, protocol, model, kind):
    _available()
    outcomes, exchanges = node.live(protocol, kind, server.base_url, KEY, model)
    assert outcomes and all(o.outcome == WORKS for o in outcomes), [(o.client, o.feature, o.detail) for o in outcomes]
    assert {o.client for o in outcomes} == ({"openai-node", "ai-sdk"} if protocol == "openai" else {"anthropic-node", "ai-sdk"})
    assert exchanges and all(x.status == 200 for x in exchanges)
    text = json.dumps([x.to_dict() for x in exchanges])
    assert KEY not in text


def test_live_failure_names_the_client_and_hides_the_key(server):
    _available()
    outcomes, _ = node.live("openai", "plain", server.base_url, KEY + "-wrong", cf.OPENAI_MODEL)
    assert {o.outcome for o in outcomes} == {BREAKS}
    assert all(KEY not in o.detail for o in outcomes)
    findings = evaluate(check_node_clients, None, outcomes)
    assert {f.rule for f in findings} == {"node_clients", "node_clients.common_client"}
    assert any(f.message.startswith("openai-node ") for f in findings if f.rule == "node_clients")


def test_run_with_the_node_lane_fills_the_readiness_matrix(tmp_path):
    _available()
    proc = _cli("run", "--clients", "node", "-k", "clients or test_basic_completion", "--report-dir", str(tmp_path), "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    live = [c for c in results["cases"] if c["id"].startswith("clients/test_node_clients")]
    assert len(live) == 6 and {c["verdict"] for c in live} == {"PASS"}
    rows = results["client_readiness"]
    assert {r["client"] for r in rows} >= NODE_CLIENTS
    assert all(r["outcome"] == WORKS for r in rows if r["client"] in NODE_CLIENTS), rows
    assert "## Client readiness" in (tmp_path / "summary.md").read_text()
    from conformance.report import results_schema
    import jsonschema

    jsonschema.Draft202012Validator(results_schema()).validate(results)


def test_a_normal_run_collects_no_client_case(tmp_path):
    proc = _cli("run", "-k", "test_node_clients", "--report-dir", str(tmp_path), "-q")
    assert proc.returncode == 2 and "no case matched" in proc.stderr


# -- pieces that need no Node ---------------------------------------------------------------------------------
def test_aggregate_keeps_the_worst_outcome_per_feature():
    rows = aggregate([
        ClientOutcome("openai-node", "6.30.1", "create", WORKS),
        ClientOutcome("openai-node", "6.30.1", "create", BREAKS, "SyntaxError: x"),
        ClientOutcome("openai-node", "6.30.1", "create", WORKS),
        ClientOutcome("ai-sdk", "6", "streamText", NOT_EXERCISED, "Node.js is not installed"),
        {"client": "openai-python", "version": "3", "feature": "create", "result": "not_exercised", "detail": "why"},
    ])
    by = {(r["client"], r["feature"]): r for r in rows}
    assert by[("openai-node", "create")]["outcome"] == BREAKS and "broke on 1 of 3" in by[("openai-node", "create")]["detail"]
    assert by[("ai-sdk", "streamText")] == {"client": "ai-sdk", "version": "6", "feature": "streamText", "outcome": NOT_EXERCISED, "detail": "Node.js is not installed"}
    assert by[("openai-python", "create")]["outcome"] == NOT_EXERCISED


def test_difference_ignores_json_spelling_but_not_content():
    ours = {"text": "hi", "tool_calls": [{"name": "f", "arguments": '{"a": 1}'}], "finish_reason": "tool_calls"}
    assert node.difference("openai-node", ours, {"text": "hi", "tool_calls": [{"name": "f", "arguments": {"a": 1}}], "finish_reason": "tool_calls"}) == ""
    assert node.difference("openai-node", ours, {"text": "hi", "tool_calls": [{"name": "ff", "arguments": {"a": 1}}], "finish_reason": "tool_calls"}).startswith(node.DIFFERENCE_PREFIX)
    assert node.difference("openai-node", ours, {"text": "h", "tool_calls": [], "finish_reason": "tool_calls"}).startswith(node.DIFFERENCE_PREFIX)
    # the AI SDK maps finish reasons ('tool-calls'): only the official clients are held to the raw value
    assert node.difference("ai-sdk", ours, {"text": "hi", "tool_calls": [{"name": "f", "arguments": {"a": 1}}], "finish_reason": "tool-calls"}) == ""
    assert node.difference("openai-node", ours, {"text": "hi", "tool_calls": [{"name": "f", "arguments": {"a": 1}}], "finish_reason": "stop"}) != ""


def test_exchange_round_trips_through_results_json():
    exchange = _clean_stream()
    again = exchange_from_dict(exchange.to_dict())
    assert node.job_for(again)["body"] == node.job_for(exchange)["body"]
    assert node.our_reading(again) == node.our_reading(exchange) == {"text": "hi", "tool_calls": [], "finish_reason": "stop"}


def test_referee_checks_are_left_out_of_the_mutation_score():
    from conformance.selftest import fired_checks

    results = {"cases": [{"findings": [{"check": "check_node_clients", "severity": "error"}, {"check": "check_stream_finish_reason", "severity": "error"}]}]}
    assert fired_checks(results) == {"check_stream_finish_reason"}


def test_replay_script_ships_inside_the_package():
    assert node.SCRIPT.is_file() and node.SCRIPT.parent.parent.name == "clients"


def test_rules_a_node_client_breaks_on_are_failures_in_compatible():
    """The Node evidence keeps the compatible reading honest: a fault some Node client breaks on
    must be a FAIL in compatible mode through at least one of the checks the fault names."""
    from conformance.checks import RULES, load_all
    from conformance.findings import Severity

    load_all()
    for fault, clients in NODE_BREAKS.items():
        clients = set(clients) - {"ai-sdk"}  # a common client, not an official SDK: its break is a WARN (node_clients.common_client)
        if not clients:
            continue
        severities = {rid: RULES[rid].compatible for rid in FAULTS[fault].expect if rid in RULES}  # faults name rule ids
        assert Severity.ERROR in severities.values(), f"{fault} breaks {sorted(clients)} but none of its rules is a FAIL in compatible: {severities}"


def test_offline_check_replays_the_capture_through_the_node_clients(server, tmp_path):
    _available()
    faulty = _exchange(server, "openai", "stream", "no_finish_reason")
    clean = _exchange(server, "anthropic", "plain", None)
    capture = tmp_path / "capture.json"
    capture.write_text(json.dumps({"schema_version": "1", "cases": [
        {"id": "app/stream", "target": "app", "exchanges": [faulty.to_dict()]},
        {"id": "app/plain", "target": "app", "exchanges": [clean.to_dict()]},
    ]}))
    proc = _cli("check", str(capture), "--report-dir", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    rules = {f["rule"] for c in results["cases"] for f in c["findings"]}
    assert "node_clients" in rules
    rows = {(r["client"], r["feature"]): r for r in results["client_readiness"]}
    assert rows[("openai-node", "chat.completions.stream finalChatCompletion")]["outcome"] == BREAKS
    assert rows[("anthropic-node", "messages.create")]["outcome"] == WORKS
