"""No false alarms (issue 10): legal variations (tolerances), replies cut by the token limit,
machine load and the active profile never produce a FAIL that is not an incompatibility."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conformance.exchange import record
from conformance.findings import Finding, Severity, Strictness, Verdict
from conformance.judge import CUT_BY_LIMIT, JudgeContext, cite, judge, soften_truncated, truncation
from conformance.reference.tolerances import TOLERANCES, compatible_set

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CONFORMANCE_RUN_CONFIG", "CONFORMANCE_EMBEDDED") and not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run(tmp_path: Path, name: str, *args: str, cwd: Path | None = None) -> tuple[dict | None, subprocess.CompletedProcess]:
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", "--report-dir", str(out), *args],
                          capture_output=True, text=True, env=_env(), timeout=600, cwd=cwd or tmp_path)
    path = out / "results.json"
    return (json.loads(path.read_text()) if path.is_file() else None), proc


def _verdicts(results: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in results["cases"]}


# -- 1, 2: every tolerance is silent in the compatible reading; strict FAILs exactly as documented ----
def test_every_tolerance_is_declared_with_its_evidence():
    assert len(TOLERANCES) >= 20
    for item in TOLERANCES.values():
        assert item.protocol in ("openai", "anthropic", "both"), item.name
        assert item.description and item.evidence, item.name
        assert set(item.strict_rules) <= set(item.risky) | set(item.strict_rules)
        for other in item.conflicts:
            assert other in TOLERANCES, f"{item.name} conflicts with unknown {other}"
    chosen = compatible_set()
    for name in chosen:
        assert not set(TOLERANCES[name].conflicts) & set(chosen), name


@pytest.mark.slow
def test_tolerance_proof_zero_fail_in_compatible_and_documented_strict_fails(tmp_path):
    """The whole suite against all combinable tolerances (compatible and strict), and each tolerance
    alone on its cases: no FAIL, no ERROR, WARN only where documented as risky; strict FAILs are
    exactly each tolerance's strict_rules (tests/.. conformance.reference.tolerance_proof)."""
    proc = subprocess.run([sys.executable, "-m", "conformance.reference.tolerance_proof", str(tmp_path)],
                          capture_output=True, text=True, env=_env(), timeout=900, cwd=tmp_path)
    report = json.loads((tmp_path / "proof.json").read_text())
    assert not report["problems"], "\n".join(report["problems"][:40]) + "\n" + proc.stdout[-2000:]
    combined = next(r for r in report["runs"] if r["name"] == "combined-compatible")
    assert combined["summary"]["total"] > 150 and combined["summary"]["failed"] == 0 and combined["summary"]["errors"] == 0
    assert proc.returncode == 0


