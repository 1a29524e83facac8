"""Proving the tolerances: the suite stays silent on every legal variation of the reference server.

The plan (:func:`plan`) is a handful of runs of the whole suite, each in this one process (one
``pytest.main`` per run, as a multi-target run does):

- every tolerance that combines with the others, all at once, in the compatible reading of the
  whole suite (interactions);
- each tolerance alone, strict, on the cases that exercise it (its ``select``): the strict FAILs
  are exactly the rules it documents (``strict_rules``), each of which does fire;
- each tolerance left out of the combination (a conflict), alone, compatible.

:func:`problems` reads a run's results: in the compatible reading no FAIL, no ERROR and a WARN
only from a rule the active tolerances name as risky; in the strict reading a FAIL only from a
rule they name in ``strict_rules``. ``python -m conformance.reference.tolerance_proof DIR`` runs
the plan and writes ``DIR/proof.json`` (``tests/test_tolerances.py`` runs it in CI).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.reference.tolerances import TOLERANCES, compatible_set


@dataclass
class Run:
    name: str
    tolerances: list[str]
    strictness: str
    select: str = ""
    profiles: list[str] = field(default_factory=list)
    exact: bool = False  # the strict FAILs must be exactly the tolerances' strict_rules (each one fires)


def plan(names: list[str] | None = None) -> list[Run]:
    names = names or sorted(TOLERANCES)
    combined = [n for n in compatible_set() if n in names]
    runs = [Run("combined-compatible", combined, "compatible")]
    for name in names:
        item = TOLERANCES[name]
        if item.alone:
            continue  # proven where it matters (tests/test_tolerances.py: verdicts do not depend on load)
        runs.append(Run(f"{name}-strict", [name], "strict", item.select, list(item.profiles), exact=True))
        if name not in combined or item.profiles:
            runs.append(Run(f"{name}-compatible", [name], "compatible", item.select, list(item.profiles)))
    return runs


def execute(run: Run, out: Path) -> dict[str, Any] | None:
    """One run of the suite against the embedded server with the run's tolerances (in-process)."""
    from conformance.cli import main

    args = ["run", "-q", "--report-dir", str(out), "--strictness", run.strictness]
    for name in run.tolerances:
        args += ["--tolerance", name]
    if run.select:
        args += ["-k", run.select]
    if run.profiles:
        args += ["--profile", ",".join(run.profiles)]
    with contextlib.redirect_stdout(io.StringIO()):
        main(args)
    path = out / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _covered(rule: str, names: list[str], attribute: str) -> bool:
    return any(TOLERANCES[n].covers(rule, getattr(TOLERANCES[n], attribute)) for n in names)


def problems(run: Run, results: dict[str, Any] | None) -> list[str]:
    if results is None:
        return [f"{run.name}: the run wrote no results"]
    out: list[str] = []
    fired: set[str] = set()
    for case in results["cases"]:
        if case["verdict"] == "ERROR" or (case["verdict"] == "FAIL" and not case["findings"]):
            out.append(f"{run.name}: {case['id']} is {case['verdict']}: {case.get('reason')}")
        for finding in case["findings"]:
            rule, severity = finding.get("rule") or finding["check"], finding["severity"]
            where = f"{run.name}: {case['id']}: {severity} {rule}: {finding['message'][:160]}"
            if severity == "info":
                continue
            if run.strictness == "compatible":
                if severity == "error":
                    out.append("FAIL in the compatible reading: " + where)
                elif not _covered(rule, run.tolerances, "risky"):
                    out.append("WARN from a rule no tolerance names as risky: " + where)
            else:
                if severity == "error":
                    fired.add(rule)
                    if not _covered(rule, run.tolerances, "strict_rules"):
                        out.append("strict FAIL not documented: " + where)
                elif not (_covered(rule, run.tolerances, "risky") or _covered(rule, run.tolerances, "strict_rules")):
                    out.append("strict WARN not documented: " + where)
    if run.exact:
        for name in run.tolerances:
            for documented in TOLERANCES[name].strict_rules:
                if not any(r == documented or r.startswith(documented + ".") for r in fired):
                    out.append(f"{run.name}: documented strict rule {documented} did not fire")
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "reports/tolerances")
    names = argv[1:] or None
    report: dict[str, Any] = {"runs": [], "problems": []}
    for run in plan(names):
        started = time.monotonic()
        results = execute(run, out / run.name)
        found = problems(run, results)
        summary = results["summary"] if results else None
        report["runs"].append({**asdict(run), "summary": summary, "duration_s": round(time.monotonic() - started, 2), "problems": found})
        report["problems"] += found
        print(f"{'ok  ' if not found else 'BAD '} {run.name} ({summary['total'] if summary else 0} cases, {time.monotonic() - started:.1f}s)", flush=True)
    (out / "proof.json").write_text(json.dumps(report, indent=1))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
