"""The run's referee process (conformance/referee.py): the client referees replay exchanges in one
process shared by the workers. It must give exactly the outcomes and findings an in-process replay
gives, fall back to in-process replay when it is missing or dies, and spare the workers the SDK
imports. The readiness matrix reuses what the cases' referee checks saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conformance import referee
from conformance.clients import CLIENT_OUTCOMES, readiness
from conformance.exchange import record
from conformance.judge import JudgeContext, judge

CHAT = "http://127.0.0.1:9/v1/chat/completions"
MESSAGES = "http://127.0.0.1:9/v1/messages"


def _chunk(delta, finish=None):
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _stream(*chunks):
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return record(method="POST", url=CHAT, request_headers={}, request_body={"model": "m", "messages": [], "stream": True},
                  status=200, headers={"content-type": "text/event-stream"}, body=body.encode())


def exchanges():
    """Clean and faulty exchanges of both protocols: each referee lane has something to say."""
    chat = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [{"type": "text", "text": "hi"}],
               "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}
    error = {"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}}
    return {
        "chat": record(method="POST", url=CHAT, request_headers={}, request_body={"model": "m", "messages": []}, status=200,
                       headers={"content-type": "application/json"}, body=json.dumps(chat).encode()),
        "stream": _stream(_chunk({"role": "assistant", "content": "hi"}), _chunk({}, "stop")),
        # openai-python concatenates a repeated role; openai-node needs a role first
        "repeat_role": _stream(_chunk({"role": "assistant", "content": "a"}), _chunk({"role": "assistant", "content": "b"}), _chunk({}, "stop")),
        "first_delta_no_role": _stream(_chunk({"content": "a"}), _chunk({}, "stop")),
        "error": record(method="POST", url=CHAT, request_headers={}, request_body={"model": "m", "messages": []}, status=401,
                        headers={"content-type": "application/json"}, body=json.dumps(error).encode()),
        "message": record(method="POST", url=MESSAGES, request_headers={}, request_body={"model": "m", "max_tokens": 8, "messages": []},
                          status=200, headers={"content-type": "application/json"}, body=json.dumps(message).encode()),
    }


def _findings(exchange):
    return sorted((f.check, f.rule, f.severity.value, f.message) for f in judge(exchange, JudgeContext()))


@pytest.fixture
def running(monkeypatch):
    monkeypatch.delenv(referee.REFEREE_ENV, raising=False)
    monkeypatch.setattr(referee, "_CONNECTION", [None])
    handle = referee.start()
    assert handle is not None, "the referee process did not start"
    yield handle
    referee.stop(handle)


def test_the_referee_process_gives_the_in_process_findings(running):
    inline = {}
    saved = os.environ.pop(referee.REFEREE_ENV)
    try:
        for name, exchange in exchanges().items():
            inline[name] = _findings(exchange)
    finally:
        os.environ[referee.REFEREE_ENV] = saved
    for name, exchange in exchanges().items():
        assert _findings(exchange) == inline[name], name
        assert "_referee" in exchange.__dict__, f"{name}: judge() did not send it to the referee process"
    # the faults are found through the referee process, so the comparison above can fail
    assert any(rule.startswith("openai_sdk") for _, rule, _, _ in inline["repeat_role"])


def test_outcomes_come_from_the_referee_process(running):
    exchange = exchanges()["repeat_role"]
    referee.prefetch(exchange, "chat", ["openai-python"], True)
    remote = referee.outcomes(exchange, referee.PYTHON, "openai-python")
    from conformance.sdk.replay import replay

    assert remote == replay(exchange, "chat", "openai-python")
    assert any(o.result == "breaks" for o in remote)
    assert referee.outcomes(exchange, referee.PYTHON, "anthropic-python") is None  # not asked for: the check replays it


def test_a_dead_referee_means_in_process_replay(running):
    expected = _findings(exchanges()["repeat_role"])
    running.proc.kill()
    running.proc.wait()
    exchange = exchanges()["repeat_role"]
    assert _findings(exchange) == expected
    assert referee._CONNECTION[0] is False  # given up for the rest of the process: no wait per exchange


def test_no_referee_at_the_announced_place_means_in_process_replay(monkeypatch, tmp_path):
    monkeypatch.setattr(referee, "_CONNECTION", [None])
    expected = _findings(exchanges()["first_delta_no_role"])
    monkeypatch.setenv(referee.REFEREE_ENV, str(tmp_path / "nothing-here"))
    assert _findings(exchanges()["first_delta_no_role"]) == expected


def test_workers_judging_through_the_referee_import_no_sdk():
    """What spares each xdist worker ~2 s of CPU: with a referee process, judging an exchange of
    each protocol imports neither openai nor anthropic in the judging process."""
    code = textwrap.dedent("""
        import sys, json
        sys.path.insert(0, sys.argv[1])
        from conformance import referee
        from conformance.judge import JudgeContext, judge
        from test_referee import exchanges
        handle = referee.start()
        try:
            found = {name: sorted({f.rule for f in judge(x, JudgeContext())}) for name, x in exchanges().items()}
        finally:
            referee.stop(handle)
        print(json.dumps({"openai": "openai" in sys.modules, "anthropic": "anthropic" in sys.modules, "found": found}))
    """)
    env = {k: v for k, v in os.environ.items() if k != referee.REFEREE_ENV}
    proc = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["openai"] is False and out["anthropic"] is False
    assert any(rule.startswith("openai_sdk") for rule in out["found"]["repeat_role"])


def test_readiness_uses_what_the_cases_saw_and_replays_the_rest():
    exchange = exchanges()["repeat_role"]
    judge(exchange, JudgeContext())  # the referee checks ran: their outcomes are on the exchange
    from conformance.plugin.outcome import _client_outcomes

    carried = _client_outcomes(exchange)
    assert set(carried) >= {"python"}
    replayed = readiness([{"exchanges": [exchange.to_dict()]}])
    reused = readiness([{"exchanges": [exchange.to_dict()], CLIENT_OUTCOMES: {"0": carried}}])
    assert reused == replayed
    # what the case carried is what the matrix shows: a lane the case did not see is replayed
    fake = {"python": [{"client": "openai-python", "version": "0", "feature": "chat.completions.stream", "result": "breaks", "detail": "carried"}]}
    rows = readiness([{"exchanges": [exchange.to_dict()], CLIENT_OUTCOMES: {"0": fake}}])
    assert {(r["client"], r["detail"].split(" (")[0]) for r in rows if r["client"] == "openai-python"} == {("openai-python", "carried")}


def test_a_run_with_workers_writes_no_carried_outcomes(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-n", "2", "-k", "test_basic or test_stream_text", "--report-dir", str(out), "-q"],
                          capture_output=True, text=True, timeout=600, env={k: v for k, v in os.environ.items() if k != referee.REFEREE_ENV})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["cases"] and not any(CLIENT_OUTCOMES in case for case in results["cases"])
    assert any(row["outcome"] == "works" for row in results["client_readiness"])
    assert readiness(results["cases"]) == results["client_readiness"]  # the same matrix as a full replay


def test_the_readiness_matrix_replays_through_the_referee(running, monkeypatch):
    """At the end of a run the controller replays what no case judged (the client lane's own
    calls, error rows) through the referee process too: it starts no Node and imports no SDK."""
    cases = [{"id": "c", "exchanges": [x.to_dict() for x in exchanges().values()]}]
    saved = os.environ.pop(referee.REFEREE_ENV)
    monkeypatch.setattr(referee, "_CONNECTION", [None])
    in_process = readiness(cases)
    os.environ[referee.REFEREE_ENV] = saved
    monkeypatch.setattr(referee, "_CONNECTION", [None])
    from conformance.clients import node

    asked = []
    real = node.replay_many
    monkeypatch.setattr(node, "replay_many", lambda xs: asked.append(len(list(xs))) or real([]))
    assert readiness(cases) == in_process
    assert asked == [0]  # nothing left for an in-process Node replay
    assert any(row["outcome"] == "breaks" for row in in_process)
