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
    root_causes,
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
    lines = [*_header(results), *_root_causes(results), "", *_matrix(results)]
    baselined = baselined_reasons(results)
    cases = sort_cases(results["cases"])
    for heading, verdicts in (("Failures", FAILING), ("Warnings", {"WARN"})):
        picked = [case for case in cases if case["verdict"] in verdicts]
        if picked:
            lines += ["", f"## {heading} ({len(picked)})", ""]
            lines += [_case_line(case, baselined, bool(results.get("baseline"))) for case in picked]
    if results.get("baseline"):
        lines += ["", *_baseline(results["baseline"])]
    if results.get("client_readiness"):
        lines += ["", *client_readiness_lines(results["client_readiness"])]
    if results.get("spend"):
        lines += ["", *_spend(results["spend"])]
    return "\n".join(lines) + "\n"


def client_readiness_lines(rows: list[Mapping[str, Any]]) -> list[str]:
    """The client-readiness matrix: what each real client made of the run's exchanges."""
    order = {"breaks": 0, "works": 1, "not exercised": 2}
    ranked = sorted(rows, key=lambda r: (order.get(r.get("outcome", ""), 3), r.get("client", ""), r.get("feature", "")))
    cells = [[md(r.get("client", "")), md(r.get("version", "")), md(r.get("feature", "")), f"**{md(r.get('outcome', ''))}**", md(r.get("detail", ""))[:300]]
             for r in ranked]
    return ["## Client readiness", "", *table_lines(["Client", "Version", "Feature", "Outcome", "Detail"], cells)]
def _root_causes(results: Mapping[str, Any]) -> list[str]:
    """Findings grouped by rule, the most cases first: what to fix, once per rule."""
    causes = root_causes(results)
    if not causes:
        return []
    lines = ["", f"## Root causes ({len(causes)} rules)", ""]
    for i, cause in enumerate(causes, 1):
        verdict = "FAIL" if cause.severity == "error" else "WARN"
        shown = ", ".join(code(case_id) for _, case_id in cause.cases[:5]) + (f" and {cause.count - 5} more" if cause.count > 5 else "")
        title = f": {md(cause.title)}" if cause.title != cause.rule else ""
        lines.append(f"{i}. **{verdict}** {code(cause.rule)}: {cause.count} case{'s' if cause.count != 1 else ''}{title}")
        lines.append(f"   - fix: {md(cause.hint)}")
        if cause.clients:
            lines.append(f"   - clients that break on it: {md(', '.join(cause.clients))}")
        if cause.source:
            lines.append(f"   - source: {md(cause.source)}")
        lines.append(f"   - first evidence: {md(cause.first_message[:300])}")
        lines.append(f"   - cases: {shown}")
    return lines


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


def _spend(spend: Mapping[str, Any]) -> list[str]:
    """What the run spent: requests (retries included) and tokens from usage, per feature and in total."""
    from conformance.spend import spend_line

    priced = "cost" in spend
    head = ["Protocol", "Feature", "Requests", "Input tokens", "Output tokens"] + ["Cost"] * priced
    rows = [[md(r["protocol"]), md(r["feature"]), f"{r['requests']:,}", f"{r['input_tokens']:,}", f"{r['output_tokens']:,}"]
            + [_cost(r.get("cost"))] * priced for r in spend.get("by_feature", []) if r["requests"]]
    rows.append(["**total**", "", f"**{spend['requests']:,}**", f"**{spend['input_tokens']:,}**", f"**{spend['output_tokens']:,}**"]
                + [f"**{_cost(spend.get('cost'))}**"] * priced)
    return ["## Spend", "", md(spend_line(spend)), "", *table_lines(head, rows)]


def _cost(value: Any) -> str:
    return "unknown" if value is None else f"{value:.4f}"
