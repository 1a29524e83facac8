"""Issue 13, the user's path from the first command to a verdict they can act on: credentials,
models per protocol (or asked of the target), scope, one set of totals, rules explained, and
hints naming the option of the interface in use. Every test runs the real CLI (or pytest) on
slices of the suite against an embedded server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reference.app import ServerSettings
from conformance.reference.server import EmbeddedServer
from conformance.report import load_results

KEY = "sk-user-path-3c1e5b2d4f60a8e1c3b5d7f9"
OPENAI_MODEL = "deepseek/deepseek-v4-pro"
ANTHROPIC_MODEL = "anthropic/claude-sonnet-4.6"
SUITES = Path(__file__).resolve().parent.parent / "conformance" / "suites"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_")) and k not in ("OPENAI_API_KEY", "CI")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600)


def plain_pytest(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_")) and k not in ("OPENAI_API_KEY", "CI")}
    full_env.update(env or {})
    command = [sys.executable, "-m", "pytest", str(SUITES), "-c", str(SUITES / "pytest.ini"), "--rootdir", str(SUITES), "-p", "no:cacheprovider", *args]
    return subprocess.run(command, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("conformance: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def server():
    with EmbeddedServer(ServerSettings(api_keys=frozenset({KEY}))) as running:
        yield running


@pytest.fixture(scope="module")
def open_server():
    """A server without authentication: every request is accepted, with or without a key."""
    with EmbeddedServer(ServerSettings(api_keys=frozenset(), open_access=True)) as running:
        yield running


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("failing")
    proc = cli("run", "--fault", "repeat_role", "-k", "stream and not logprobs", "--report-dir", str(out))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc, load_results(out / "results.json"), out


# -- 1. credentials ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value, state", [(None, "is not set"), ("", "is empty")])
def test_an_unset_or_empty_key_variable_is_one_line_naming_it(tmp_path, server, value, state):
    env = {} if value is None else {"MY_GATEWAY_KEY": value}
    proc = cli("run", "--base-url", server.base_url, "--model", OPENAI_MODEL, "--api-key-env", "MY_GATEWAY_KEY",
               "--report-dir", str(tmp_path / "r"), env=env)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert f"$MY_GATEWAY_KEY {state}" in line and "--no-auth" in line and "--api-key-env" in line
    assert not (tmp_path / "r" / "results.json").exists()  # stopped before any case


def test_the_pytest_plugin_names_the_variable_with_its_own_options(server):
    proc = plain_pytest("--target-url", server.base_url, "--target-model", OPENAI_MODEL, "--target-api-key-env", "MY_GATEWAY_KEY",
                        "-k", "basic", "--no-conformance-report")
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "$MY_GATEWAY_KEY is not set" in text and "--target-no-auth" in text and "--target-api-key-env" in text
    assert "Traceback" not in text


AUTH_CASES = "error_row and api_key or auth_scheme or basic"


def test_no_auth_skips_the_auth_rejection_cases_with_the_reason(tmp_path, open_server):
    proc = cli("run", "--base-url", open_server.base_url, "--model", OPENAI_MODEL, "--no-auth", "-k", AUTH_CASES,
               "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cases = {c["id"]: c for c in load_results(tmp_path / "results.json")["cases"]}
    rejections = [c for i, c in cases.items() if "missing_api_key" in i or "invalid_api_key" in i]
    assert len(rejections) == 4  # both protocols, missing and invalid key
    for case in rejections:
        assert case["verdict"] == "SKIP" and "no authentication" in case["reason"] and "--no-auth" in case["reason"]
    assert all(c["verdict"] != "FAIL" for c in cases.values())
    assert any(c["verdict"] == "PASS" and "basic" in i for i, c in cases.items())


def test_auth_none_in_the_config_file(tmp_path, open_server):
    (tmp_path / "conformance.toml").write_text(
        f'base_url = "{open_server.base_url}"\nmodel = "{OPENAI_MODEL}"\nauth = "none"\nprofile = "crossmodel-openai"\n')
    proc = cli("run", "-k", "missing_api_key", "--report-dir", "r", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (case,) = load_results(tmp_path / "r" / "results.json")["cases"]
    assert case["verdict"] == "SKIP" and "no authentication" in case["reason"]
    (tmp_path / "conformance.toml").write_text('auth = "maybe"\n')
    assert "auth must be" in one_error_line(cli("run", cwd=tmp_path))


def test_without_no_auth_the_same_server_fails_the_rejection_cases(tmp_path, open_server):
    """The SKIP above is earned: a server that accepts any key does fail the rejection rows."""
    proc = cli("run", "--base-url", open_server.base_url, "--model", OPENAI_MODEL, "--profile", "crossmodel-openai",
               "-k", "invalid_api_key", "--report-dir", str(tmp_path), env={"CONFORMANCE_API_KEY": "anything"})
    assert proc.returncode == 1
    assert [c["verdict"] for c in load_results(tmp_path / "results.json")["cases"]] == ["FAIL"]


def test_no_auth_is_for_a_target_not_the_embedded_server(tmp_path):
    assert "--no-auth applies to a target" in one_error_line(cli("run", "--no-auth", "--report-dir", str(tmp_path)))


# -- 2. models ---------------------------------------------------------------------------------------
def test_without_a_model_the_target_is_asked_and_its_models_listed(tmp_path, server):
    proc = cli("run", "--base-url", server.base_url, "--report-dir", str(tmp_path), env={"CONFORMANCE_API_KEY": KEY})
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "no model given for openai and anthropic cases" in line
    assert f"it serves: {OPENAI_MODEL}, openai/gpt-5-mini, {ANTHROPIC_MODEL}" in line
    assert "--model" in line and "--anthropic-model" in line and "auto-first" in line


def test_auto_first_uses_the_first_model_listed(tmp_path, server):
    proc = cli("run", "--base-url", server.base_url, "--model", "auto-first", "--profile", "crossmodel-openai", "-k", "basic",
               "--report-dir", str(tmp_path), env={"CONFORMANCE_API_KEY": KEY})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"using {OPENAI_MODEL}" in proc.stderr
    results = load_results(tmp_path / "results.json")
    bodies = [e["request"]["body"] for c in results["cases"] for e in c["exchanges"] if isinstance(e["request"]["body"], dict)]
    assert bodies and {b.get("model") for b in bodies} == {OPENAI_MODEL}


def _models_sent(results) -> dict[str, set]:
    sent: dict[str, set] = {}
    for case in results["cases"]:
        for exchange in case["exchanges"]:
            body = exchange["request"]["body"]
            if isinstance(body, dict) and "model" in body:
                sent.setdefault(case["protocol"], set()).add(body["model"])
    return sent


def test_one_run_checks_both_protocols_each_with_its_own_model(tmp_path, server):
    proc = cli("run", "--base-url", server.base_url, "--model", OPENAI_MODEL, "--anthropic-model", ANTHROPIC_MODEL,
               "-k", "test_basic or test_reply_message", "--report-dir", str(tmp_path), env={"CONFORMANCE_API_KEY": KEY})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _models_sent(load_results(tmp_path / "results.json")) == {"openai": {OPENAI_MODEL}, "anthropic": {ANTHROPIC_MODEL}}


def test_models_per_protocol_in_the_config_file(tmp_path, server):
    (tmp_path / "conformance.toml").write_text(
        f'base_url = "{server.base_url}"\nmodel = "{OPENAI_MODEL}"\n[models]\nanthropic = "{ANTHROPIC_MODEL}"\n')
    proc = cli("run", "-k", "test_basic or test_reply_message", "--report-dir", "r", cwd=tmp_path, env={"CONFORMANCE_API_KEY": KEY})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _models_sent(load_results(tmp_path / "r" / "results.json"))["anthropic"] == {ANTHROPIC_MODEL}
    (tmp_path / "conformance.toml").write_text('[models]\nanthropik = "x"\n')
    assert "unknown key 'anthropik' in models" in one_error_line(cli("run", cwd=tmp_path))


def test_model_precedence():
    from conformance.target import Target

    target = Target(model="m", models={"vision": "v", "anthropic": "a", "anthropic_tools": "at"})
    assert target.model_for(None, "openai") == "m" and target.model_for("vision", "openai") == "v"
    assert target.model_for(None, "anthropic") == "a" and target.model_for("tools", "anthropic") == "at"
    assert target.model_for("vision", "anthropic") == "a"  # a protocol's own model before the general capability one


# -- 3. scope ----------------------------------------------------------------------------------------
def test_cases_of_protocols_outside_the_profiles_are_deselected_not_skipped(tmp_path):
    proc = cli("run", "--profile", "crossmodel-openai", "-k", "test_basic or test_reply_message or test_auth", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = load_results(tmp_path / "results.json")
    assert results["cases"] and {c["protocol"] for c in results["cases"]} == {"openai"}
    assert not any("covers the anthropic protocol" in (c["reason"] or "") for c in results["cases"])
    assert results["summary"]["total"] == len(results["cases"])
    summary = (tmp_path / "summary.md").read_text()
    assert "| anthropic |" not in summary and "| openai |" in summary
    assert f"{results['summary']['total']} cases:" in proc.stdout


# -- 4. terminal -------------------------------------------------------------------------------------
def test_one_set_of_totals_and_failures_grouped_by_rule(failing_run):
    proc, results, out = failing_run
    s = results["summary"]
    assert f"{s['total']} cases: {s['passed']} PASS, {s['failed']} FAIL" in proc.stdout
    after_progress = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("progress: "))
    assert not re.search(r"\d+ (passed|failed|deselected)\b", after_progress), "pytest's own totals are back"
    assert "FAILED " not in proc.stdout and "_____" not in proc.stdout  # no per-case failure blocks
    assert f"FAIL  stream_role_first_only ({s['failed']} cases): only the first delta carries the role" in proc.stdout
    assert "e.g. " in proc.stdout and "repeats role" in proc.stdout and "fix: " in proc.stdout
    assert f"open {out / 'index.html'}" in proc.stdout


def test_quiet_prints_the_totals_and_one_line_per_failing_rule(tmp_path):
    proc = cli("run", "-q", "--fault", "repeat_role", "-k", "stream and not logprobs", "--report-dir", str(tmp_path))
    assert proc.returncode == 1
    s = load_results(tmp_path / "results.json")["summary"]
    lines = [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("=")]
    assert lines == [
        f"{s['total']} cases: {s['passed']} PASS, {s['failed']} FAIL, 0 WARN, 0 UNSUPPORTED, 0 SKIP, 0 ERROR",
        f"FAIL  stream_role_first_only: {s['failed']} cases",
    ]


def test_plain_pytest_counts_each_verdict_like_the_conformance_totals(tmp_path):
    proc = plain_pytest("--target-profile", "crossmodel-openai", "-k", "test_content_image_https_url or test_basic",
                        "--conformance-report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:]
    s = load_results(tmp_path / "results.json")["summary"]
    assert s["skipped"] >= 1 and s["passed"] >= 1
    assert f"{s['passed']} passed, {s['skipped']} skipped" in proc.stdout
    assert f"{s['total']} cases: {s['passed']} PASS" in proc.stdout


# -- 5. schema messages (the report's root causes: tests/test_report_browser.py) ---------------------------
def test_a_schema_finding_names_keyword_and_path_first_and_keeps_the_reason():
    from conformance.schemas import registry

    message = {"id": "m", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn", "stop_sequence": None,
               "usage": {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
               "content": [{"type": "tool_use", "id": "t", "name": "n", "input": ["x" * 2000] * 20}]}
    (error,) = {e.message for e in registry().errors("anthropic/strict/message", message)}
    assert error.startswith("/content/0/input: type: ")
    assert error.endswith("is not of type 'object'") and len(error) < 200


# -- 6. checks show ----------------------------------------------------------------------------------
def test_checks_show_explains_a_rule_with_its_proof_and_an_example():
    proc = cli("checks", "show", "stream_role_first_only")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("rule stream_role_first_only  (check check_stream_role_first_only, class 3)")
    assert "source: CrossModel 000" in out and "openai-python" in out
    assert "severity (compatible): FAIL" in out and "severity (strict): FAIL" in out
    assert "fix: Send delta.role" in out
    assert "proved by: fault repeat_role (openai)" in out
    assert "finding: error: stream_role_first_only: a later delta of choice 0 repeats role 'assistant'" in out
    assert "request: POST " in out and "response: 200 text/event-stream" in out and "<- here" in out


def test_checks_show_a_warn_rule_without_running_and_an_unknown_rule():
    proc = cli("checks", "explain", "sse_comments", "--no-example")
    assert proc.returncode == 0, proc.stderr
    assert "severity (compatible): WARN" in proc.stdout and "example" not in proc.stdout
    assert "did you mean stream_role_first_only" in one_error_line(cli("checks", "show", "stream_role_first"))


def test_a_fault_is_found_by_rule_id_or_by_check_name():
    from conformance.checks import RULES, load_all
    from conformance.explain import proving_faults
    from conformance.reference.faults import FAULTS, Fault

    load_all()
    rule = RULES["stream_done_terminator"]
    FAULTS["_test_rule_form"] = Fault("_test_rule_form", "openai", "test", ("stream_done_terminator",))
    try:
        names = [f.name for f in proving_faults(rule)]  # the exact rule id wins (faults name rule ids)
        assert "no_done" in names and all(rule.id in FAULTS[n].expect for n in names)
    finally:
        del FAULTS["_test_rule_form"]
    assert proving_faults(rule) and all("check_stream_done_terminator" in f.expect or "stream_done_terminator" in " ".join(f.expect)
                                        for f in proving_faults(rule))


# -- 7. hints name the option of the interface in use --------------------------------------------------
def test_skip_hints_name_the_cli_option_in_a_cli_run_and_the_pytest_option_in_pytest(tmp_path):
    proc = cli("run", "-k", "image_https_url or test_content_image_url", "--report-dir", str(tmp_path / "cli"))
    assert proc.returncode == 0, proc.stdout[-2000:]
    reasons = [c["reason"] for c in load_results(tmp_path / "cli" / "results.json")["cases"] if c["verdict"] == "SKIP"]
    assert len(reasons) == 2 and all("--image-url" in r and "--target-image-url" not in r for r in reasons)
    proc = plain_pytest("-k", "image_https_url or test_content_image_url", "--conformance-report-dir", str(tmp_path / "pytest"))
    assert proc.returncode == 0, proc.stdout[-2000:]
    reasons = [c["reason"] for c in load_results(tmp_path / "pytest" / "results.json")["cases"] if c["verdict"] == "SKIP"]
    assert len(reasons) == 2 and all("--target-image-url" in r for r in reasons)


def test_option_names_per_interface():
    from conformance.target import model_setting, option

    assert option(model_setting("vision")) == "--model-vision"
    assert option(model_setting("vision"), "pytest") == "--target-model-vision"
    assert option(model_setting("vision", "anthropic")) == "--anthropic-model-vision"
    assert option(model_setting(None, "anthropic"), "pytest") == "--target-anthropic-model"
    assert option("base_url", "pytest") == "--target-url" and option("no_auth") == "--no-auth"


def test_a_reader_that_stops_early_gets_no_traceback():
    """`conformance checks | head -1`: the pipe closes while the listing is written; the command
    stops quietly (exit 141, as a tool stopped by SIGPIPE), with nothing on stderr."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "conformance", "checks"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written: every write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
