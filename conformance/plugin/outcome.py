"""A case's verdict (conformance.verdicts decides) as a pytest outcome, and its record attached
to the test report so the controller can collect it from every worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.errors import CaseStop, TransportFailure
from conformance.findings import CaseRecord, Verdict
from conformance.plugin import CASE_PROPERTY, CLIENT_OUTCOMES
from conformance.plugin.case import _CONTEXT_KEY


def _judge(record: CaseRecord, call: pytest.CallInfo) -> None:
    """The case's verdict from its findings and how it ended (conformance.verdicts decides)."""
    from conformance.verdicts import Ending, case_verdict

    excinfo = call.excinfo
    preset = record.verdict  # UNSUPPORTED or WARN (inconclusive), set by the case on its way out
    reason = record.reason
    if excinfo is None or excinfo.errisinstance(CaseStop):
        ending = Ending.INCONCLUSIVE if preset is Verdict.WARN else Ending.COMPLETED
    elif excinfo.errisinstance(pytest.skip.Exception):
        reason = str(excinfo.value.msg).removeprefix("UNSUPPORTED: ")
        ending = Ending.UNSUPPORTED if preset is Verdict.UNSUPPORTED else Ending.SKIPPED
    elif excinfo.errisinstance(TransportFailure):
        ending, reason = Ending.TRANSPORT, str(excinfo.value)
    else:
        ending, reason = Ending.CRASHED, f"{excinfo.typename}: {excinfo.value}"
    record.verdict, record.reason = case_verdict(record.findings, ending, reason)


def _set_outcome(item: pytest.Item, report: pytest.TestReport, record: CaseRecord) -> None:
    verdict = record.verdict
    if verdict in (Verdict.FAIL, Verdict.ERROR):
        lines = [f"{verdict.value}: {record.title}"]
        if record.reason:
            lines.append(record.reason)
        lines += [f.line() for f in record.findings]
        report.outcome = "failed"
        report.longrepr = "\n".join(lines)
    elif verdict in (Verdict.SKIP, Verdict.UNSUPPORTED):
        prefix = "UNSUPPORTED: " if verdict is Verdict.UNSUPPORTED else ""
        report.outcome = "skipped"
        path, line, _ = item.location
        report.longrepr = (str(path), (line or 0) + 1, f"{prefix}{record.reason}")
    else:
        report.outcome = "passed"
        report.longrepr = None


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")


def _attach(item: pytest.Item, report: pytest.TestReport, record: CaseRecord) -> None:
    context = item.stash.get(_CONTEXT_KEY, None)
    clients: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if context is not None:
        record.exchanges = [e.to_dict() for e in context.exchanges]
        clients = {str(i): ran for i, e in enumerate(context.exchanges) if (ran := _client_outcomes(e))}
        context.exchanges.clear()  # recorded (bounded): the run does not keep every body to its end
    data = _scrub(record.to_dict(), report)
    carried = {**data, CLIENT_OUTCOMES: _scrub(clients, report)} if clients else data
    report.user_properties.append((CASE_PROPERTY, json.dumps(carried)))
    from conformance import allure_support

    if allure_support.active(item.config):
        allure_support.annotate(data)


def _client_outcomes(exchange: Any) -> dict[str, list[dict[str, Any]]]:
    """What the client referees made of an exchange while the case was judged, per lane ("python",
    "node"; only the lanes that ran on it). The case record carries it to the controller under
    ``_clients`` ({exchange index: lanes}) for the readiness matrix, which then need not replay
    the exchange a second time; it is not written to results.json."""
    ran: dict[str, list[dict[str, Any]]] = {}
    sdk = exchange.__dict__.get("_sdk_outcomes")
    if sdk:
        ran["python"] = [o.to_dict() for items in sdk.values() for o in items]
    node = exchange.__dict__.get("_node_outcomes")
    if node is not None:
        ran["node"] = [o.to_dict() for o in node]
    return ran


# the category each verdict is counted under in pytest's own summary line, so that it agrees with
# the conformance totals (pytest would count a WARN as passed and an ERROR as failed)
CATEGORY = {"PASS": "passed", "FAIL": "failed", "WARN": "warn", "UNSUPPORTED": "unsupported", "SKIP": "skipped", "ERROR": "error"}


def verdict_category(report: pytest.TestReport) -> str | None:
    """The verdict of the case this report carries, as a pytest stats category; None when it carries none."""
    for name, value in getattr(report, "user_properties", ()):
        if name == CASE_PROPERTY:
            try:
                return CATEGORY.get(json.loads(value).get("verdict", ""))
            except ValueError:
                return None
    return None


def _scrub(data: dict[str, Any], report: pytest.TestReport) -> dict[str, Any]:
    """No secret in a case's record nor in what pytest prints for it (reasons and exception
    texts may quote a server's words)."""
    from conformance.plugin.session import SCRUB
    from conformance.redact import Redactor

    redactor = SCRUB[0] or Redactor()
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = redactor.text(str(report.longrepr))
    elif isinstance(report.longrepr, tuple):
        report.longrepr = (*report.longrepr[:2], redactor.text(str(report.longrepr[2])))
    return redactor.obj(data)
