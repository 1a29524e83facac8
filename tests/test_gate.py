"""The CI gate, end to end: baseline, step summary, progress, several targets, Allure, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reference.app import ServerSettings
from conformance.reference.server import EmbeddedServer
from conformance.report import load_results

CANARY_KEY = "sk-canary-gate-3b9d2e7f1a4c6e8b0d2f4a6c8e0b2d4f"
FAILING_CHECK = "check_stream_role_first_only"
STREAM_CASES = "openai_chat and test_stream"  # the OpenAI streaming module: repeat_role fails most of it


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("CONFORMANCE_", "PYTEST_XDIST_")) and k not in ("CI", "GITHUB_STEP_SUMMARY")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


KNOWN = """
[[known]]
check = "check_stream_role_first_only"
reason = "the gateway repeats the role on every delta; ticket 42"

[[known]]
check = "check_openai_sdk"
reason = "the same ticket 42: openai-python's stream helper concatenates the repeated role"

[[known]]
case = "openai_chat/test_stream.py::test_stream_error_before_stream"
reason = "used to fail; passes now"
"""


def test_baseline_turns_known_failures_into_a_pass_and_reports_stale_entries(tmp_path):
    known = write(tmp_path / "known.toml", KNOWN)
    summary = write(tmp_path / "step-summary.md", "# earlier step\n")
    proc = cli("run", "--fault", "repeat_role", "-k", STREAM_CASES, "--report-dir", str(tmp_path / "r"), "--baseline", str(known),
               env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = load_results(tmp_path / "r" / "results.json")  # the baseline outcome validates against the schema
    outcome = results["baseline"]
    assert len(outcome["expected"]) == results["summary"]["failed"] > 0 and outcome["new"] == []
    assert [e["entry"] for e in outcome["stale"]] == [3]
    assert "1 stale entry" in proc.stdout and "entry 3 stale (now passes, remove it)" in proc.stdout
    assert "the run passes: every failure is a known one" in proc.stdout
    for name in ("summary.md", "index.html"):
        assert "stale" in (tmp_path / "r" / name).read_text().lower()
    step = summary.read_text()  # GITHUB_STEP_SUMMARY: appended to, not replaced
    assert step.startswith("# earlier step\n") and "# Conformance report" in step and "baselined" in step


def test_a_failure_outside_the_baseline_fails_the_run(tmp_path):
    known = write(tmp_path / "known.toml", '[[known]]\ncheck = "check_stream_done_terminator"\nreason = "another vendor bug"\n')
    proc = cli("run", "--fault", "repeat_role", "-k", STREAM_CASES, "--report-dir", str(tmp_path), "--baseline", str(known))
    assert proc.returncode == 1
    assert "new failure: openai_chat/test_stream.py::" in proc.stdout and "the run fails" in proc.stdout
    results = load_results(tmp_path / "results.json")
    outcome = results["baseline"]
    assert outcome["expected"] == [] and len(outcome["new"]) == results["summary"]["failed"] > 0
    assert [e["entry"] for e in outcome["stale"]] == [1]


@pytest.mark.parametrize("text, problem", [
    (None, "no such file"),
    ('[[known]]\ncheck = "x"\n', "entry 1: missing 'reason'"),
    ("[[known]\n", "invalid TOML"),
])
def test_a_bad_baseline_is_one_line_and_exit_2(tmp_path, text, problem):
    path = tmp_path / "known.toml"
    if text is not None:
        write(path, text)
    proc = cli("run", "-k", "basic", "--report-dir", str(tmp_path / "r"), "--baseline", str(path))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("conformance: error: ") and problem in lines[0]
    assert not (tmp_path / "r").exists()  # checked before anything runs


def test_progress_is_plain_lines_in_ci_and_quiet_with_q(tmp_path):
    proc = cli("run", "--fault", "repeat_role", "-k", STREAM_CASES, "--report-dir", str(tmp_path), env={"CI": "true"})
    assert proc.returncode == 1
    summary = load_results(tmp_path / "results.json")["summary"]
    total, failed = summary["total"], summary["failed"] + summary["errors"]
    progress = [line for line in proc.stdout.splitlines() if line.startswith("progress: ")]
    assert progress and progress[-1].startswith(f"progress: {total}/{total} cases, feature streaming, {failed} failed, ")
    assert "\r" not in proc.stdout
    assert not any(set(line) <= set(".FsE") and line for line in proc.stdout.splitlines()), "pytest's dots are back"
    assert f"{total} cases: {summary['passed']} PASS, {summary['failed']} FAIL" in proc.stdout and FAILING_CHECK.removeprefix("check_") in proc.stdout
    quiet = cli("run", "-q", "-k", STREAM_CASES, "--report-dir", str(tmp_path / "q"))
    assert quiet.returncode == 0 and "progress:" not in quiet.stdout and f"{total} cases: {total} PASS" in quiet.stdout


@pytest.fixture(scope="module")
def faulty_server():
    settings = ServerSettings(api_keys=frozenset({CANARY_KEY}), faults=frozenset({"repeat_role"}))
    with EmbeddedServer(settings) as server:
        yield server


def test_several_targets_allure_and_no_artifact_holds_the_key(tmp_path, faulty_server):
    write(tmp_path / "conformance.toml", f"""
report_dir = "out"

[[targets]]
name = "reference"

