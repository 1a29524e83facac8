"""judge(exchange, context): rule selection by what the exchange is and what its request asked
for, the rules model (ids, severity per strictness), and robustness against broken exchanges."""

from __future__ import annotations

import json

import pytest

from conformance.checks import RULES, Violation, check, evaluate, load_all, rule
from conformance.exchange import record
from conformance.findings import Severity, Strictness
from conformance.judge import JudgeContext, applicable, facts_of, judge
from conformance.reference.app import ServerSettings
from conformance.reference.server import EmbeddedServer
from conformance.transport import Redactor, Transport

KEY = "sk-judge-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server():
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}))) as srv:
        yield srv


def send(server, path, body, fault=None, method="POST"):
    headers = {"authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}
    if fault:
        headers["x-conformance-fault"] = fault
    recorded = []
    transport = Transport(server.base_url, redactor=Redactor([KEY]), on_exchange=lambda x: recorded.append(x) or 0)
    try:
        stream = isinstance(body, dict) and body.get("stream") is True
        if method == "GET":
            return transport.request("GET", path, headers=headers)
        return transport.request("POST", path, json=body, headers=headers, stream=stream, expect_done=stream and "chat" in path)
    finally:
        transport.close()


def rules_of(findings):
    return sorted({f.rule for f in findings})


CHAT = {"model": "deepseek/deepseek-v4-pro", "messages": [{"role": "user", "content": "Say hello"}], "max_completion_tokens": 16}
MSG = {"model": "anthropic/claude-sonnet-4.6", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello"}]}


@pytest.mark.parametrize("path,body", [
    ("/chat/completions", CHAT),
    ("/chat/completions", {**CHAT, "stream": True}),
    ("/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}, "n": 2}),
    ("/chat/completions", {**CHAT, "logprobs": True, "top_logprobs": 2, "stop": ["zzz"]}),
    ("/messages", MSG),
    ("/messages", {**MSG, "stream": True, "stop_sequences": ["zzz"]}),
])
@pytest.mark.parametrize("strictness", list(Strictness))
def test_a_correct_exchange_gets_no_finding(server, path, body, strictness):
    exchange = send(server, path, body)
    assert exchange.status == 200, exchange.text[:300]
    assert [f.line() for f in judge(exchange, JudgeContext(profiles=["crossmodel-openai", "crossmodel-anthropic"], strictness=strictness))] == []


def test_rules_are_selected_by_what_the_request_asked_for(server):
    context = JudgeContext(profiles=["crossmodel-openai", "crossmodel-anthropic"])
    plain = {e.name for e, _ in applicable(send(server, "/chat/completions", CHAT), context)}
    asked = {e.name for e, _ in applicable(send(server, "/chat/completions", {**CHAT, "n": 2, "stop": ["x"], "logprobs": True, "top_logprobs": 1}), context)}
    assert "check_chat_response_schema" in plain and "check_stop_honoured" not in plain and "check_top_logprobs" not in plain
    assert {"check_stop_honoured", "check_top_logprobs", "check_logprob_entries"} <= asked
    streamed = {e.name for e, _ in applicable(send(server, "/chat/completions", {**CHAT, "stream": True}), context)}
    assert {"check_stream_done_terminator", "check_stream_no_unrequested_usage"} <= streamed
    assert "check_chat_response_schema" not in streamed and "check_stream_include_usage" not in streamed


@pytest.mark.parametrize("fault,path,body,expected", [
    ("no_done", "/chat/completions", {**CHAT, "stream": True}, {"stream_done_terminator"}),
    # openai-python's stream helper concatenates the repeated role: its SDK check fires with the rule
    ("repeat_role", "/chat/completions", {**CHAT, "stream": True}, {"stream_role_first_only", "openai_sdk.differs"}),
    ("ignore_include_usage", "/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}, {"stream_include_usage"}),
    ("bad_choice_index", "/chat/completions", CHAT, {"choice_indexes"}),
    ("anthropic_stream_done", "/messages", {**MSG, "stream": True}, {"stream_no_done"}),
])
def test_a_faulty_exchange_fires_exactly_its_rule(server, fault, path, body, expected):
    exchange = send(server, path, body, fault=fault)
    found = set(rules_of(judge(exchange, JudgeContext(profiles=["crossmodel-openai", "crossmodel-anthropic"]))))
    assert found == expected


def test_an_error_is_judged_by_its_protocols_error_shape(server):
    exchange = send(server, "/messages", {**MSG, "model": "no-such-model"}, fault="anthropic_openai_error_shape")
    found = rules_of(judge(exchange, JudgeContext(profiles=["crossmodel-openai", "crossmodel-anthropic"])))
    assert "anthropic_error_shape.openai_shape" in found


def test_facts_name_the_endpoint_and_protocol():
    ex = record(method="GET", url="http://h/v1/models/gpt-x", request_headers={}, request_body=None, status=200, headers={}, body=b"{}")
    assert (facts_of(ex).endpoint, facts_of(ex).protocol) == ("model", "openai")
    ex = record(method="POST", url="http://h/anthropic/v1/messages", request_headers={}, request_body=b'{"stream": true}', status=200,
                headers={"content-type": "text/event-stream"}, body=b"event: ping\ndata: {}\n\n")
    facts = facts_of(ex)
    assert (facts.endpoint, facts.protocol, facts.stream, ex.is_sse) == ("messages", "anthropic", True, True)
    assert facts_of(record(method="GET", url="http://h/index.html", request_headers={}, request_body=None, status=200, headers={}, body=b"")).protocol is None


@pytest.mark.parametrize("body", [
    b"[]", b"null", b'{"choices": "nope", "usage": [1]}', b'{"choices": [null, 3, {"message": 7}]}',
    b"[" * 5000 + b"]" * 5000, b"\xff\xfe not json",
])
def test_a_broken_reply_gets_findings_never_an_exception(body):
    ex = record(method="POST", url="http://h/v1/chat/completions", request_headers={}, request_body=CHAT | {"n": 2, "stop": "x", "tools": [1]},
                status=200, headers={"content-type": "application/json"}, body=body)
    findings = judge(ex, JudgeContext(strictness=Strictness.STRICT))
    assert all(f.rule in RULES for f in findings)


@pytest.fixture(autouse=True)
def registry_restored():
    """Checks declared by a test leave the registries as they were: another test in the same
    process (tests/test_faults.py: every rule has a fault) must not see them."""
    from conformance.checks import REGISTRY

    load_all()  # every check module imported first: what a test adds is all that is taken away
    registry, rules = dict(REGISTRY), dict(RULES)
    yield
    REGISTRY.clear()
    REGISTRY.update(registry)
    RULES.clear()
    RULES.update(rules)


def test_run_check_turns_a_crash_into_a_not_evaluated_warning():
    from conformance.judge import run_check

    @check(cls=None, source="test", title="a check that crashes", name="check_test_crashes")
    def check_test_crashes(exchange):
        raise ZeroDivisionError("boom")
        yield  # pragma: no cover

    ex = record(method="POST", url="http://h/v1/chat/completions", request_headers={}, request_body=CHAT, status=200, headers={}, body=b"{}")
    found = run_check(check_test_crashes, (ex,), Strictness.COMPATIBLE, ex)
    assert [(f.rule, f.severity) for f in found] == [("test_crashes.not_evaluated", Severity.WARNING)]
    assert "ZeroDivisionError: boom" in found[0].message


def test_rules_carry_their_severity_per_strictness_and_undeclared_rules_are_refused():
    @check(cls="9", source="test", title="main rule", name="check_test_rules", compatible=Severity.WARNING,
           evidence="clients tolerate it",
           rules=[rule("hard", "a violation clients break on", breaks=["openai-python"]),
                  rule("soft", "a violation only strict cares about", severity=Severity.ERROR, compatible=Severity.INFO)])
    def check_test_rules(which):
        yield Violation(f"violated {which}", "/p", rule=which)

    assert {"test_rules", "test_rules.hard", "test_rules.soft"} <= set(RULES)
    main, hard, soft = RULES["test_rules"], RULES["test_rules.hard"], RULES["test_rules.soft"]
    assert (main.compatible, main.strict, main.evidence) == (Severity.WARNING, Severity.ERROR, "clients tolerate it")
    assert (hard.compatible, hard.strict, hard.breaks) == (Severity.WARNING, Severity.ERROR, ("openai-python",))
    assert (soft.compatible, soft.strict) == (Severity.INFO, Severity.ERROR)
    found = evaluate(check_test_rules, None, strictness=Strictness.COMPATIBLE)
    assert [(f.rule, f.severity) for f in found] == [("test_rules", Severity.WARNING)]
    found = evaluate(check_test_rules, "soft", strictness=Strictness.STRICT)
    assert [(f.rule, f.severity) for f in found] == [("test_rules.soft", Severity.ERROR)]
    with pytest.raises(KeyError, match="undeclared rule 'nope'"):
        evaluate(check_test_rules, "nope")


def test_every_rule_id_is_unique_and_named_after_its_check():
    registry = load_all()
    for info in registry.values():
        for local, item in info.rules.items():
            assert item.id == (info.rule_prefix + (f".{local}" if local else ""))
            assert item.check == info.name
    assert len(RULES) == sum(len(i.rules) for i in registry.values())


def test_findings_in_results_carry_the_rule_id(server):
    exchange = send(server, "/chat/completions", {**CHAT, "stream": True}, fault="no_done")
    (finding,) = judge(exchange, JudgeContext(profiles=["crossmodel-openai"]))
    data = finding.to_dict()
    assert data["rule"] == "stream_done_terminator" and data["check"] == "check_stream_done_terminator"
    assert json.dumps(data)
