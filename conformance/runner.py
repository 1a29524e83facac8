"""One run: the suites against one or several targets, in-process pytest, and the gate around it
(baseline, several targets with their combined report and matrix, the GitHub step summary).

The CLI resolves and validates the settings, then calls :func:`run`; nothing here parses
arguments, and report/ knows nothing of this module.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from conformance.errors import EXIT_FAILURES, EXIT_OK, EXIT_REPORT_FALLBACK, EXIT_USAGE, ConfigError
from conformance.report.cli import baseline_lines, gate
from conformance.target import EMBEDDED_ENV, RUN_CONFIG_ENV, RunConfig, Target

SUITES_DIR = Path(__file__).resolve().parent / "suites"
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


class RunOutcome:
    """A pytest plugin object for the in-process run: what the session wrote, and any problem doing so."""

    def __init__(self) -> None:
        self.written: list[Path] = []
        self.report_problem: str | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        self.written = list(getattr(config, "_conformance_written", []) or [])
        self.report_problem = getattr(config, "_conformance_report_problem", None)


@contextlib.contextmanager
def embedded_server(target: Target, faults: list[str], tolerances: Sequence[str] = ()) -> Iterator[None]:
    """Start the reference server for an embedded target; expose it to the plugin (and workers)."""
    from conformance.reference.app import DEFAULT_PROFILES, ServerSettings, new_api_key
    from conformance.reference.faults import FAULTS
    from conformance.reference.server import EmbeddedServer

    for fault in faults:
        if fault not in FAULTS:
            raise ConfigError(f"unknown fault '{fault}' (see 'conformance faults')")
    key = new_api_key()
    from conformance.reference.tolerances import check_names

    check_names(tolerances)
    settings = ServerSettings(api_keys=frozenset({key}), profiles=tuple(target.profiles or DEFAULT_PROFILES), faults=frozenset(faults),
                              tolerances=frozenset(tolerances))
    with EmbeddedServer(settings) as server:
        previous = os.environ.get(EMBEDDED_ENV)
        os.environ[EMBEDDED_ENV] = f"{server.base_url}|{key}"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(EMBEDDED_ENV, None)
            else:
                os.environ[EMBEDDED_ENV] = previous


def pytest_args(args: argparse.Namespace) -> list[str]:
    out = [str(SUITES_DIR), "-c", str(SUITES_DIR / "pytest.ini"), "--rootdir", str(SUITES_DIR)]
    if not _plugin_registered():
        out += ["-p", "conformance.pytest_plugin"]
    if args.keyword:
        out += ["-k", args.keyword]
    if args.markexpr:
        out += ["-m", args.markexpr]
    if args.exitfirst:
        out.append("-x")
    if args.workers:
        # loadgroup: the client-lane cases (xdist_group "client_lane") share one worker, so only that
        # worker imports the SDKs; every other case is distributed one by one as with --dist load
        out += ["-n", str(args.workers), "--dist", "loadgroup"]
    if args.alluredir:
        out += ["--alluredir", args.alluredir]
    out += ["-v"] if args.verbose else ["-q"]
    if args.quiet:
        out += ["-q", "--no-header", "-p", "no:warnings"]
    if args.verbose:
        out += ["-o", "console_output_style=count", "-rfE"]
    else:  # a progress line (conformance/progress.py) instead of pytest's dots
        # failures are printed grouped by rule by the conformance summary, not one block per case
        out += ["--conformance-progress", "quiet" if args.quiet else "auto", "-o", "console_output_style=classic", "-rN", "--tb=no"]
    return out


def _plugin_registered() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "conformance.pytest_plugin" for ep in entry_points(group="pytest11"))


def run(run: RunConfig, args: argparse.Namespace) -> int:
    """One run of the suites (in-process pytest) against the run's target(s); the exit code."""
    import pytest

    if len(run.targets) > 1:
        return run_many(run, args, pytest_args(args))
    target = run.targets[0]
    outcome = RunOutcome()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp, referee_for_run():
        config_file = Path(tmp) / "run.json"
        config_file.write_text(run.to_json())
        os.environ[RUN_CONFIG_ENV] = str(config_file)
        try:
            with embedded_server(target, args.fault, getattr(args, "tolerance", []) or []) if target.embedded else contextlib.nullcontext():
                code = pytest.main(pytest_args(args), plugins=[outcome])
        finally:
            os.environ.pop(RUN_CONFIG_ENV, None)
    if outcome.report_problem:  # the report dir failed at the end: say where results.json went
        print(f"conformance: error: {outcome.report_problem}", file=sys.stderr)
        return EXIT_REPORT_FALLBACK
    append_step_summary(run.report_dir)
    return exit_code(int(code), args)


@contextlib.contextmanager
def referee_for_run() -> Iterator[None]:
    """The run's referee process (conformance.referee), started before pytest so that it imports
    the clients while pytest starts, and shared by every session of the run (several targets)."""
    from conformance import referee

    handle = None if os.environ.get(referee.REFEREE_ENV) else referee.start()
    try:
        yield
    finally:
        referee.stop(handle)


def exit_code(code: int, args: argparse.Namespace) -> int:
    if code in (0, 1, 3):
        return code
    if code == 5:
        raise ConfigError(f"no case matched the selection ({' '.join(filter(None, [args.keyword and '-k ' + args.keyword, args.markexpr and '-m ' + args.markexpr]))})")
    return EXIT_USAGE


