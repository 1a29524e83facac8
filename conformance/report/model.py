"""What every renderer shares: verdict order, the protocol × feature matrix, case helpers.

Renderers read results.json as plain dictionaries (see ``specs/schemas/results.schema.json``);
the helpers here are the only place that knows how to rank, group and summarise them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from conformance.findings import SUMMARY_KEYS, VERDICT_RANK


class ReportInputError(Exception):
    """Bad input to the report layer (missing file, invalid JSON, schema violation).

    The message is one line naming the file and the problem, fit to print as is.
    """


class BaselineError(ReportInputError):
    """A baseline file that cannot be used, e.g. ``known.toml: entry 2: missing 'reason'``."""


RANK: dict[str, int] = {verdict.value: rank for verdict, rank in VERDICT_RANK.items()}
VERDICTS: list[str] = sorted(RANK, key=RANK.__getitem__, reverse=True)  # worst first
FAILING = frozenset({"FAIL", "ERROR"})
SUMMARY_KEY: dict[str, str] = {verdict.value: key for verdict, key in SUMMARY_KEYS.items()}
SEVERITY_RANK = {"error": 2, "warning": 1, "info": 0}
SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "set-cookie"}
)
REDACTED = "[REDACTED]"


def worst_verdict(verdicts: Iterable[str]) -> str:
    """The worst of some verdicts (PASS for none)."""
    return max(verdicts, key=RANK.__getitem__, default="PASS")


def counts_text(counts: Mapping[str, int]) -> str:
    """Counts per verdict, worst first, zeros left out: ``FAIL 2 / PASS 10``."""
    return " / ".join(f"{verdict} {counts[verdict]}" for verdict in VERDICTS if counts.get(verdict))


@dataclass(frozen=True)
class MatrixRow:
    """One protocol × feature group of one target, with its count per verdict."""

    target: str
    protocol: str
    feature: str
    counts: Mapping[str, int]

    @property
    def worst(self) -> str:
        return worst_verdict(v for v, n in self.counts.items() if n)

    @property
    def text(self) -> str:
        return counts_text(self.counts)


def feature_matrix(cases: Iterable[Mapping[str, Any]]) -> list[MatrixRow]:
    """Group cases by target, protocol and feature; rows sorted by those keys."""
    groups: dict[tuple[str, str, str], Counter[str]] = {}
    for case in cases:
        key = (case["target"], case["protocol"], case["feature"])
        groups.setdefault(key, Counter())[case["verdict"]] += 1
    return [MatrixRow(*key, counts=dict(groups[key])) for key in sorted(groups)]


def summary_line(summary: Mapping[str, int]) -> str:
    """``12 cases: 9 passed, 1 failed, ...`` in verdict order, worst first."""
    parts = [f"{summary.get(SUMMARY_KEY[v], 0)} {SUMMARY_KEY[v]}" for v in VERDICTS]
    return f"{summary.get('total', 0)} cases: " + ", ".join(parts)


def sort_cases(cases: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Worst verdict first; the original order is kept within a verdict."""
    return sorted(cases, key=lambda case: -RANK[case["verdict"]])


