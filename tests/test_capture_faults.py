"""Offline judging agrees with live runs: a suite run against a reference fault, written as a HAR
and checked offline, gives the same rule findings as the live run; a compatible run re-judged as
strict gives the findings of a strict live run. A representative subset of faults keeps it fast
(framing, stream sequence, request-driven semantics, errors, models, both protocols)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.capture.har import write as write_har
from conformance.reference.faults import FAULTS
from conformance.selftest import run_suite

pytestmark = pytest.mark.slow

OFFLINE_FAULTS = [
    "no_done", "no_blank_lines", "changing_created", "created_in_ms", "ignore_n", "ignore_stop",
    "error_unwrapped", "models_bare_array", "anthropic_stream_no_block_stop", "anthropic_stream_no_event_lines",
    "anthropic_openai_error_shape",
]
STRICT_FAULTS = ["bad_finish_reason", "anthropic_wrong_message_type", "keepalive_as_data"]


def live(name: str, out: Path, *extra: str) -> dict:
    fault = FAULTS[name]
    args = ["--fault", name, *(["-k", fault.select] if fault.select else []), *(["--profile", ",".join(fault.profiles)] if fault.profiles else []), *extra]
    results, output = run_suite(args, out)
    assert results is not None, output
    return results


def check(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "conformance", "check", *args], capture_output=True, text=True, env=env, timeout=300)


def findings(case: dict, checks: set[str] | None = None) -> set[tuple[str, str]]:
    return {(f["rule"], f["severity"]) for f in case["findings"] if f["severity"] != "info" and (checks is None or f["check"] in checks)}


@pytest.mark.parametrize("name", OFFLINE_FAULTS)
def test_a_har_of_a_fault_run_checked_offline_gives_the_live_findings(name, tmp_path):
    results = live(name, tmp_path / "live")
    exchanges = [(case, x) for case in results["cases"] for x in case["exchanges"]]
    har = tmp_path / f"{name}.har"
    har.write_text(json.dumps(write_har([x for _, x in exchanges], results["started_at"])))
    proc = check(str(har), "--profile", ",".join(results["targets"][0]["profile"]), "--report-dir", str(tmp_path / "offline"))
    assert proc.returncode in (0, 1), proc.stderr
    offline = {c["id"]: c for c in json.loads((tmp_path / "offline" / "results.json").read_text())["cases"]}
    assert len(offline) == len(exchanges)
    fired: set[str] = set()
    for case in results["cases"]:
        entries = [offline[f"{har.name}#{i}"] for i, (c, _) in enumerate(exchanges) if c is case]
        # compared on the checks both applied: a case's own expectations (e.g. "refused with
        # 400") need the suite, and judge() may apply a rule to an exchange its case did not check
        # (e.g. the models list fetched by the model-lookup case). Once every suite calls judge()
        # for its exchanges, the live checks include judge()'s and the comparison is complete.
        both = {name for entry in entries for name in entry["checks"]} & set(case["checks"])
        got = set().union(*(findings(entry, both) for entry in entries)) if entries else set()
        assert got == findings(case, both), f"{case['id']}: offline {sorted(got)} != live {sorted(findings(case, both))}"
        fired |= {rule for rule, _ in got}
    expected = set(FAULTS[name].expect)
    assert expected & fired, f"{name}: none of {sorted(expected)} fired offline"


def test_a_clean_run_checked_offline_has_no_finding(tmp_path):
    results, output = run_suite(["-k", "stream or basic or error or models"], tmp_path / "live")
    assert results is not None, output
    har = tmp_path / "clean.har"
    har.write_text(json.dumps(write_har([x for case in results["cases"] for x in case["exchanges"]], results["started_at"])))
    proc = check(str(har), "--profile", ",".join(results["targets"][0]["profile"]), "--report-dir", str(tmp_path / "offline"), "--strictness", "strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    offline = json.loads((tmp_path / "offline" / "results.json").read_text())
    assert [c["id"] for c in offline["cases"] if c["findings"]] == []
    assert offline["summary"]["total"] > 20


@pytest.mark.parametrize("name", STRICT_FAULTS)
def test_rejudging_a_compatible_run_as_strict_equals_a_strict_live_run(name, tmp_path):
    compatible = live(name, tmp_path / "compatible", "--strictness", "compatible")
    strict = live(name, tmp_path / "strict", "--strictness", "strict")
    proc = check(str(tmp_path / "compatible" / "results.json"), "--strictness", "strict", "--report-dir", str(tmp_path / "rejudged"))
    assert proc.returncode in (0, 1), proc.stderr
    rejudged = json.loads((tmp_path / "rejudged" / "results.json").read_text())
    assert rejudged["strictness"] == "strict"
    # judge() may apply more rules to an exchange than a suite case did: compare on the checks the case ran
    ran = {c["id"]: set(c["checks"]) for c in strict["cases"]}
    want = {c["id"]: findings(c) for c in strict["cases"] if c["exchanges"]}
    got = {c["id"]: findings(c, ran.get(c["id"], set())) for c in rejudged["cases"]}
    assert got == want
    assert {c["id"]: c["verdict"] for c in rejudged["cases"] if c["verdict"] == "FAIL"}.keys() >= {k for k, v in want.items() if any(s == "error" for _, s in v)}
    assert any(want.values()), f"{name}: the strict run found nothing: the comparison would prove nothing"
