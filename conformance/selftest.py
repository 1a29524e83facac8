"""Proving the checks: run the suite against each named fault of the reference server.

For every fault, the cases it selects are run against the embedded server with that fault
injected; the fault passes when every check it names fires and nothing outside its
``expect``/``may_also`` lists fires. Together with the clean run (zero findings) this is the
suite's mutation score, written as a fault × check table by ``conformance selftest``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.reference.faults import FAULTS, Fault


@dataclass
class FaultResult:
    fault: Fault
    fired: set[str]
    missing: set[str]
    unexpected: set[str]
    cases: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and not self.error and bool(self.fault.expect)


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


def _without_client_lane(extra: list[str]) -> list[str]:
    """The suite without the client lane (official SDK clients calling the target): the lane is a
    referee of its own, proven by tests/test_sdk.py; the mutation score is about the named checks."""
    out, selected = list(extra), False
    for i, arg in enumerate(out[:-1]):
        if arg == "-k":
            out[i + 1], selected = f"({out[i + 1]}) and not client_lane", True
    return out if selected else [*out, "-k", "not client_lane"]


def fired_checks(results: dict[str, Any]) -> set[str]:
    from conformance.clients import REFEREE_CHECKS  # real clients as referees: judged by their own fault table

    return {f["check"] for case in results["cases"] for f in case["findings"] if f["severity"] != "info" and f["check"] not in REFEREE_CHECKS}


def run_fault(fault: Fault, workdir: Path | None = None) -> FaultResult:
    with tempfile.TemporaryDirectory(prefix=f"fault-{fault.name}-") as tmp:
        out = Path(workdir or tmp)
        extra = ["--fault", fault.name]
        if fault.select:
            extra += ["-k", fault.select]
        if fault.profiles:
            extra += ["--profile", ",".join(fault.profiles)]
        results, output = run_suite(extra, out)
    if results is None:
        return FaultResult(fault, set(), set(fault.expect), set(), 0, error=output.strip().splitlines()[-1] if output.strip() else "no results")
    fired = fired_checks(results)
    return FaultResult(
        fault,
        fired,
        missing=set(fault.expect) - fired,
        unexpected=fired - set(fault.expect) - set(fault.may_also),
        cases=len(results["cases"]),
    )


def render_table(results: list[FaultResult]) -> str:
    lines = [
        "# Mutation score: faults × checks",
        "",
        f"{sum(r.ok for r in results)} of {len(results)} faults caught by exactly their named checks.",
        "",
        "| fault | protocol | expected checks | fired | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        verdict = "caught" if r.ok else f"NOT OK (missing: {', '.join(sorted(r.missing)) or '-'}; unexpected: {', '.join(sorted(r.unexpected)) or '-'}{'; ' + r.error if r.error else ''})"
        lines.append(f"| `{r.fault.name}` | {r.fault.protocol} | {', '.join(r.fault.expect)} | {', '.join(sorted(r.fired)) or '-'} | {verdict} |")
    return "\n".join(lines) + "\n"


def command_selftest(args) -> int:
    names = args.fault or sorted(FAULTS)
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        from conformance.errors import ConfigError

        raise ConfigError(f"unknown fault '{unknown[0]}' (see 'conformance faults')")
    results = []
    for name in names:
        result = run_fault(FAULTS[name])
        results.append(result)
        print(f"{'caught ' if result.ok else 'MISSED '} {name}", flush=True)
    out = Path(args.report_dir or "reports")
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutation.md").write_text(render_table(results))
    print(f"{sum(r.ok for r in results)}/{len(results)} faults caught; wrote {out / 'mutation.md'}")
    return 0 if all(r.ok for r in results) else 1
