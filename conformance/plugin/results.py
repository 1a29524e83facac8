"""The controller's side: results.json from every worker's case records, the baseline gate, the
report files and the terminal summary."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.findings import summarise
from conformance.plugin import CLIENT_OUTCOMES
from conformance.plugin.options import run_config
from conformance.target import EMBEDDED_ENV, RUN_CONFIG_ENV, RunConfig

CASES: list[dict[str, Any]] = []


def build_results(config: pytest.Config, cases: list[dict[str, Any]]) -> dict[str, Any]:
    run = run_config(config)
    started_wall, started = config._conformance_started  # type: ignore[attr-defined]
    targets = [t.public() for t in run.targets[:1]]
    embedded = os.environ.get(EMBEDDED_ENV, "").partition("|")[0]
    for target in targets:
        if target["base_url"] is None:
            target["base_url"] = embedded or "embedded reference server"
    _add_spend(run, cases)
    results = {
        "schema_version": "1",
        "tool": {"name": "conformance", "version": __version__},
        "started_at": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(time.monotonic() - started, 3),
        "strictness": run.strictness.value,
        "targets": targets,
        "summary": summarise(cases),
        "coverage": _coverage(run, cases),
        "cases": cases,
        # the fault self-test judges rules only; the clients are judged by their own fault table
        "client_readiness": [] if config.getoption("--conformance-fault-matrix", None) else _client_readiness(cases),
    }
    for case in cases:  # carried for the readiness matrix only
        case.pop(CLIENT_OUTCOMES, None)
    from conformance.spend import run_spend

    results["spend"] = run_spend(cases, run.targets[0].spend_limits.public(), bool(run.targets[0].prices))
    return results


def _add_spend(run: RunConfig, cases: list[dict[str, Any]]) -> None:
    """Each case's spend (requests, tokens from usage, cost at the target's prices)."""
    from conformance.spend import case_spend

    prices = run.targets[0].prices
    for case in cases:
        case["spend"] = case_spend(case.get("exchanges") or [], prices)


def _client_readiness(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every recorded exchange replayed through the real clients (conformance/clients)."""
    from conformance.clients import readiness

    return readiness(cases)


def _coverage(run: RunConfig, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The coverage tables of the run's profiles (specs/coverage), linked to this run's case ids."""
    from conformance import coverage

    names = [name for target in run.targets[:1] for name in target.profiles]
    return coverage.for_results(names, [c["id"] for c in cases])


def finish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not CASES:
        return
    cases = sorted(CASES, key=lambda c: c["id"])
    results = build_results(config, cases)
    baseline = run_config(config).baseline
    if baseline:  # known deviations: the session passes unless something outside them fails
        from conformance.report.cli import gate

        if gate(results, baseline) and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.OK
    config._conformance_results = results  # type: ignore[attr-defined]
    if config.getoption("--no-conformance-report"):
        return
    from conformance import report

    out = Path(run_config(config).report_dir)
    # never lose a run: if out cannot be written, results.json goes to a temporary folder (problem says where)
    written, problem = report.write_all_or_fallback(results, out)
    config._conformance_written, config._conformance_report_problem = written, problem  # type: ignore[attr-defined]


def terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """The one set of totals, then the failures grouped by rule (root causes, most cases first)
    and where the report is. ``-qq`` (``conformance run -q``): the totals and one line per
    failing rule with its case count."""
    results = getattr(config, "_conformance_results", None)
    if not results:
        return
    from conformance.report.model import error_causes, root_causes

    s = results["summary"]
    quiet = config.getoption("verbose", 0) <= -2
    write = terminalreporter.write_line
    terminalreporter.section("conformance")
    write(
        f"{s['total']} cases: {s['passed']} PASS, {s['failed']} FAIL, {s['warned']} WARN, "
        f"{s['unsupported']} UNSUPPORTED, {s['skipped']} SKIP, {s['errors']} ERROR"
    )
    if results.get("spend") and not quiet:  # -q: the totals and the failing rules only
        from conformance.spend import spend_line

        write(f"spent: {spend_line(results['spend'])}")
    causes = root_causes(results, ("error",))
    errors = error_causes(results)
    if (causes or errors) and not quiet:
        write("failures by rule (fix the first, it hits the most cases):")
    for cause in causes:
        count = f"{cause.count} case{'s' if cause.count != 1 else ''}"
        if quiet:
            write(f"FAIL  {cause.rule}: {count}")
            continue
        write(f"FAIL  {cause.rule} ({count}): {cause.title}", red=True)
        target, case_id = cause.cases[0]
        write(f"      e.g. {case_id}: {_cut(cause.first_message, 200)}")
        write(f"      fix: {cause.hint}")
        if cause.clients:
            write(f"      clients that break on it: {', '.join(cause.clients)}")
    for reason, cases in errors:
        count = f"{len(cases)} case{'s' if len(cases) != 1 else ''}"
        write(f"ERROR {count}: {_cut(reason, 200)}" + ("" if quiet else f" (e.g. {cases[0][1]})"))
    from conformance.report.cli import baseline_lines

    for line in baseline_lines(results.get("baseline")):
        write(line)
    written = list(getattr(config, "_conformance_written", []))
    if not quiet:
        for path in written:
            write(f"wrote {path}")
        html = next((p for p in written if str(p).endswith(".html")), None)
        if html is not None and (causes or errors or s["warned"]):
            write(f"open {html} for every finding with its exchange (root causes first)")
    problem = getattr(config, "_conformance_report_problem", None)
    if problem and not os.environ.get(RUN_CONFIG_ENV):  # under `conformance run`, the CLI prints it on stderr
        write(f"conformance: error: {problem}")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
