"""The official SDKs as referees: the SDK checks fire on what breaks a client and stay silent on
clean exchanges; every rule's compatible severity agrees with what the SDKs did on every fault of
the reference server; the reference server accepts what the SDKs send by default."""

from __future__ import annotations

import json

import pytest

from conformance.checks import RULES, evaluate, load_all
from conformance.checks.sdk import check_anthropic_sdk, check_openai_sdk
from conformance.clients import REFEREE_CHECKS
from conformance.exchange import record
from conformance.findings import Severity, Strictness
from conformance.judge import JudgeContext, judge
from conformance.sdk import BREAKS, versions
from conformance.sdk import evidence

load_all()
OPENAI_VERSION = versions()["openai-python"]
ANTHROPIC_VERSION = versions()["anthropic-python"]
CHAT_URL = "http://target.invalid/v1/chat/completions"
MESSAGES_URL = "http://target.invalid/v1/messages"
SSE = [("content-type", "text/event-stream")]
JSON_CT = [("content-type", "application/json")]
COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def chat(body: bytes, status: int = 200, stream: bool = False, headers=None):
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return record(method="POST", url=CHAT_URL, request_headers={}, request_body=request, status=status,
                  headers=headers or (SSE if stream else JSON_CT), body=body)


def messages(body: bytes, status: int = 200, stream: bool = False):
    request = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return record(method="POST", url=MESSAGES_URL, request_headers={}, request_body=request, status=status,
                  headers=SSE if stream else JSON_CT, body=body)