def test_tolerances_command_and_bad_names(tmp_path):
    env = _env()
    listed = subprocess.run([sys.executable, "-m", "conformance", "tolerances"], capture_output=True, text=True, env=env)
    assert listed.returncode == 0
    for name in TOLERANCES:
        assert name in listed.stdout
    unknown = subprocess.run([sys.executable, "-m", "conformance", "run", "--tolerance", "nope"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "conformance: error: unknown tolerance 'nope' (see 'conformance tolerances')"
    clash = subprocess.run([sys.executable, "-m", "conformance", "serve", "--tolerance", "sse_comments", "--tolerance", "sse_event_ids"],
                           capture_output=True, text=True, env={**env, "CONFORMANCE_API_KEY": "k"}, cwd=tmp_path)
    assert clash.returncode == 2 and "cannot be combined" in clash.stderr and "Traceback" not in clash.stderr
    external = subprocess.run([sys.executable, "-m", "conformance", "run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--tolerance", "sse_crlf"],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
    assert external.returncode == 2 and "embedded reference server only" in external.stderr


def test_tolerant_server_bytes_are_what_the_tolerance_says():
    """The middleware really rewrites: gzip + chunked JSON, CRLF/comment/unknown-field SSE, a prompt-filter chunk."""
    from conformance.reference.app import ServerSettings
    from conformance.reference.server import EmbeddedServer

    names = frozenset({"gzip_json", "chunked_json", "sse_crlf", "sse_comments", "sse_unknown_fields", "prompt_filter_chunk", "extra_fields"})
    with EmbeddedServer(ServerSettings(api_keys=frozenset({"k"}), tolerances=names)) as server:
        headers = {"authorization": "Bearer k"}
        body = {"model": "deepseek/deepseek-v4-pro", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(timeout=10) as client:
            with client.stream("POST", server.base_url + "/chat/completions", json=body, headers=headers) as plain:
                raw = b"".join(plain.iter_raw())
            assert plain.headers["content-encoding"] == "gzip" and "content-length" not in plain.headers
            reply = json.loads(gzip.decompress(raw))
            assert reply["object"] == "chat.completion" and "x_vendor_extra" in reply and "x_vendor_extra" in reply["choices"][0]
            stream = client.post(server.base_url + "/chat/completions", json={**body, "stream": True}, headers=headers)
    text = stream.text
    assert "\r\n\r\n" in text and ": keep-alive" in text and "x-vendor-trace: abc123" in text
    first = json.loads(text.split("data: ", 1)[1].split("\r\n", 1)[0])
    assert first["object"] == "" and first["choices"] == [] and "prompt_filter_results" in first


# -- the checks the tolerances corrected --------------------------------------------------------------
def _stream_exchange(chunks: list[dict], request: dict | None = None, total_s: float = 0.05):
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    exchange = record(method="POST", url="http://x/v1/chat/completions", request_headers={},
                      request_body=request or {"model": "m", "messages": [], "stream": True}, status=200,
                      headers={"content-type": "text/event-stream"}, body=text.encode())
    exchange.timings["total_s"] = total_s
    return exchange


def _chunk(i: int, created: int = 1_700_000_000, **choice) -> dict:
    return {"id": "c", "object": "chat.completion.chunk", "created": created, "model": "m",
            "choices": [{"index": 0, "delta": choice.pop("delta", {"content": "x"}), "finish_reason": choice.pop("finish", None), "logprobs": None}]}


def _rules(findings: list[Finding], at_least: Severity = Severity.WARNING) -> set[str]:
    order = [Severity.INFO, Severity.WARNING, Severity.ERROR]
    return {f.rule for f in findings if order.index(f.severity) >= order.index(at_least)}


def test_prompt_filter_chunk_is_skipped_like_the_sdk_does():
    azure = {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": [{"prompt_index": 0}]}
    chunks = [azure, _chunk(0, delta={"role": "assistant", "content": ""}), _chunk(1), _chunk(2, delta={}, finish="stop")]
    compatible = judge(_stream_exchange(chunks), JudgeContext(profiles=["openai"], strictness=Strictness.COMPATIBLE))
    assert not _rules(compatible), [f.line() for f in compatible]
    strict = judge(_stream_exchange(chunks), JudgeContext(profiles=["openai"], strictness=Strictness.STRICT))
    assert _rules(strict, Severity.ERROR) == {"chat_chunk_schema"}
    # a chunk that does carry choices is a chunk: its wrong object is still reported
    wrong = [dict(_chunk(0, delta={"role": "assistant", "content": ""}), object="")] + chunks[2:]
    assert "chat_chunk_schema" in _rules(judge(_stream_exchange(wrong), JudgeContext(profiles=["openai"], strictness=Strictness.STRICT)))


def test_created_stamped_by_the_clock_is_never_a_finding_but_a_jump_is():
    first = _chunk(0, delta={"role": "assistant", "content": ""})
    ticking = [first, _chunk(1, created=1_700_000_001), _chunk(2, created=1_700_000_001, delta={}, finish="stop")]
    context = JudgeContext(profiles=["openai"], strictness=Strictness.STRICT)
    assert "stream_constant_fields" not in {r.partition(".")[0] for r in _rules(judge(_stream_exchange(ticking, total_s=0.01), context))}
    jumping = [first] + [_chunk(i, created=1_700_000_000 + i) for i in range(1, 6)] + [_chunk(6, created=1_700_000_006, delta={}, finish="stop")]
    assert "stream_constant_fields" in {r.partition(".")[0] for r in _rules(judge(_stream_exchange(jumping, total_s=0.05), context))}
    backwards = [first, _chunk(1, created=1_699_999_999), _chunk(2, delta={}, finish="stop")]
    assert "stream_constant_fields" in {r.partition(".")[0] for r in _rules(judge(_stream_exchange(backwards), context))}


def test_created_is_compared_with_the_reply_date_not_the_local_clock():
    from conformance.checks import evaluate
    from conformance.checks.openai_chat import check_created_timestamp

    old = 1_500_000_000
    assert evaluate(check_created_timestamp, old, "/created") == []  # no Date header: no clock to compare with
    assert [f.severity for f in evaluate(check_created_timestamp, old, "/created", old + 10 * 86400)] == [Severity.WARNING]
    assert [f.severity for f in evaluate(check_created_timestamp, 0, "/created")] == [Severity.ERROR]


def test_unknown_sse_field_is_ignored_but_a_lost_payload_is_not():
    from conformance.sse import parse

    ignored = parse(b"x-vendor-trace: 1\ndata: {\"a\": 1}\nid: 3\nretry: 10\n\n")
    assert not ignored.issues and ignored.unknown_fields == ["x-vendor-trace"] and ignored.events[0].json == {"a": 1}
    lost = parse(b'{"error": {"message": "boom"}}\n\n')
    assert [i.kind for i in lost.issues] == ["line_without_field"]


# -- 3: truncation ------------------------------------------------------------------------------------
def test_truncation_softens_only_the_rules_that_need_a_complete_reply():
    cut = record(method="POST", url="http://x/v1/chat/completions", request_headers={}, request_body={"model": "m", "messages": []},
                 status=200, headers={"content-type": "application/json"},
                 body=json.dumps({"choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": None}}]}).encode())
    assert truncation(cut) == "finish_reason length"
    failing = [Finding("check_tool_call_arguments", "15", Severity.ERROR, "arguments do not parse")]
    softened = soften_truncated("check_tool_call_arguments", failing, cut)
    assert softened[0].severity is Severity.WARNING and softened[0].message.startswith(CUT_BY_LIMIT + " (finish_reason length)")
    assert soften_truncated("check_chat_response_schema", [Finding("check_chat_response_schema", None, Severity.ERROR, "bad")], cut)[0].severity is Severity.ERROR
    complete = record(method="POST", url="http://x/v1/messages", request_headers={}, request_body={}, status=200,
                      headers={"content-type": "application/json"}, body=b'{"stop_reason": "tool_use"}')
    assert truncation(complete) is None
    assert soften_truncated("check_tool_call_arguments", failing, complete) == failing


@pytest.mark.slow
def test_a_verbose_model_cut_by_the_budget_is_inconclusive_and_a_larger_budget_passes(tmp_path):
    select = ["--tolerance", "verbose_model", "-k", "tool_call or tool_use or tool_round_trip"]
    (tmp_path / "small.toml").write_text("[limits]\nmax_tokens_tools = 64\n")
    (tmp_path / "large.toml").write_text("[limits]\nmax_tokens_tools = 1024\n")
    cut, proc = _run(tmp_path, "small", "--config", str(tmp_path / "small.toml"), *select)
    assert cut is not None, proc.stderr
    assert cut["summary"]["failed"] == 0 and cut["summary"]["errors"] == 0
    warned = [c for c in cut["cases"] if c["verdict"] == "WARN"]
    assert len(warned) >= 6 and all("cut by the token limit" in c["reason"] for c in warned), [(c["id"], c["reason"]) for c in warned]
    sent = {x["request"]["body"].get("max_completion_tokens") or x["request"]["body"].get("max_tokens")
            for c in cut["cases"] if c["feature"] == "tools" or "tool_use" in c["id"]
            for x in c["exchanges"] if isinstance(x["request"].get("body"), dict)}
    assert sent == {64}
    full, proc = _run(tmp_path, "large", "--config", str(tmp_path / "large.toml"), *select)
    assert full is not None, proc.stderr
    assert {c["verdict"] for c in full["cases"]} == {"PASS"}, [(c["id"], c["verdict"], c["reason"]) for c in full["cases"] if c["verdict"] != "PASS"]
    # the command line says the same as the config file
    again, _ = _run(tmp_path, "cli", "--max-tokens-tools", "64", *select)
    assert _verdicts(again) == _verdicts(cut)


def test_budget_configuration_errors_are_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("[limits]\nmax_tokens_tool = 64\n")
    results, proc = _run(tmp_path, "bad", "--config", str(tmp_path / "bad.toml"))
    assert results is None and proc.returncode == 2 and "unknown key 'limits.max_tokens_tool'" in proc.stderr and "Traceback" not in proc.stderr
    results, proc = _run(tmp_path, "neg", "--max-tokens", "0")
    assert results is None and proc.returncode == 2 and "--max-tokens must be a positive integer" in proc.stderr


def test_default_budgets_are_generous():
    from conformance.target import Target

    target = Target()
    assert target.budget_for("tools") >= 512 and target.budget_for(None) >= 64 and target.budget_for("reasoning") >= 1024
    assert Target(budgets={"default": 100, "tools": 700}).budget_for("tools") == 700
    assert Target(budgets={"default": 100}).budget_for("vision") == 100


# -- 4: reproducible verdicts -------------------------------------------------------------------------
@pytest.mark.slow
def test_verdicts_do_not_depend_on_load(tmp_path):
    """The same suite twice against a server that stamps every chunk with its clock: once fast, once
    slowed down like a loaded machine (its streams then cross second boundaries). Same verdicts."""
    select = ["-k", TOLERANCES["slow_stream"].select, "--strictness", "strict"]
    fast, proc = _run(tmp_path, "fast", "--tolerance", "created_clock", *select)
    assert fast is not None, proc.stderr
    slow, proc = _run(tmp_path, "slow", "--tolerance", "created_clock", "--tolerance", "slow_stream", *select)
    assert slow is not None, proc.stderr
    assert _verdicts(fast) == _verdicts(slow)
    assert set(_verdicts(fast).values()) == {"PASS"}
    crossed = [c for c in slow["cases"] for x in c["exchanges"] if x["response"].get("events")
               and len({(e.get("json") or {}).get("created") for e in x["response"]["events"] if isinstance(e.get("json"), dict)}) > 1]
    assert crossed, "the slowed-down streams never crossed a second boundary: the test proves nothing"


# -- 5: strict mode runs every check of a case ----------------------------------------------------------
@pytest.mark.slow
def test_strict_mode_a_failing_schema_check_hides_no_other_finding(tmp_path):
    results, proc = _run(tmp_path, "strict", "--strictness", "strict", "--fault", "wrong_object", "--fault", "bad_usage_arithmetic",
                         "-k", "test_basic")
    assert results is not None, proc.stderr
    both = [c for c in results["cases"] if {"chat_response_schema", "usage_arithmetic"} <= {f["rule"] for f in c["findings"]}]
    assert both, [(c["id"], [f["rule"] for f in c["findings"]]) for c in results["cases"]]


# -- 6: profiles scope what is sent and cited; verdict and reason agree ----------------------------------
def test_cite_keeps_the_active_profiles_documents():
    from conformance import profiles

    generic, vendor = profiles.load("openai"), profiles.load("crossmodel-openai")
    source = "CrossModel 000 §Streaming response; openai-python lib/streaming/_deltas.py"
    assert cite(source, generic) == "openai-python lib/streaming/_deltas.py"
    assert cite(source, vendor) == source
    assert cite("CrossModel 001 §Body (n); 000 §Request parameters", generic) == generic.profile_source("openai")
    assert cite("CryptGPT 004 §Request Body", vendor) == vendor.profile_source("openai")


@pytest.mark.slow
def test_generic_profiles_never_send_or_cite_a_vendor_feature(tmp_path):
    faults = ["--fault", "repeat_role", "--fault", "changing_model", "--fault", "bad_usage_arithmetic", "--fault", "wrong_error_code"]
    results, proc = _run(tmp_path, "generic", "--profile", "openai,anthropic", "--strictness", "strict", *faults,
                         "-k", "content or basic or test_stream or error")
    assert results is not None, proc.stderr
    findings = [(c["id"], f) for c in results["cases"] for f in c["findings"]]
    assert findings, "the faults produced no finding: nothing was checked"
    vendors = ("CrossModel", "CryptGPT", "LLM Gateway")
    cited = [(i, f["source"], f["message"]) for i, f in findings if any(v in f["source"] or v in f["message"] for v in vendors)]
    assert not cited, cited[:5]
    for case in results["cases"]:
        for exchange in case["exchanges"]:
            body = exchange["request"].get("body")
            blocks = [b for m in (body or {}).get("messages", []) if isinstance(m, dict) and isinstance(m.get("content"), list) for b in m["content"]] if isinstance(body, dict) else []
            assert not [b for b in blocks if isinstance(b, dict) and b.get("type") in ("video", "video_url")], case["id"]
    video = [c for c in results["cases"] if "video" in c["id"]]
    assert video and all(c["verdict"] == "SKIP" and "does not document" in c["reason"] for c in video if "frames" in c["id"])
    for case in results["cases"]:
        assert not (case["verdict"] in ("FAIL", "PASS", "ERROR") and case["reason"].startswith("inconclusive")), case


def test_reason_agrees_with_the_verdict():
    from conformance.verdicts import Ending, case_verdict

    failing = [Finding("check_tool_call_arguments", None, Severity.ERROR, "bad JSON")]
    verdict, reason = case_verdict(failing, Ending.INCONCLUSIVE, "inconclusive: the model did not call the tool")
    assert verdict is Verdict.FAIL and not reason.startswith("inconclusive")
    cut = [Finding("check_tool_call_arguments", None, Severity.WARNING, f"{CUT_BY_LIMIT} (finish_reason length): bad JSON")]
    assert case_verdict(cut, Ending.COMPLETED) == (Verdict.WARN, f"{CUT_BY_LIMIT} (finish_reason length)")
