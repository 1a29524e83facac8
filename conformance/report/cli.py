"""``conformance report`` (matrix, diff) and the gate around a run: several targets, baseline,
the GitHub step summary.

Everything here reads or writes results.json and renders from it; nothing talks to a target.

Exit codes follow the tool's: ``report diff`` exits 1 when a case regressed, 0 otherwise;
``report baseline`` exits 1 when a failure is outside the baseline, 0 otherwise; ``report matrix``
exits 0; a missing or unreadable input file exits 2 with one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any, Mapping

from conformance.errors import EXIT_FAILURES, EXIT_OK, ConfigError
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


