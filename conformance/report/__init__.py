"""The report layer: everything is rendered from results.json, the one source of truth.

Public API (flat)::

    load_results(path) -> dict                  read + validate (ReportInputError on bad input)
    validate_results(results, source) -> None   validate a dict against the results schema
    write_all(results, out_dir) -> [Path]       results.json, summary.md, junit.xml, index.html
    write_all_or_fallback(results, out_dir) -> ([Path], problem or None)
                                                write_all; if out_dir cannot be written, results.json
                                                goes to a new temporary folder, never raises OSError
    render_markdown / render_junit / render_html (results) -> str
    build_matrix / render_matrix_html / render_matrix_markdown (results_list, sources=None)
    diff_results(old, new) -> [Change];  render_diff_text(changes) -> str
    load_baseline(path) -> Baseline;  apply_baseline(results, baseline, today) -> BaselineOutcome

Errors: ReportInputError (one-line message naming the file), and its subclass BaselineError.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from conformance.report.baseline import Baseline, BaselineEntry, BaselineOutcome, apply_baseline, load_baseline
from conformance.report.diff import Change, diff_results, render_diff_text
from conformance.report.html import render_html
from conformance.report.junit import render_junit
from conformance.report.markdown import render_markdown
from conformance.report.matrix import build_matrix, render_matrix_html, render_matrix_markdown
from conformance.report.model import (
    VERDICTS,
    BaselineError,
    MatrixRow,
    ReportInputError,
    case_slug,
    feature_matrix,
    redact_headers,
    worst_verdict,
)

__all__ = [
    "Baseline", "BaselineEntry", "BaselineError", "BaselineOutcome", "Change", "MatrixRow",
    "ReportInputError", "VERDICTS", "apply_baseline", "build_matrix", "case_slug", "diff_results",
    "feature_matrix", "load_baseline", "load_results", "redact_headers", "render_diff_text",
    "render_html", "render_junit", "render_markdown", "render_matrix_html", "render_matrix_markdown",
    "results_schema", "validate_results", "worst_verdict", "write_all", "write_all_or_fallback",
]

_SCHEMA_CANDIDATES = (
    Path(__file__).resolve().parents[1] / "_specs" / "schemas" / "results.schema.json",  # installed wheel
    Path(__file__).resolve().parents[2] / "specs" / "schemas" / "results.schema.json",  # source checkout
)


@cache
def results_schema() -> dict[str, Any]:
    """The JSON Schema of results.json (specs/schemas/results.schema.json)."""
    for path in _SCHEMA_CANDIDATES:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise FileNotFoundError("results.schema.json not found in " + " or ".join(map(str, _SCHEMA_CANDIDATES)))


def validate_results(results: Any, source: str = "results") -> None:
    """Raise ReportInputError (one line, naming ``source``) unless ``results`` fits the schema."""
    validator = jsonschema.Draft202012Validator(results_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(results))
    if error is not None:
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        message = " ".join(error.message.split())
        if len(message) > 200:
            message = message[:197] + "..."
        raise ReportInputError(f"{source}: not a valid results file: at {where}: {message}")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json and validate it; any problem raises a one-line ReportInputError."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ReportInputError(f"{name}: is a directory, expected a results.json file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{name}: cannot read: {exc}") from None
    try:
        results = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{name}: invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    validate_results(results, name)
    return results


def write_all(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Validate ``results`` and write results.json, summary.md, junit.xml and index.html."""
    validate_results(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = _redacted(results)
    outputs = {
        "results.json": json.dumps(results, indent=2, ensure_ascii=False) + "\n",
        "summary.md": render_markdown(results),
        "junit.xml": render_junit(results),
        "index.html": render_html(results),
    }
    paths = []
    for name, text in outputs.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def write_all_or_fallback(results: dict[str, Any], out_dir: Path) -> tuple[list[Path], str | None]:
    """:func:`write_all`, and when ``out_dir`` cannot be written (a file in the way, the folder
    removed, the disk full), results.json alone into a new folder under the system's temporary
    folder (else the home or current folder) instead. Returns the paths written and, after a
    fallback, one line saying what failed and where results.json went. Never raises OSError."""
    out_dir = Path(out_dir)
    try:
        return write_all(results, out_dir), None
    except OSError as exc:
        reason = "a file is in the way" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror or str(exc)
        failure = f"could not write the report to {out_dir}/ ({reason})"
    with contextlib.suppress(OSError):  # a partial or stale results.json there is not this run's
        (out_dir / "results.json").unlink()
    text = json.dumps(_redacted(results), indent=2, ensure_ascii=False) + "\n"
    last: OSError | None = None
    for base in (tempfile.gettempdir(), Path.home(), Path.cwd()):
        folder = None
        try:
            folder = Path(tempfile.mkdtemp(prefix="conformance-results-", dir=base))
            path = folder / "results.json"
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            last = exc
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        return [path], f"{failure}; results.json saved to {path} instead"
    return [], f"{failure}, nor to a temporary folder ({last.strerror if last else 'unknown error'}): the results of this run are lost"


def _redacted(results: dict[str, Any]) -> dict[str, Any]:
    """A copy whose exchange headers carry no secret values (defence in depth)."""
    cases = []
    for case in results["cases"]:
        exchanges = []
        for exchange in case.get("exchanges", []):
            exchange = dict(exchange)
            for side in ("request", "response"):
                if isinstance(exchange.get(side), dict) and exchange[side].get("headers") is not None:
                    exchange[side] = {**exchange[side], "headers": redact_headers(exchange[side]["headers"])}
            exchanges.append(exchange)
        cases.append({**case, "exchanges": exchanges})
    return {**results, "cases": cases}
