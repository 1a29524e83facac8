"""Markdown summary, fit for ``$GITHUB_STEP_SUMMARY`` (which renders inline HTML, so escape it)."""

from __future__ import annotations

import re
from typing import Any, Mapping

from conformance.report.model import (
    FAILING,
    baselined_reasons,
    feature_matrix,
    finding_text,
    lead_finding,
    one_line,
    profiles,
    sort_cases,
    summary_line,
)

_SPECIAL = re.compile(r"([\\`*&\[\]<>|])")  # what could open markup, a link, HTML or a cell


def md(text: Any) -> str:
    """Plain text made safe for a Markdown line or table cell."""
    return _SPECIAL.sub(r"\\\1", one_line(str(text)))


def code(text: Any) -> str:
    return "`" + one_line(str(text)).replace("`", "'") + "`"


def render_markdown(results: Mapping[str, Any]) -> str:
    lines = [*_header(results), "", *_matrix(results), *_clients(results)]
    baselined = baselined_reasons(results)
    cases = sort_cases(results["cases"])
    for heading, verdicts in (("Failures", FAILING), ("Warnings", {"WARN"})):
        picked = [case for case in cases if case["verdict"] in verdicts]
        if picked:
            lines += ["", f"## {heading} ({len(picked)})", ""]
            lines += [_case_line(case, baselined, bool(results.get("baseline"))) for case in picked]
    if results.get("baseline"):
        lines += ["", *_baseline(results["baseline"])]
    return "\n".join(lines) + "\n"


def _header(results: Mapping[str, Any]) -> list[str]:
    targets = ", ".join(
        f"{md(t['name'])} ({code(t['base_url'])})" if t.get("base_url") else md(t["name"])
        for t in results.get("targets", [])
    )
    facts = [
        f"**Targets:** {targets or 'none'}",
        f"**Profiles:** {md(', '.join(profiles(results))) or 'none'}",
        f"**Strictness:** {md(results.get('strictness', 'compatible'))}",
        f"**Tool:** {md(results['tool']['name'])} {md(results['tool']['version'])}",
        f"**Started:** {md(results['started_at'])}",
        f"**Duration:** {results['duration_s']:.1f} s",
    ]
    return ["# Conformance report", "", " · ".join(facts), "", f"**Totals:** {summary_line(results['summary'])}"]


def _matrix(results: Mapping[str, Any]) -> list[str]:
    rows = feature_matrix(results["cases"])
    if not rows:
        return ["No cases ran."]
    several = len({row.target for row in rows}) > 1
    head = ["Target"] * several + ["Protocol", "Feature", "Result", "Counts"]
    cells = [[md(row.target)] * several + [md(row.protocol), md(row.feature), f"**{row.worst}**", row.text]
             for row in rows]
    return ["## Feature matrix", "", *table_lines(head, cells)]


def _clients(results: Mapping[str, Any]) -> list[str]:
    """The client-readiness matrix: official client × feature → works / breaks / not exercised."""
    clients = results.get("clients") or {}
    rows = clients.get("rows") or []
    if not rows:
        return []
    cells = []
    for row in rows:
        result = {"works": "works", "breaks": "**breaks**"}.get(row["result"], "not exercised")
        detail = md(row.get("detail", "")) if row["result"] == "breaks" else ""
        if detail and row.get("cases"):
            detail += " (" + ", ".join(code(c) for c in row["cases"][:3]) + ")"
        cells.append([md(f"{row['client']} {row['version']}"), code(row["feature"]), result, detail])
    return ["", "## Client readiness", "", *table_lines(["Client", "Feature", "Result", "Detail"], cells)]


def table_lines(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (cells already escaped)."""
    return ["| " + " | ".join(row) + " |" for row in [head, ["---"] * len(head), *rows]]


def _case_line(case: Mapping[str, Any], baselined: Mapping[tuple[str, str], str], has_baseline: bool) -> str:
    line = f"- **{case['verdict']}** {md(case['title'])} — {code(case['id'])}"
    finding = lead_finding(case)
    if finding:
        line += f": {md(finding_text(finding))}"
    elif case.get("reason"):
        line += f": {md(case['reason'])}"
    reason = baselined.get((case["target"], case["id"]))
    if reason is not None:
        line += f" — *baselined: {md(reason)}*"
    elif has_baseline and case["verdict"] in FAILING:
        line += " — **new failure** (not in the baseline)"
    return line


def _baseline(outcome: Mapping[str, Any]) -> list[str]:
    lines = [
        f"## Baseline ({md(outcome['file'])})",
        "",
        f"{len(outcome['expected'])} expected failures, {len(outcome['new'])} new failures, "
        f"{len(outcome['stale'])} stale entries, {len(outcome['expired'])} expired entries.",
    ]
    for title, entries, note in (
        ("Stale entries (the failure they excuse no longer happens)", outcome["stale"], "now passes"),
        ("Expired entries (no longer applied)", outcome["expired"], "expired"),
    ):
        if entries:
            lines += ["", f"### {title}", ""]
            lines += [f"- entry {e['entry']}: {_entry_target(e)} — {note}: {md(e['reason'])}" for e in entries]
    return lines


def _entry_target(entry: Mapping[str, Any]) -> str:
    parts = [f"{key} {code(entry[key])}" for key in ("case", "check", "target") if entry.get(key)]
    if entry.get("expires"):
        parts.append(f"expires {entry['expires']}")
    return ", ".join(parts)