def lead_finding(case: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first finding of the highest severity (the one to headline a failure with)."""
    findings = case.get("findings") or []
    return max(findings, key=lambda f: SEVERITY_RANK.get(f.get("severity"), 0), default=None)


def finding_text(finding: Mapping[str, Any]) -> str:
    """``check_name (class 4): message`` on one line."""
    cls = f" (class {finding['class']})" if finding.get("class") else ""
    return f"{finding['check']}{cls}: {one_line(finding.get('message', ''))}"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def case_slug(case_id: str) -> str:
    """A stable, URL- and id-safe form of a case id (``case-<slug>`` is its HTML id)."""
    return re.sub(r"[^a-z0-9]+", "-", case_id.lower()).strip("-") or "case"


def redact_headers(headers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of headers with secret values replaced (defence in depth: capture redacts too)."""
    if headers is None:
        return None
    return {k: REDACTED if k.lower() in SECRET_HEADERS else v for k, v in headers.items()}


def baselined_reasons(results: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(target, case id) → reason, for the failures a baseline covers (empty without one)."""
    expected = (results.get("baseline") or {}).get("expected", [])
    return {(e["target"], e["case"]): e["reason"] for e in expected}


def target_names(results: Mapping[str, Any]) -> list[str]:
    """Names of the targets in a results file (falling back to the ones cases mention)."""
    names = [t["name"] for t in results.get("targets", [])]
    return names or sorted({case["target"] for case in results.get("cases", [])})


def profiles(results: Mapping[str, Any]) -> list[str]:
    """Every profile named by any target, in order, without duplicates."""
    found: list[str] = []
    for target in results.get("targets", []):
        profile = target.get("profile") or []
        for name in [profile] if isinstance(profile, str) else profile:
            if name not in found:
                found.append(name)
    return found


@dataclass
class RootCause:
    """One rule and every case whose findings break it: a root cause to fix once."""

    rule: str
    check: str
    severity: str  # the worst severity it was reported with
    title: str
    source: str
    hint: str
    first_message: str  # the first evidence line
    cases: list[tuple[str, str]]  # (target, case id), in the order met
    clients: list[str] = field(default_factory=list)  # official clients seen breaking on it (folded referee findings)

    @property
    def count(self) -> int:
        return len(self.cases)


# the official clients as referees: their findings corroborate a case's own rules (conformance.clients)
REFEREE_CHECKS = frozenset({"check_openai_sdk", "check_anthropic_sdk", "check_node_clients", "check_client_call"})


def root_causes(results: Mapping[str, Any], severities: Iterable[str] = ("error", "warning")) -> list[RootCause]:
    """Findings grouped by rule, FAIL-severity rules first, then by how many cases each hits.
    Title and fix hint come from the rules registry (conformance.checks.RULES), the finding's
    own source and check otherwise."""
    from conformance.checks import REGISTRY, RULES, generic_hint, load_all

    load_all()
    wanted = set(severities)
    groups: dict[str, RootCause] = {}
    for case in results.get("cases", []):
        if case.get("verdict") in ("PASS", "SKIP"):
            continue  # info-only findings, or a case that did not run
        findings = [f for f in case.get("findings") or [] if f.get("severity", "error") in wanted]
        own = [f for f in findings if f.get("check") not in REFEREE_CHECKS]
        referees = [f for f in findings if f.get("check") in REFEREE_CHECKS]
        if own:  # the clients that break corroborate the case's own rules: shown with them, not as causes of their own
            clients = sorted({" ".join(str(f.get("message", "")).split()[:2]) for f in referees})
            findings = own
        else:
            clients = []
        for finding in findings:
            severity = finding.get("severity", "error")
            rule_id = finding.get("rule") or str(finding.get("check", "")).removeprefix("check_")
            known = RULES.get(rule_id)
            if known is None and finding.get("check") in REGISTRY:  # a rule id the registry no longer has: its check's main rule
                known = REGISTRY[finding["check"]].rules.get("")
            group = groups.get(rule_id)
            if group is None:
                title = known.title if known else rule_id
                group = groups[rule_id] = RootCause(
                    rule=rule_id, check=finding.get("check", ""), severity=severity, title=title,
                    source=(known.source if known else "") or finding.get("source") or "",
                    hint=(known.hint if known else "") or generic_hint(title),
                    first_message=one_line(finding.get("message", "")), cases=[],
                )
            elif SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(group.severity, 0):
                group.severity, group.first_message = severity, one_line(finding.get("message", ""))
            key = (case.get("target", ""), case["id"])
            if key not in group.cases:
                group.cases.append(key)
            for client in clients:
                if client not in group.clients:
                    group.clients.append(client)
    return sorted(groups.values(), key=lambda g: (-SEVERITY_RANK.get(g.severity, 0), -g.count, g.rule))


def error_causes(results: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """ERROR cases (no finding: the exchange could not be completed) grouped by their reason."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for case in results.get("cases", []):
        if case.get("verdict") == "ERROR":
            groups.setdefault(one_line(case.get("reason") or "error"), []).append((case.get("target", ""), case["id"]))
    return sorted(groups.items(), key=lambda item: -len(item[1]))