def sse(*datas, done=True, names=None) -> bytes:
    out = []
    for k, data in enumerate(datas):
        name = names[k] if names else None
        out.append((f"event: {name}\n" if name else "") + "data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n")
    return ("".join(out) + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(delta, finish=None):
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def rules_of(findings, severity=None):
    return {f.rule for f in findings if severity is None or f.severity is severity}


# -- openai-python -----------------------------------------------------------------------------------
def test_openai_sdk_silent_on_a_clean_reply_and_stream():
    assert evaluate(check_openai_sdk, chat(json.dumps(COMPLETION).encode()), "chat") == []
    stream = chat(sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello"}), chunk({}, "stop")), stream=True)
    assert evaluate(check_openai_sdk, stream, "chat") == []


def test_openai_sdk_fires_on_a_body_the_client_cannot_decode():
    findings = evaluate(check_openai_sdk, chat(b"<html>oops</html>", headers=[("content-type", "text/html")]), "chat")
    assert rules_of(findings) == {"openai_sdk.differs"}
    assert findings[0].severity is Severity.ERROR
    assert f"openai-python {OPENAI_VERSION}" in findings[0].message and "not a ChatCompletion" in findings[0].message


def test_openai_sdk_fires_on_garbage_json_without_crashing():
    findings = evaluate(check_openai_sdk, chat(b'{"choices": "nope"'), "chat")  # truncated JSON
    assert findings and all(f.severity is Severity.ERROR for f in findings)


def test_openai_sdk_stream_keepalive_as_empty_data_breaks_the_client():
    stream = chat(sse(chunk({"role": "assistant", "content": ""}), "", chunk({}, "stop")), stream=True)
    findings = evaluate(check_openai_sdk, stream, "chat")
    assert "openai_sdk" in rules_of(findings, Severity.ERROR)
    assert any("JSONDecodeError" in f.message for f in findings)


def test_openai_sdk_stream_helper_difference_names_the_field():
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    stream = chat(sse(chunk({"role": "assistant", "tool_calls": [call]}), chunk({"tool_calls": [{**call, "function": {"name": "get_weather", "arguments": ""}}]}),
                      chunk({}, "tool_calls")), stream=True)
    findings = evaluate(check_openai_sdk, stream, "chat")
    assert rules_of(findings) == {"openai_sdk.differs"}
    assert "tool call id 'call_1call_1'" in findings[0].message


def test_openai_sdk_error_mapping_and_readability():
    good = chat(b'{"error": {"message": "no such model", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}', status=404)
    assert evaluate(check_openai_sdk, good, "chat") == []
    bare = chat(b"no such model", status=404, headers=[("content-type", "text/plain")])
    findings = evaluate(check_openai_sdk, bare, "chat")
    assert rules_of(findings) == {"openai_sdk.error_unreadable"}
    assert findings[0].severity is Severity.WARNING
    assert evaluate(check_openai_sdk, bare, "chat", strictness=Strictness.STRICT)[0].severity is Severity.ERROR


def test_openai_sdk_models_bare_array_breaks():
    models = record(method="GET", url="http://target.invalid/v1/models", request_headers={}, request_body=None, status=200,
                    headers=JSON_CT, body=b'[{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]')
    assert "openai_sdk" in rules_of(evaluate(check_openai_sdk, models, "models"))


def test_truncated_stream_recording_is_not_exercised():
    stream = chat(sse(chunk({"role": "assistant", "content": ""}), chunk({}, "stop")), stream=True)
    stream.text = ""
    stream.raw_sse = "x" * (256 * 1024)
    from conformance.sdk.replay import replay

    outcomes = replay(stream, "chat")
    assert outcomes and {o.result for o in outcomes} == {"not_exercised"}
    assert evaluate(check_openai_sdk, stream, "chat") == []


# -- anthropic-python --------------------------------------------------------------------------------
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [{"type": "text", "text": "Hi"}],
           "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}


def message_stream(*, names=True, index=0, usage=True):
    start = {**MESSAGE, "content": [], "stop_reason": None}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
    if usage:
        delta["usage"] = {"output_tokens": 1}
    events = [{"type": "message_start", "message": start},
              {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": "Hi"}},
              {"type": "content_block_stop", "index": index}, delta, {"type": "message_stop"}]
    return messages(sse(*events, done=False, names=[e["type"] for e in events] if names else None), stream=True)


def test_anthropic_sdk_silent_on_a_clean_message_and_stream():
    assert evaluate(check_anthropic_sdk, messages(json.dumps(MESSAGE).encode()), "messages") == []
    assert evaluate(check_anthropic_sdk, message_stream(), "messages") == []


@pytest.mark.parametrize("kwargs, needle", [({"names": False}, "AssertionError"), ({"index": 1}, "IndexError"), ({"usage": False}, "output_tokens")])
def test_anthropic_sdk_stream_breaks(kwargs, needle):
    findings = evaluate(check_anthropic_sdk, message_stream(**kwargs), "messages")
    assert "anthropic_sdk" in rules_of(findings, Severity.ERROR), findings
    assert any(needle in f.message and f"anthropic-python {ANTHROPIC_VERSION}" in f.message for f in findings)


def test_anthropic_sdk_tool_input_as_string_breaks_a_client():
    body = {**MESSAGE, "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": '{"city": "Paris"}'}], "stop_reason": "tool_use"}
    findings = evaluate(check_anthropic_sdk, messages(json.dumps(body).encode()), "messages")
    assert rules_of(findings) == {"anthropic_sdk.differs"}


def test_anthropic_sdk_openai_shaped_error_is_unreadable():
    body = b'{"error": {"message": "Invalid API key.", "type": "authentication_error", "param": null, "code": null}}'
    findings = evaluate(check_anthropic_sdk, messages(body, status=401), "messages")
    assert rules_of(findings) == {"anthropic_sdk.error_unreadable"}
    good = b'{"type": "error", "error": {"type": "authentication_error", "message": "Invalid API key."}}'
    assert evaluate(check_anthropic_sdk, messages(good, status=401), "messages") == []


# -- judge() applies them to every exchange -------------------------------------------------------------
def test_judge_applies_the_sdk_checks():
    broken = chat(sse(chunk({"role": "assistant", "content": ""}), "", chunk({}, "stop")), stream=True)
    findings = judge(broken, JudgeContext(profiles=["openai", "anthropic"]))
    assert "openai_sdk" in rules_of(findings, Severity.ERROR)
    clean = messages(json.dumps(MESSAGE).encode())
    assert not [f for f in judge(clean, JudgeContext(profiles=["openai", "anthropic"])) if f.check.endswith("_sdk")]
    disabled = judge(broken, JudgeContext(profiles=["openai", "anthropic"], disabled=frozenset({"check_openai_sdk"})))
    assert "openai_sdk" not in rules_of(disabled)


# -- the named false alarms: both SDKs tolerate them, so at most a WARN in compatible -----------------
def test_named_legal_variations_are_tolerated_by_both_sdks_and_warn_only():
    records = evidence.record_tolerances()
    assert {r.fault for r in records} == {"tolerance:repeated_tool_call_type", "tolerance:varying_created",
                                         "tolerance:tool_use_start_without_input", "tolerance:integer_error_code"}
    for rec in records:
        assert set(rec.sdk_outcome.values()) == {"tolerates"}, rec.fault
        assert rec.fired, f"{rec.fault}: no rule fires on it (strict must still say it)"
        for fired in rec.fired:
            assert fired.compatible is not Severity.ERROR, (rec.fault, fired.rule)
            assert fired.strict is Severity.ERROR, (rec.fault, fired.rule)
            assert RULES[fired.rule].evidence, f"{fired.rule} has no evidence"
    assert evidence.disagreements(records) == []


# -- the proof: every fault through both SDKs, and the severities agree ---------------------------------
@pytest.fixture(scope="module")
def fault_records():
    return evidence.record_all()


def test_clean_reference_server_gives_no_finding_and_no_sdk_break(fault_records):
    clean = fault_records[0]
    assert clean.fault == "(clean)"
    assert [f"{f.probe}: {f.rule}: {f.message}" for f in clean.fired] == []
    assert set(clean.sdk_outcome.values()) == {"tolerates"}


def test_every_rules_compatible_severity_agrees_with_the_sdks(fault_records):
    assert evidence.disagreements(fault_records) == []


def test_every_fault_an_sdk_breaks_on_gives_a_compatible_fail(fault_records):
    broke_somewhere = 0
    for rec in fault_records[1:]:
        for probe, outcomes in rec.outcomes.items():
            if any(o.result == BREAKS for o in outcomes):
                broke_somewhere += 1
                assert any(f.compatible is Severity.ERROR for f in rec.fired if f.probe == probe), (rec.fault, probe)
    assert broke_somewhere >= 10  # the replay really exercises the SDKs


def test_faults_both_sdks_tolerate_only_fail_for_a_semantic_reason(fault_records):
    for rec in fault_records[1:]:
        if set(rec.sdk_outcome.values()) != {"tolerates"}:
            continue
        for fired in rec.fired:
            rule = RULES[fired.rule]
            if fired.compatible is Severity.ERROR and rule.check not in REFEREE_CHECKS:  # the Node clients may break
                # a FAIL both Python SDKs tolerate: a semantic reason, or an official Node SDK that breaks
                assert rule.semantic or set(rule.breaks) - {"openai-python", "anthropic-python"}, (rec.fault, fired.rule)


# -- the reference server accepts what the SDKs send by default -----------------------------------------
PROFILES = ["openai", "anthropic", "crossmodel-openai", "crossmodel-anthropic", "llmgateway", "cryptgpt"]


@pytest.mark.parametrize("profile", PROFILES)
def test_sdk_default_requests_succeed_against_the_reference_server(profile):
    import anthropic
    import openai

    from conformance import profiles as profiles_mod
    from conformance.reference.app import ServerSettings
    from conformance.reference.server import EmbeddedServer

    key = "sk-ref-sdk-test"
    loaded = profiles_mod.load(profile)
    with EmbeddedServer(ServerSettings(api_keys=frozenset({key}), profiles=(profile,))) as server:
        exercised = 0
        if "openai" in loaded.protocols:
            model = loaded.get("openai", "default_model") or "reference-chat"
            client = openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=0)
            reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Reply with exactly: hi"}])
            assert reply.choices[0].message.content
            with client.chat.completions.stream(model=model, messages=[{"role": "user", "content": "Reply with exactly: hi"}]) as stream:
                assert stream.get_final_completion().choices[0].message.content
            exercised += 1
        if "anthropic" in loaded.protocols:
            model = loaded.get("anthropic", "default_model") or "reference-chat"
            client = anthropic.Anthropic(api_key=key, base_url=server.base_url.rsplit("/v1", 1)[0], max_retries=0)
            message = client.messages.create(model=model, max_tokens=32, messages=[{"role": "user", "content": "Reply with exactly: hi"}])
            assert message.content[0].text
            with client.messages.stream(model=model, max_tokens=32, messages=[{"role": "user", "content": "Reply with exactly: hi"}]) as stream:
                assert stream.get_final_message().content[0].text
            exercised += 1
        assert exercised