def append_step_summary(report_dir: str | Path) -> None:
    """Append summary.md to $GITHUB_STEP_SUMMARY when it is set (GitHub Actions)."""
    target = os.environ.get(STEP_SUMMARY_ENV)
    summary = Path(report_dir) / "summary.md"
    if not target or not summary.is_file():
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(summary.read_text(encoding="utf-8") + "\n")
    except OSError as exc:
        raise ConfigError(f"${STEP_SUMMARY_ENV} ({target}): cannot append the summary: {exc.strerror}") from None


# -- several targets in one run ---------------------------------------------------------------------
def _dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "target"


def run_many(run: Any, args: argparse.Namespace, pytest_args: Sequence[str]) -> int:
    """Run each target as its own pytest session into <report_dir>/<target>/, then write the
    combined results.json, index.html (and the other renderings) and matrix.html at the top."""
    import pytest

    from conformance import report

    names = [t.name for t in run.targets]
    dirs = [_dir_name(n) for n in names]
    for i, name in enumerate(names):
        if names.index(name) != i or dirs.index(dirs[i]) != i:
            raise ConfigError(f"two targets are named '{name}' (or alike): give each [[targets]] entry a distinct name")
    if getattr(args, "fault", None) and not all(t.embedded for t in run.targets):
        raise ConfigError("--fault applies to the embedded reference server only")
    top = Path(run.report_dir)
    started_wall, started = time.time(), time.monotonic()
    per_target: list[dict[str, Any]] = []
    codes: list[int] = []
    problems: list[str] = []  # report folders that could not be written (results.json went elsewhere)
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp, referee_for_run():
        for target, folder in zip(run.targets, dirs):
            print(f"== target {target.name} ({target.base_url or 'embedded reference server'})", flush=True)
            one = RunConfig(targets=[target], strictness=run.strictness, report_dir=str(top / folder),
                            disable_checks=list(run.disable_checks), interface=getattr(run, "interface", "cli"),
                            deadline_s=run.deadline_s, deadline_at=run.deadline_at, breaker=run.breaker)
            config_file = Path(tmp) / f"{folder}.json"
            config_file.write_text(one.to_json())
            os.environ[RUN_CONFIG_ENV] = str(config_file)
            outcome = RunOutcome()
            try:
                with embedded_server(target, list(getattr(args, "fault", []) or []), list(getattr(args, "tolerance", []) or [])) if target.embedded else contextlib.nullcontext():
                    code = int(pytest.main(list(pytest_args), plugins=[outcome]))
            finally:
                os.environ.pop(RUN_CONFIG_ENV, None)
            if outcome.report_problem:
                problems.append(outcome.report_problem)
                if not outcome.written:  # saved nowhere: nothing to combine
                    print(f"conformance: error: {outcome.report_problem}", file=sys.stderr)
                    return EXIT_REPORT_FALLBACK
            if code not in (0, 1):
                return exit_code(code, args)
            codes.append(code)
            per_target.append(report.load_results(outcome.written[0] if outcome.written else top / folder / "results.json"))
    combined = combine(per_target, started_wall, time.monotonic() - started)
    ok = gate(combined, getattr(run, "baseline", None))
    written, problem = report.write_all_or_fallback(combined, top)
    problems += [problem] if problem else []
    matrix = top / "matrix.html"
    try:
        matrix.write_text(report.render_matrix_html(per_target, [f"{d}/results.json" for d in dirs]), encoding="utf-8")
        written.append(matrix)
    except OSError:
        pass  # the combined results.json (written or saved elsewhere) holds everything the matrix shows
    print("== all targets")
    from conformance.report.model import summary_line

    for name, results in zip(names, per_target):
        print(f"{name}: {summary_line(results['summary'])}")
    if combined.get("spend"):
        from conformance.spend import spend_line

        print(f"spent, all targets: {spend_line(combined['spend'])}")
    for line in baseline_lines(combined.get("baseline")):
        print(line)
    for path in written:
        print(f"wrote {path}")
    for line in problems:
        print(f"conformance: error: {line}", file=sys.stderr)
    if problems:
        return EXIT_REPORT_FALLBACK
    append_step_summary(top)
    return EXIT_OK if ok else EXIT_FAILURES


def combine(per_target: Sequence[Mapping[str, Any]], started_wall: float, duration_s: float) -> dict[str, Any]:
    """One results dict holding every target's cases (the per-target files stay as they are)."""
    from conformance.findings import summarise

    cases = [case for results in per_target for case in results["cases"]]
    coverage: list[Any] = []
    for results in per_target:
        for block in results.get("coverage") or []:
            if block not in coverage:
                coverage.append(block)
    first = per_target[0]
    combined: dict[str, Any] = {
        "schema_version": first["schema_version"],
        "tool": first["tool"],
        "started_at": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(duration_s, 3),
        "targets": [t for results in per_target for t in results.get("targets", [])],
        "summary": summarise(cases),
        "cases": cases,
    }
    if "strictness" in first:
        combined["strictness"] = first["strictness"]
    if coverage:
        combined["coverage"] = coverage
    if any("spend" in results for results in per_target):  # budgets are per target: each target's own file shows its own
        from conformance.spend import run_spend

        combined["spend"] = run_spend(cases, None, any("cost" in (results.get("spend") or {}) for results in per_target))
    return combined
