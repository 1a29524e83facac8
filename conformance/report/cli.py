"""``conformance report`` (matrix, diff) and the gate around a run: several targets, baseline,
the GitHub step summary.

Everything here reads or writes results.json and renders from it; nothing talks to a target.

Exit codes follow the tool's: ``report diff`` exits 1 when a case regressed, 0 otherwise;
``report baseline`` exits 1 when a failure is outside the baseline, 0 otherwise; ``report matrix``
exits 0; a missing or unreadable input file exits 2 with one line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from conformance.errors import EXIT_FAILURES, EXIT_OK, EXIT_REPORT_FALLBACK, ConfigError
from conformance.report.model import FAILING, ReportInputError

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


# -- the `report` command ----------------------------------------------------------------------
def register(sub: Any) -> None:
    """Add ``report matrix``, ``report diff`` and ``report baseline`` to the CLI's subcommands."""
    report = sub.add_parser("report", help="work on saved results.json files: matrix, diff, baseline")
    report.set_defaults(handler=_report_usage, report_parser=report)
    commands = report.add_subparsers(dest="report_command", metavar="SUBCOMMAND", parser_class=type(report))

    matrix = commands.add_parser("matrix", help="several results files side by side: targets × features")
    matrix.add_argument("results", nargs="+", metavar="RESULTS.json", help="results.json files of the runs to compare")
    matrix.add_argument("-o", "--output", default="matrix.html", metavar="FILE",
                        help="where to write the matrix (default matrix.html; a .md name writes Markdown)")
    matrix.set_defaults(handler=command_matrix)

    diff = commands.add_parser("diff", help="cases whose verdict changed between two runs (exit 1 on a regression)")
    diff.add_argument("old", metavar="OLD.json", help="results.json of the earlier run")
    diff.add_argument("new", metavar="NEW.json", help="results.json of the later run")
    diff.add_argument("--json", action="store_true", help="print the changes as JSON")
    diff.set_defaults(handler=command_diff)

    baseline = commands.add_parser("baseline", help="judge a saved run against a baseline of known deviations (exit 1 on a new failure)")
    baseline.add_argument("results", metavar="RESULTS.json", help="results.json of a run")
    baseline.add_argument("baseline", metavar="KNOWN.toml", help="the baseline file ([[known]] entries)")
    baseline.add_argument("--report-dir", metavar="DIR", help="also write results.json and its renderings, with the baseline outcome, to DIR")
    baseline.set_defaults(handler=command_baseline)


def _report_usage(args: argparse.Namespace) -> int:
    raise ConfigError("report needs a subcommand: matrix, diff or baseline (see 'conformance report --help')")


def _load(path: str) -> dict[str, Any]:
    from conformance.report import load_results

    try:
        return load_results(path)
    except ReportInputError as exc:
        raise ConfigError(str(exc)) from None


def command_matrix(args: argparse.Namespace) -> int:
    from conformance.report import render_matrix_html, render_matrix_markdown

    results = [_load(path) for path in args.results]
    out = Path(args.output)
    render = render_matrix_markdown if out.suffix.lower() in (".md", ".markdown") else render_matrix_html
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(results, args.results), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write: {exc.strerror}") from None
    targets = sum(len(r.get("targets") or [None]) for r in results)
    print(f"wrote {out} ({targets} target{'s' if targets != 1 else ''} from {len(results)} file{'s' if len(results) != 1 else ''})")
    return EXIT_OK


def command_diff(args: argparse.Namespace) -> int:
    from conformance.report import diff_results, render_diff_text

    changes = diff_results(_load(args.old), _load(args.new))
    if args.json:
        print(json.dumps([c.to_dict() for c in changes], indent=2))
    else:
        print(render_diff_text(changes), end="")
    return EXIT_FAILURES if any(c.kind == "regression" for c in changes) else EXIT_OK


def command_baseline(args: argparse.Namespace) -> int:
    from conformance import report

    results = _load(args.results)
    if args.report_dir:
        from conformance.target import check_writable_dir

        check_writable_dir(args.report_dir, "--report-dir")
    ok = gate(results, check_baseline_file(args.baseline))
    for line in baseline_lines(results.get("baseline")):
        print(line)
    if args.report_dir:
        for path in report.write_all(results, Path(args.report_dir)):
            print(f"wrote {path}")
    return EXIT_OK if ok else EXIT_FAILURES


# -- the gate: baseline and step summary -----------------------------------------------------------
def check_baseline_file(path: str | None) -> str | None:
    """Fail early, in one line, on a baseline file that cannot be used."""
    if not path:
        return None
    from conformance.report import load_baseline

    try:
        load_baseline(path)
    except ReportInputError as exc:
        raise ConfigError(str(exc)) from None
    return str(Path(path).resolve())


def gate(results: dict[str, Any], baseline_path: str | None, today: dt.date | None = None) -> bool:
    """Apply the baseline (if any) to ``results`` in place; True when nothing fails outside it."""
    if baseline_path:
        from conformance.report import apply_baseline, load_baseline

        return apply_baseline(results, load_baseline(baseline_path), today).ok
    return not any(case["verdict"] in FAILING for case in results["cases"])


def baseline_lines(outcome: Mapping[str, Any] | None) -> list[str]:
    """The baseline's outcome for the terminal: counts, then new failures, stale and expired entries."""
    if not outcome:
        return []
    new, stale = len(outcome["new"]), len(outcome["stale"])
    if new:
        verdict = f"the run fails: {new} new failure{'s' if new != 1 else ''}"
    else:
        verdict = "the run passes: every failure is a known one" if outcome["expected"] else "the run passes"
    lines = [
        f"baseline {outcome['file']}: {len(outcome['expected'])} expected failure(s), {new} new, "
        f"{stale} stale entr{'y' if stale == 1 else 'ies'}, {len(outcome['expired'])} expired; {verdict}"
    ]
    for item in outcome["new"]:
        lines.append(f"  new failure: {item['case']} ({item['target']}, {item['verdict']})")
    for label, entries in (("stale (now passes, remove it)", outcome["stale"]), ("expired", outcome["expired"])):
        for entry in entries:
            what = ", ".join(f"{key} {entry[key]}" for key in ("case", "check", "target") if entry.get(key))
            lines.append(f"  entry {entry['entry']} {label}: {what}: {entry['reason']}")
    return lines


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
    from conformance.cli import RunOutcome, embedded_server, exit_code
    from conformance.target import RUN_CONFIG_ENV, RunConfig

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
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        for target, folder in zip(run.targets, dirs):
            print(f"== target {target.name} ({target.base_url or 'embedded reference server'})", flush=True)
            one = RunConfig(targets=[target], strictness=run.strictness, report_dir=str(top / folder),
                            disable_checks=list(run.disable_checks))
            config_file = Path(tmp) / f"{folder}.json"
            config_file.write_text(one.to_json())
            os.environ[RUN_CONFIG_ENV] = str(config_file)
            outcome = RunOutcome()
            try:
                with embedded_server(target, list(getattr(args, "fault", []) or [])) if target.embedded else contextlib.nullcontext():
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
    return combined