# -- the client-readiness matrix ---------------------------------------------------------------------
def test_readiness_matrix_folds_case_outcomes():
    from conformance.report.markdown import render_markdown
    from conformance.report.matrix import build_matrix
    from conformance.sdk.readiness import case_outcomes, matrix
    from tests.report_fixtures import results

    good = chat(sse(chunk({"role": "assistant", "content": ""}), chunk({}, "stop")), stream=True)
    bad = chat(sse(chunk({"role": "assistant", "content": ""}), "", chunk({}, "stop")), stream=True)
    cases = [{"id": "a::good", "clients": case_outcomes([good])}, {"id": "b::bad", "clients": case_outcomes([bad])}]
    table = matrix(cases, {"openai-python": OPENAI_VERSION, "anthropic-python": ANTHROPIC_VERSION})
    rows = {(r["client"], r["feature"]): r for r in table["rows"]}
    assert rows["openai-python", "chat.completions.stream"]["result"] == "breaks"
    assert rows["openai-python", "chat.completions.stream"]["cases"] == ["b::bad"]
    assert "JSONDecodeError" in rows["openai-python", "chat.completions.stream"]["detail"]
    assert rows["openai-python", "chat.completions.create"]["result"] == "not_exercised"
    assert rows["anthropic-python", "messages.stream"]["result"] == "not_exercised"

    from conformance.clients import aggregate

    run = results([])
    run["client_readiness"] = aggregate(o for case in cases for o in case["clients"])
    text = render_markdown(run)
    assert "openai-python" in text and "breaks" in text
    audit = build_matrix([run, run])
    assert any(r["feature"] == "chat.completions.stream" and r["cells"][0]["result"] == "breaks" for r in audit["clients"])


