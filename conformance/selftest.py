"""Proving the rules: run the suite against each named fault of the reference server.

Every fault names the rule ids that must fire (``expect``) and those that may fire as a direct
consequence (``may_also``). A fault is caught when each expected rule fires in the cases the
fault selects, and no other rule fires in them. Together with the clean run (zero findings) this
is the suite's mutation score, written as a fault × rule table by ``conformance selftest``.

The faults run as one fault matrix per profile set: one pytest session collects the suite once
and runs each case once per fault that selects it, the fault sent in the ``x-conformance-fault``
header of that copy's requests (``--conformance-fault-matrix``), against one embedded reference
server per worker. That replaced one ``conformance run`` subprocess per fault.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from conformance.reference.faults import FAULTS, Fault

FAULT_SEPARATOR = " @fault:"  # a case copy's id: "<case id> @fault:<fault name>"


@dataclass
class FaultResult:
    fault: Fault
    fired: set[str]  # rule ids that fired (warnings included, info excluded) in the fault's cases
    missing: set[str]
    unexpected: set[str]
    cases: int
    error: str = ""
    where: dict[str, list[str]] = field(default_factory=dict)  # rule id -> the case ids where it fired

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and not self.error and bool(self.fault.expect)


# -- the matrix session (inside pytest) -----------------------------------------------------------------
def expand_for_faults(items: list[Any], matrix_file: Path, stash_key: Any) -> list[Any]:
    """A copy of each case item per fault whose ``select`` (a ``-k`` expression) matches it; each
    copy is stashed with its fault. Items that are not cases are dropped."""
    import pytest
    from _pytest.mark import KeywordMatcher
    from _pytest.mark.expression import Expression

    entries = json.loads(matrix_file.read_text())
    compiled = [(e["name"], Expression.compile(e["select"]) if e.get("select") else None) for e in entries]
    out = []
    for item in items:
        if "case" not in getattr(item, "fixturenames", ()) or item.get_closest_marker("client_lane"):
            continue  # not a case, or a client-lane case (its requests come from an SDK, without the fault header)
        matcher = KeywordMatcher.from_item(item)
        for name, expression in compiled:
            if expression is not None and not expression.evaluate(matcher):
                continue
            copy = pytest.Function.from_parent(
                item.parent,
                name=f"{item.name}{FAULT_SEPARATOR}{name}",
                callspec=getattr(item, "callspec", None),
                callobj=item.obj,
                fixtureinfo=item._fixtureinfo,
                keywords={k: v for k, v in item.keywords.items()},
                originalname=item.originalname,
            )
            copy.stash[stash_key] = name
            out.append(copy)
    return out


# -- running it ---------------------------------------------------------------------------------------
def run_suite(extra: list[str], report_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """Run ``conformance run`` in a subprocess; return its results and its output."""
    cmd = [sys.executable, "-m", "conformance", "run", "-q", "--report-dir", str(report_dir), *_without_client_lane(extra)]
    # the child run must not inherit the settings of a surrounding run (ours, or pytest-xdist's)
    env = {k: v for k, v in os.environ.items() if k not in ("CONFORMANCE_RUN_CONFIG", "CONFORMANCE_EMBEDDED") and not k.startswith("PYTEST_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    path = report_dir / "results.json"
    output = proc.stdout + proc.stderr
    if not path.is_file():
        return None, output
    return json.loads(path.read_text()), output


def _pytest_command(profiles: tuple[str, ...], matrix_file: Path, report_dir: Path, workers: int | None) -> list[str]:
    from conformance.runner import SUITES_DIR, _plugin_registered

    cmd = [sys.executable, "-m", "pytest", str(SUITES_DIR), "-c", str(SUITES_DIR / "pytest.ini"), "--rootdir", str(SUITES_DIR),
           "-q", "--no-header", "-p", "no:warnings", "-rN",
           "--conformance-fault-matrix", str(matrix_file), "--conformance-report-dir", str(report_dir)]
    if not _plugin_registered():
        cmd += ["-p", "conformance.pytest_plugin"]
    from conformance.clients import REFEREE_CHECKS  # real clients as referees have their own fault table: not replayed here

    for check in sorted(REFEREE_CHECKS):
        cmd += ["--disable-check", check]
    for profile in profiles:
        cmd += ["--target-profile", profile]
    if workers:
        cmd += ["-n", str(workers)]
    return cmd


def run_matrix(faults: Iterable[Fault], workers: int | None = None) -> dict[str, FaultResult]:
    """Run every given fault; one pytest session per profile set. Returns fault name -> result."""
    groups: dict[tuple[str, ...], list[Fault]] = defaultdict(list)
    for item in faults:
        groups[item.profiles].append(item)
    results: dict[str, FaultResult] = {}
    for profiles, members in groups.items():
        results.update(_run_group(profiles, members, workers))
    return results


def _run_group(profiles: tuple[str, ...], members: list[Fault], workers: int | None) -> dict[str, FaultResult]:
    with tempfile.TemporaryDirectory(prefix="conformance-faults-") as tmp:
        out = Path(tmp)
        matrix = out / "matrix.json"
        matrix.write_text(json.dumps([{"name": f.name, "select": f.select} for f in members]))
        # the child run must not inherit the settings of a surrounding run (ours, or pytest-xdist's)
        env = {k: v for k, v in os.environ.items() if k not in ("CONFORMANCE_RUN_CONFIG", "CONFORMANCE_EMBEDDED") and not k.startswith("PYTEST_")}
        proc = subprocess.run(_pytest_command(profiles, matrix, out / "report", workers), capture_output=True, text=True, env=env, timeout=1800)
        path = out / "report" / "results.json"
        if not path.is_file():
            lines = (proc.stdout + proc.stderr).strip().splitlines()
            error = lines[-1] if lines else f"no results (exit {proc.returncode})"
            return {f.name: FaultResult(f, set(), set(f.expect), set(), 0, error=error) for f in members}
        data = json.loads(path.read_text())
    by_fault: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in data["cases"]:
        _, sep, name = case["id"].rpartition(FAULT_SEPARATOR)
        if sep:
            by_fault[name].append(case)
    return {f.name: judge_fault(f, by_fault.get(f.name, [])) for f in members}


def _without_client_lane(extra: list[str]) -> list[str]:
    """The suite without the client lane (official SDK clients calling the target): the lane is a
    referee of its own, proven by tests/test_sdk.py; the mutation score is about the named checks."""
    out, selected = list(extra), False
    for i, arg in enumerate(out[:-1]):
        if arg == "-k":
            out[i + 1], selected = f"({out[i + 1]}) and not client_lane", True
    return out if selected else [*out, "-k", "not client_lane"]


def judge_fault(fault: Fault, cases: list[dict[str, Any]]) -> FaultResult:
    """Did exactly the fault's rules fire in its cases?"""
    from conformance.clients import REFEREE_CHECKS  # real clients as referees: judged by their own fault table

    where: dict[str, list[str]] = defaultdict(list)
    allowed = set(fault.expect) | set(fault.may_also)
    for case in cases:
        for finding in case["findings"]:
            if finding["severity"] != "info" and finding["check"] not in REFEREE_CHECKS:
                rule = finding.get("rule") or finding["check"].removeprefix("check_")
                where[rule].append(case["id"].rpartition(FAULT_SEPARATOR)[0])
                if finding["check"] in fault.may_also:  # a check name in may_also allows any of its rules
                    allowed.add(rule)
    fired = set(where)
    error = "" if cases else f"the selection {fault.select!r} matched no case"
    return FaultResult(fault, fired, missing=set(fault.expect) - fired, unexpected=fired - allowed,
                       cases=len(cases), error=error, where=dict(where))


