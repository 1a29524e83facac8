"""The one findings model: severities, verdicts, findings and the per-case record.

Every check in the project produces :class:`Finding` objects; every case collects them in a
:class:`CaseRecord`; the verdict of a case is derived from its findings and outcome by
:func:`derive_verdict`. Renderers (JSON, Markdown, JUnit, HTML) only ever read these records
as dictionaries (see ``specs/schemas/results.schema.json``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    """How bad a finding is. ``error`` makes the case FAIL, ``warning`` makes it WARN."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Verdict(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"  # a contract violation proven from the exchange
    WARN = "WARN"  # legal but risky for real clients, or an inconclusive semantic probe
    UNSUPPORTED = "UNSUPPORTED"  # the target refused an optional feature cleanly
    SKIP = "SKIP"  # not applicable to this profile, or no model configured
    ERROR = "ERROR"  # transport failure: timeout, reset, unreadable body


# Order used when summarising: the worst verdict of a group wins.
VERDICT_RANK = {
    Verdict.PASS: 0,
    Verdict.SKIP: 1,
    Verdict.UNSUPPORTED: 2,
    Verdict.WARN: 3,
    Verdict.ERROR: 4,
    Verdict.FAIL: 5,
}

SUMMARY_KEYS = {
    Verdict.PASS: "passed",
    Verdict.FAIL: "failed",
    Verdict.WARN: "warned",
    Verdict.UNSUPPORTED: "unsupported",
    Verdict.SKIP: "skipped",
    Verdict.ERROR: "errors",
}


class Strictness(str, enum.Enum):
    COMPATIBLE = "compatible"  # what the official SDKs and common clients need
    STRICT = "strict"  # everything the spec and the profile's document say


@dataclass
class Finding:
    """One violated rule, proven from an exchange."""

    check: str
    cls: str | None
    severity: Severity
    message: str
    pointer: str = ""
    source: str = ""
    rule: str = ""  # the rule id (conformance.checks.RULES); the check's own id when it has one rule

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule or self.check.removeprefix("check_"),
            "check": self.check,
            "class": self.cls,
            "severity": self.severity.value,
            "message": self.message,
            "pointer": self.pointer,
            "source": self.source,
        }

    def line(self) -> str:
        cls = f" [class {self.cls}]" if self.cls else ""
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.severity.value}: {self.rule or self.check}{cls}: {self.message}{where}"


@dataclass
class CaseRecord:
    """Everything one case produced: its identity, exchanges, findings and verdict."""

    id: str
    target: str
    protocol: str
    feature: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    verdict: Verdict | None = None
    reason: str = ""  # why a case was skipped, unsupported, inconclusive or errored
    duration_s: float = 0.0
    checks_run: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "protocol": self.protocol,
            "feature": self.feature,
            "title": self.title,
            "verdict": (self.verdict or Verdict.PASS).value,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 4),
            "checks": sorted(set(self.checks_run)),
            "findings": [f.to_dict() for f in self.findings],
            "exchanges": self.exchanges,
        }


def derive_verdict(findings: list[Finding]) -> Verdict:
    """The verdict that findings alone imply (outcomes such as SKIP are set elsewhere)."""
    if any(f.severity is Severity.ERROR for f in findings):
        return Verdict.FAIL
    if any(f.severity is Severity.WARNING for f in findings):
        return Verdict.WARN
    return Verdict.PASS


def summarise(cases: list[dict[str, Any]]) -> dict[str, int]:
    summary = {"total": len(cases)} | {key: 0 for key in SUMMARY_KEYS.values()}
    for case in cases:
        summary[SUMMARY_KEYS[Verdict(case["verdict"])]] += 1
    return summary