def test_readiness_never_crashes_on_a_hostile_exchange():
    from conformance.sdk.readiness import case_outcomes

    hostile = chat(b"\xff\xfe" + b"{" * 100000)
    outcomes = case_outcomes([hostile])
    assert outcomes and all(o["result"] in ("works", "breaks", "not_exercised") for o in outcomes)


# -- the client lane ----------------------------------------------------------------------------------
def _run(tmp_path, *args):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", "--report-dir", str(tmp_path), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    return proc, json.loads((tmp_path / "results.json").read_text())


def test_client_lane_passes_on_the_clean_server_and_fails_where_the_client_breaks(tmp_path):
    proc, results = _run(tmp_path / "clean", "-k", "client_openai_stream or client_anthropic")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert {c["verdict"] for c in results["cases"]} == {"PASS"} and len(results["cases"]) == 4
    assert all(c["exchanges"] for c in results["cases"])  # what the clients sent and received is recorded
    rows = {(r["client"], r["feature"]): r["outcome"] for r in results["client_readiness"]}
    assert rows["anthropic-python", "messages.stream"] == "works" and rows["openai-python", "chat.completions.stream"] == "works"

    proc, results = _run(tmp_path / "faulty", "--fault", "keepalive_as_data", "-k", "client_openai_stream")
    assert proc.returncode == 1
    case = results["cases"][0]
    assert case["verdict"] == "FAIL"
    assert any(f["check"] == "check_client_call" and "JSONDecodeError" in f["message"] and f"openai-python {OPENAI_VERSION}" in f["message"]
               for f in case["findings"])
    rows = {(r["client"], r["feature"]): r for r in results["client_readiness"]}
    assert rows["openai-python", "chat.completions.create(stream)"]["outcome"] == "breaks"


# -- the replay of one call, apart from any SDK ----------------------------------------------------------
def test_replayer_says_what_one_call_did():
    import contextlib

    from conformance.sdk import Replayer

    replayer = Replayer("openai-python", lambda exchange, data: contextlib.nullcontext(data))
    reply = chat(json.dumps(COMPLETION).encode())
    pointer = reply.ptr()  # the response body of exchange 0, as for the error below

    def fails(data):
        raise ValueError("bad\nbytes")

    def shape(outcomes):
        return [(o.feature, o.result, o.detail, o.kind, o.pointer) for o in outcomes]

    assert shape(replayer.call(reply, "f", lambda data: data, lambda data: [], lambda: "")) == [("f", "works", "", "", "")]
    assert shape(replayer.call(reply, "f", fails, lambda data: [], lambda: "")) == [("f", "breaks", "ValueError: bad bytes", "exception", pointer)]
    assert shape(replayer.call(reply, "f", lambda data: data, lambda data: ["a", "b", "c", "d"], lambda: "x")) == [
        ("f", "breaks", "a; b; c", "difference", pointer)]
    assert shape(replayer.call(reply, "f", lambda data: data, lambda data: [], lambda: "rejected")) == [
        ("f", "works", "", "", ""), ("f", "works", "rejected", "strict_validation", pointer)]
    error = chat(b'{"error": {"message": "no"}}', status=404)
    judged = lambda exc, status, pointer: [replayer.outcome("e", "works", f"{exc} {status}", "judged", pointer)]  # noqa: E731
    assert shape(replayer.error(error, "e", fails, ValueError, judged)) == [("e", "works", "bad\nbytes 404", "judged", pointer)]
    assert shape(replayer.error(error, "e", fails, KeyError, judged)) == [
        ("e", "breaks", "HTTP 404 raised ValueError: bad bytes, not an APIStatusError", "wrong_class", pointer)]
    assert shape(replayer.error(error, "e", lambda data: data, ValueError, judged)) == [("e", "breaks", "HTTP 404 raised no exception", "wrong_class", pointer)]
    reply.truncated = error.truncated = True
    assert shape(replayer.call(reply, "f", fails, lambda data: [], lambda: "")) == [("f", "not_exercised", "the recording is truncated", "", "")]
    assert shape(replayer.error(error, "e", fails, ValueError, judged)) == [("e", "not_exercised", "the recording is truncated", "", "")]
    assert replayer.outcome("f", "works").label == f"openai-python {OPENAI_VERSION}"