def fired_checks(results: dict[str, Any]) -> set[str]:
    """The checks (not rules) that fired in a run, the client referees left out (their own fault table judges them)."""
    from conformance.clients import REFEREE_CHECKS

    return {f["check"] for case in results["cases"] for f in case["findings"] if f["severity"] != "info" and f["check"] not in REFEREE_CHECKS}


def run_fault(fault: Fault) -> FaultResult:
    return run_matrix([fault])[fault.name]


# -- reports ------------------------------------------------------------------------------------------
def render_table(results: list[FaultResult]) -> str:
    lines = [
        "# Mutation score: faults × rules",
        "",
        f"{sum(r.ok for r in results)} of {len(results)} faults caught by exactly their named rules.",
        "",
        "| fault | protocol | expected rules | fired | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        verdict = "caught" if r.ok else f"NOT OK (missing: {', '.join(sorted(r.missing)) or '-'}; unexpected: {', '.join(sorted(r.unexpected)) or '-'}{'; ' + r.error if r.error else ''})"
        lines.append(f"| `{r.fault.name}` | {r.fault.protocol} | {', '.join(r.fault.expect)} | {', '.join(sorted(r.fired)) or '-'} | {verdict} |")
    lines += ["", "## Rules × faults", "", "| rule | proven by (fault: a case where it fired) |", "|---|---|"]
    from conformance.reference.faults import coverage, exemption

    by_name = {r.fault.name: r for r in results}
    for rid, names in coverage().items():
        proofs = [f"`{n}`: {by_name[n].where[rid][0]}" for n in names if n in by_name and by_name[n].ok and rid in by_name[n].where]
        if not proofs:
            proofs = [f"not proven in this run ({', '.join(names)})" if names else f"no fault needed: {exemption(rid)}" if exemption(rid) else "NO FAULT"]
        lines.append(f"| `{rid}` | {'; '.join(proofs)} |")
    return "\n".join(lines) + "\n"


def describe(result: FaultResult) -> str:
    """One paragraph on a fault that was not caught exactly (for test failures)."""
    parts = [f"{result.fault.name}:"]
    if result.error:
        parts.append(result.error)
    if result.missing:
        parts.append(f"expected rules did not fire: {sorted(result.missing)}")
    if result.unexpected:
        parts.append("rules fired that the fault does not name: " + ", ".join(f"{r} (in {result.where[r][0]})" for r in sorted(result.unexpected)))
    parts.append(f"[{result.cases} cases; fired: {sorted(result.fired)}]")
    return " ".join(parts)


def command_selftest(args) -> int:
    names = args.fault or sorted(FAULTS)
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        from conformance.errors import ConfigError

        raise ConfigError(f"unknown fault '{unknown[0]}' (see 'conformance faults')")
    print(f"running {len(names)} fault(s)…", flush=True)
    outcome = run_matrix([FAULTS[n] for n in names], workers=getattr(args, "workers", None))
    results = [outcome[n] for n in names]
    for result in results:
        print(f"{'caught ' if result.ok else 'MISSED '} {result.fault.name}" + ("" if result.ok else "  " + describe(result)), flush=True)
    out = Path(args.report_dir or "reports")
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutation.md").write_text(render_table(results))
    print(f"{sum(r.ok for r in results)}/{len(results)} faults caught; wrote {out / 'mutation.md'}")
    return 0 if all(r.ok for r in results) else 1
