"""The semantic probes decide: each fires on a reference fault and stays silent on a correct
server, including one that follows no instruction (free text: no magic words)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.checks import evaluate
from conformance.checks.openai_params import check_token_cap_finish_reason
from conformance.checks.openai_stream import check_stream_matches_nonstream
from conformance.checks.probes import check_content_block_counted
from conformance.exchange import record
from conformance.findings import Severity
from conformance.reference import engine
from conformance.reference.app import ServerSettings
from conformance.reference.server import EmbeddedServer
from conformance.suites.probe_support import stop_sequences_from

KEY = "sk-probes-test-0123456789abcdef0123"
MODEL = "deepseek/deepseek-v4-pro"  # served on both endpoints by the reference server
STOP_CASES = "test_stop or reply_stop_sequence"


def run(server: EmbeddedServer, tmp_path: Path, select: str, *extra: str, profiles: str = "crossmodel-openai,crossmodel-anthropic", model: str = MODEL) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    env["CONFORMANCE_API_KEY"] = KEY
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", "--base-url", server.base_url, "--profile", profiles,
                           "--model", model, "--report-dir", str(tmp_path), "-k", select, *extra], capture_output=True, text=True, env=env, timeout=300)
    path = tmp_path / "results.json"
    assert path.is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(path.read_text())


def verdicts(results: dict) -> dict[str, tuple[str, list[str]]]:
    return {c["id"].split("::")[1]: (c["verdict"], sorted({f["rule"] for f in c["findings"]})) for c in results["cases"]}


@pytest.fixture(scope="module")
def free_text():
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}), tolerances=frozenset({"free_text"}))) as server:
        yield server


@pytest.fixture(scope="module")
def ignores_stop():
    faults = frozenset({"ignore_stop", "anthropic_ignore_stop_sequences"})
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}), tolerances=frozenset({"free_text"}), faults=faults)) as server:
        yield server


def test_free_text_server_follows_no_instruction():
    prompt = engine.Prompt(texts=["Reply with exactly: one two three"], last_user_text="Reply with exactly: one two three", last_role="user", literal=False)
    assert engine.generate(prompt).choices[0].text != "one two three"
    prompt.literal = True
    assert engine.generate(prompt).choices[0].text == "one two three"


def test_stop_probes_are_conclusive_against_free_text(free_text, tmp_path):
    got = verdicts(run(free_text, tmp_path, STOP_CASES))
    assert got == {
        "test_stop[string]": ("PASS", []), "test_stop[array]": ("PASS", []), "test_stop_stream": ("PASS", []),
        "test_reply_stop_sequence": ("PASS", []), "test_reply_stop_sequence_stream": ("PASS", []),
    }


def test_stop_probes_catch_a_server_that_ignores_stop(ignores_stop, tmp_path):
    got = verdicts(run(ignores_stop, tmp_path, STOP_CASES))
    assert got == {
        "test_stop[string]": ("FAIL", ["stop_honoured"]), "test_stop[array]": ("FAIL", ["stop_honoured"]),
        "test_stop_stream": ("FAIL", ["stop_honoured"]),
        "test_reply_stop_sequence": ("FAIL", ["anthropic_stop_sequence"]),
        "test_reply_stop_sequence_stream": ("FAIL", ["anthropic_stop_sequence"]),
    }


def test_stop_sequence_is_chosen_from_the_control():
    text = "Once upon a time a river ran through the valley near the town."
    stops = stop_sequences_from(text, 2)
    assert len(stops) == 2 and all(s in text and text.index(s) > 0 for s in stops)
    assert stop_sequences_from("", 1) == [] and stop_sequences_from("ok no", 1) == []
    assert stop_sequences_from("Tree tree", 1) == ["tree"]  # never the reply's first word


@pytest.mark.parametrize("faults,select,expected", [
    ("drop_image_block", "test_content_block_reaches_model", {"test_content_block_reaches_model[image_url]": ("FAIL", ["content_block_counted"])}),
    ("anthropic_drop_image_block", "anthropic and block_reaches_model", {"test_content_block_reaches_model[image]": ("FAIL", ["content_block_counted"])}),
    ("ignore_tool_choice", "openai and tool_choice and not auto", {f"{name}[{mode}]": ("FAIL", ["tool_choice_honoured"])
                                                          for name in ("test_tool_choice", "test_tool_choice_stream") for mode in ("none", "required", "forced")}),
    ("anthropic_ignore_tool_choice", "anthropic and tool_choice and not auto", {f"{name}[{mode}]": ("FAIL", ["anthropic_tool_choice"])
                                                                   for name in ("test_tool_choice", "test_tool_choice_stream") for mode in ("any", "none", "tool")}),
])
def test_probe_fails_on_its_fault(tmp_path, faults, select, expected):
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}), faults=frozenset({faults}))) as server:
        got = verdicts(run(server, tmp_path, select))
    failing = {case: result for case, result in got.items() if result[0] != "PASS" and result[0] != "SKIP"}

    def main(rules):  # a rule's distinct variants (tool_choice_honoured.forced_other) count as the rule expected
        return sorted({r.split(".")[0] for r in rules})
    assert {case: (verdict, main(rules)) for case, (verdict, rules) in failing.items()} == \
        {case: (verdict, main(rules)) for case, (verdict, rules) in expected.items()}


def test_undocumented_block_dropped_is_a_warn(tmp_path):
    """Under the upstream openai profile image_url is not in the features table: WARN, not FAIL."""
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}), profiles=("openai",), faults=frozenset({"drop_image_block"}))) as server:
        got = verdicts(run(server, tmp_path, "test_content_block_reaches_model", profiles="openai", model="reference-chat"))
    assert got["test_content_block_reaches_model[image_url]"] == ("WARN", ["content_block_counted"])


# -- the checks, on recorded exchanges ---------------------------------------------------------------
def chat_exchange(body: dict, index: int = 0, stream: bytes | None = None):
    payload = stream if stream is not None else json.dumps(body).encode()
    content_type = "text/event-stream" if stream is not None else "application/json"
    return record(method="POST", url="http://127.0.0.1/v1/chat/completions", request_headers={}, request_body={"stream": stream is not None},
                  status=200, headers={"content-type": content_type}, body=payload, index=index)


def reply(content="Hello there.", finish="stop", prompt=10, completion=3):
    return {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}


def test_content_block_counted_fires_only_when_the_count_does_not_grow():
    with_block, without = chat_exchange(reply(prompt=30)), chat_exchange(reply(prompt=12), index=1)
    assert evaluate(check_content_block_counted, with_block, without, "image_url", True) == []
    same = chat_exchange(reply(prompt=12))
    [finding] = evaluate(check_content_block_counted, same, without, "image_url", True)
    assert finding.severity is Severity.ERROR and "image_url" in finding.message and finding.rule == "content_block_counted"
    [finding] = evaluate(check_content_block_counted, same, without, "video", False)
    assert finding.severity is Severity.WARNING


def test_token_cap_finish_reason():
    assert evaluate(check_token_cap_finish_reason, chat_exchange(reply(finish="length", completion=5)), 5, "max_tokens") == []
    assert evaluate(check_token_cap_finish_reason, chat_exchange(reply(finish="stop", completion=3)), 5, "max_tokens") == []
    [finding] = evaluate(check_token_cap_finish_reason, chat_exchange(reply(finish="stop", completion=5)), 5, "max_tokens")
    assert finding.rule == "token_cap_finish_reason" and finding.severity is Severity.ERROR
    [finding] = evaluate(check_token_cap_finish_reason, chat_exchange(reply(finish="length", completion=2)), 5, "max_tokens")
    assert finding.rule == "token_cap_finish_reason.below_cap" and finding.severity is Severity.WARNING


def sse(*chunks: dict) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def chunk(delta: dict, finish=None) -> dict:
    return {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_stream_matches_nonstream_structure_fails_wording_warns():
    plain = chat_exchange(reply("Hello there."))
    same = chat_exchange({}, 1, sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello there."}), chunk({}, "stop")))
    assert evaluate(check_stream_matches_nonstream, same, plain) == []
    worded = chat_exchange({}, 1, sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi there."}), chunk({}, "stop")))
    [finding] = evaluate(check_stream_matches_nonstream, worded, plain)
    assert finding.rule == "stream_matches_nonstream.wording" and finding.severity is Severity.WARNING
    assert evaluate(check_stream_matches_nonstream, worded, plain, False) == []  # the target did not repeat itself
    cut = chat_exchange({}, 1, sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello there."}), chunk({}, "length")))
    [finding] = evaluate(check_stream_matches_nonstream, cut, plain, False)
    assert finding.rule == "stream_matches_nonstream" and finding.severity is Severity.ERROR and "finish_reason" in finding.message


def test_stop_reported_only_when_the_probe_is_the_control_cut_at_the_stop():
    from conformance.checks.probes import check_stop_reported

    control = "The river ran past the mill and into the sea."
    assert evaluate(check_stop_reported, "The river ran past the ", "stop", "stop", control, ["mill"], "/p") == []
    [finding] = evaluate(check_stop_reported, "The river ran past the ", "length", "stop", control, ["mill"], "/p")
    assert finding.rule == "stop_reported" and finding.severity is Severity.ERROR
    # the model wrote something else: no proof the sequence was hit, so nothing to say about the stop reason
    assert evaluate(check_stop_reported, "A different reply.", "end_turn", "stop_sequence", control, ["mill"], "/p") == []
    # the earliest of several stop sequences is the one that cuts
    assert evaluate(check_stop_reported, "The river ", "end_turn", "stop_sequence", control, ["sea", "ran"], "/p") != []
