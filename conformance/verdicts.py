"""Verdict derivation, in one place: how a case's findings and the way it ended make its verdict,
and how a refusal of a requested feature is classified.

- Any error-severity finding: FAIL (whatever else happened; the reason never says "inconclusive").
- The case was skipped: SKIP. An optional feature refused cleanly: UNSUPPORTED.
- A transport failure or a 429/5xx that outlived the retry policy: ERROR.
- A case that could not evaluate the response (a bug or a body no rule could read): ERROR.
- A probe the model did not cooperate with: WARN, "inconclusive: <why>".
- Warning findings only: WARN. Nothing: PASS.

Refusals (:func:`classify_refusal`): 429 and 5xx are never refusals (ERROR after retries);
401/403/404 on a valid request are FAIL; a 4xx in the documented error shape is UNSUPPORTED for a
feature the profile marks optional and FAIL for one it documents as required.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from conformance.findings import Finding, Severity, Verdict
from conformance.retry import RETRY_STATUSES


class Ending(str, enum.Enum):
    """How a case ended, besides its findings."""

    COMPLETED = "completed"  # ran to the end, or stopped early on purpose (nothing left to judge)
    SKIPPED = "skipped"
    UNSUPPORTED = "unsupported"
    INCONCLUSIVE = "inconclusive"
    TRANSPORT = "transport"  # the exchange failed (timeout, reset, limit) or 429/5xx after retries
    CRASHED = "crashed"  # the case raised something else


# the reason of a finding softened because the reply ended by the token limit (judge.soften_truncated)
CUT_BY_LIMIT = "inconclusive: cut by the token limit"


def case_verdict(findings: list[Finding], ending: Ending, reason: str = "") -> tuple[Verdict, str]:
    """The verdict of a case and the reason shown with it; the two always agree."""
    if ending is Ending.SKIPPED:
        return Verdict.SKIP, reason
    if any(f.severity is Severity.ERROR for f in findings):
        return Verdict.FAIL, reason if ending is Ending.TRANSPORT else ""
    if ending is Ending.UNSUPPORTED:
        return Verdict.UNSUPPORTED, reason
    if ending is Ending.TRANSPORT:
        return Verdict.ERROR, reason
    if ending is Ending.CRASHED:
        return Verdict.ERROR, f"the case could not evaluate the response: {reason}"
    if ending is Ending.INCONCLUSIVE:
        return Verdict.WARN, reason if reason.startswith("inconclusive: ") else f"inconclusive: {reason}"
    if any(f.severity is Severity.WARNING for f in findings):
        cut = next((f.message for f in findings if f.message.startswith(CUT_BY_LIMIT)), "")
        return Verdict.WARN, cut.split("): ", 1)[0] + ")" if cut else ""
    return Verdict.PASS, ""


REQUIRED, OPTIONAL = "required", "optional"


@dataclass(frozen=True)
class Refusal:
    """What a non-2xx answer to a documented request means for the case."""

    ending: Ending | None  # UNSUPPORTED or TRANSPORT; None when a finding (FAIL) says it
    reason: str
    rule: str | None = None  # the local rule of check_feature_refused to report, if any


def classify_refusal(status: int | None, feature: str, requirement: str, detail: str = "", attempts: int = 1) -> Refusal | None:
    """None when ``status`` is not a refusal (2xx, or no answer at all)."""
    if status is None or 200 <= status < 300:
        return None
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if status in RETRY_STATUSES:
        kind = "rate limited" if status == 429 else "server error"
        return Refusal(Ending.TRANSPORT, f"{feature}: {kind} ({status}){tries}; not a verdict on the feature{': ' + detail if detail else ''}")
    if status in (401, 403):
        return Refusal(None, f"{feature}: a valid, authenticated request was refused with {status}{': ' + detail if detail else ''}", "auth")
    if status == 404:
        return Refusal(None, f"{feature}: a documented request was answered 404{': ' + detail if detail else ''}", "not_found")
    if requirement == REQUIRED:
        return Refusal(None, f"{feature} is documented by the profile but was refused with {status}{': ' + detail if detail else ''}", "documented")
    return Refusal(Ending.UNSUPPORTED, f"{feature} refused with {status}{' (' + detail + ')' if detail else ''}")