[[targets]]
name = "vendor b"
base_url = "{faulty_server.base_url}"
model = "deepseek/deepseek-v4-pro"
api_key_env = "VENDOR_KEY"
profile = ["crossmodel-openai"]
""")
    proc = cli("run", "-k", STREAM_CASES, "--alluredir", "allure", cwd=tmp_path, env={"VENDOR_KEY": CANARY_KEY, "CI": "true"})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = tmp_path / "out"

    # one pytest session per target, each with its own reports; the combined ones at the top
    per_target = {name: load_results(out / folder / "results.json") for name, folder in (("reference", "reference"), ("vendor b", "vendor-b"))}
    failed = per_target["vendor b"]["summary"]["failed"]
    assert per_target["reference"]["summary"]["failed"] == 0 and failed > 0
    combined = load_results(out / "results.json")
    assert [t["name"] for t in combined["targets"]] == ["reference", "vendor b"]
    assert combined["summary"]["total"] == sum(r["summary"]["total"] for r in per_target.values())
    assert {c["target"] for c in combined["cases"]} == {"reference", "vendor b"}
    for name in ("index.html", "summary.md", "junit.xml", "matrix.html"):
        assert (out / name).is_file(), name
    matrix = (out / "matrix.html").read_text()
    assert ">reference</th>" in matrix and ">vendor b</th>" in matrix
    assert "== all targets" in proc.stdout and "\nreference: " in proc.stdout and "\nvendor b: " in proc.stdout
    assert f"wrote {Path('out') / 'matrix.html'}" in proc.stdout

    # Allure: one result per case and target, labelled, with each exchange attached as JSON
    allure = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert len(allure) == combined["summary"]["total"]
    failing = [r for r in allure if r["status"] == "failed"]
    assert len(failing) == failed
    labels = {(label["name"], label["value"]) for label in failing[0]["labels"]}
    assert {("protocol", "openai"), ("feature", "streaming"), ("target", "vendor b")} <= labels
    assert any(name == "rule_source" and "CrossModel" in value for name, value in labels)
    attachments = failing[0]["attachments"]
    assert attachments and all(a["type"] == "application/json" and a["name"].startswith("exchange ") for a in attachments)
    exchanges = [json.loads((tmp_path / "allure" / a["source"]).read_text()) for a in attachments]
    assert all(e["request"]["method"] == "POST" for e in exchanges)
    assert any(e["response"]["events"] for e in exchanges)  # the case's stream is among them, in any order
    assert FAILING_CHECK in failing[0]["description"]

    # no file of the run (reports of every target, the matrix, Allure) holds the key or a part of it
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "conformance.toml"]
    assert len(written) > 20
    for path in written:
        text = path.read_text(errors="replace")
        assert CANARY_KEY not in text and CANARY_KEY[-12:] not in text, f"{path} contains the API key"
    assert CANARY_KEY not in proc.stdout + proc.stderr
    assert "[REDACTED]" in (out / "vendor-b" / "results.json").read_text()


def test_duplicate_target_names_are_a_configuration_error(tmp_path):
    write(tmp_path / "conformance.toml", '[[targets]]\nname = "a"\n\n[[targets]]\nname = "a"\n')
    proc = cli("run", cwd=tmp_path)
    assert proc.returncode == 2 and "two targets are named 'a'" in proc.stderr


# --- small units: Allure rule sources, progress mode, baseline lines ------------------------------


def test_allure_rule_sources_link_urls_and_label_text():
    from conformance.allure_support import exchange_name, rule_sources

    case = {"findings": [{"check": "check_a", "source": "OpenAI API reference https://platform.openai.com/docs/api-reference/chat §stream"},
                         {"check": "check_b", "source": "CrossModel 000 §Streaming response"},
                         {"check": "check_b", "source": "CrossModel 000 §Streaming response"}],
            "checks": []}
    assert rule_sources(case) == [
        ("url", "https://platform.openai.com/docs/api-reference/chat", "check_a: OpenAI API reference https://platform.openai.com/docs/api-reference/chat §stream"),
        ("text", "CrossModel 000 §Streaming response", "check_b"),
    ]
    assert exchange_name(2, {"request": {"method": "POST", "url": "http://h/v1/chat/completions"}, "response": None}) == \
        "exchange 2: POST http://h/v1/chat/completions → no response"


@pytest.mark.parametrize("mode, isatty, env, expected", [
    ("auto", True, {}, "tty"),
    ("auto", True, {"CI": "true"}, "plain"),
    ("auto", True, {"CI": "false"}, "tty"),
    ("auto", False, {}, "plain"),
    ("quiet", True, {}, "quiet"),
])
def test_progress_mode(mode, isatty, env, expected):
    from conformance.progress import resolve_mode

    assert resolve_mode(mode, isatty, env) == expected


def test_baseline_lines_name_new_stale_and_expired_entries():
    from conformance.report.cli import baseline_lines

    outcome = {"file": "known.toml", "today": "2026-11-22", "expected": [{"case": "a", "target": "t", "verdict": "FAIL", "reason": "r", "entries": [1]}],
               "new": [{"case": "b", "target": "t", "verdict": "ERROR"}],
               "stale": [{"entry": 2, "check": "check_x", "reason": "gone"}],
               "expired": [{"entry": 3, "case": "c", "reason": "old", "expires": "2026-01-01"}]}
    assert baseline_lines(outcome) == [
        "baseline known.toml: 1 expected failure(s), 1 new, 1 stale entry, 1 expired; the run fails: 1 new failure",
        "  new failure: b (t, ERROR)",
        "  entry 2 stale (now passes, remove it): check check_x: gone",
        "  entry 3 expired: case c: old",
    ]
    assert baseline_lines(None) == []
