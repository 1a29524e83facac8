"""The pytest plugin (entry point ``conformance``): hooks and fixtures only; the work is in
:mod:`conformance.plugin` (options, session, case context, outcomes, results).

Suites are ordinary pytest modules (``conformance/suites``) whose tests take the ``case``
fixture (a :class:`~conformance.plugin.case.CaseContext`). A case sends requests through the one
transport, has judge() apply every rule to each exchange, adds its own expectations, and ends;
its verdict comes from its findings and how it ended (conformance.verdicts). Each verdict is also a
pytest outcome, so plain ``pytest`` runs read naturally. Each worker attaches its case records to
the test reports; the controlling process collects them and writes results.json (and the
renderings) once, at the end of the session.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable

import pytest

from conformance.errors import ConformanceError
from conformance.findings import Verdict
from conformance.plugin import CASE_PROPERTY
from conformance.plugin.case import _CONTEXT_KEY, CaseContext, _is_case, _record_for
from conformance.plugin.options import add_options, run_config
from conformance.plugin.outcome import _attach, _judge, _set_outcome, _skip_reason, verdict_category
from conformance.plugin.results import CASES, build_results, finish, terminal_summary
from conformance.plugin.session import Session, close_ledger, close_referee, open_ledger, open_referee, prewarm_client_lane
from conformance.target import EMBEDDED_ENV, RUN_CONFIG_ENV  # noqa: F401 - EMBEDDED_ENV kept for callers of the old location

__all__ = ["CaseContext", "Session", "build_results", "run_config"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance(protocol, feature): a conformance case of a protocol's feature area")
    config.addinivalue_line("markers", "capability(name): the case needs the model configured for this capability")
    config.addinivalue_line("markers", "client_lane: the case calls the target through an official SDK client (conformance/suites/clients)")
    CASES.clear()
    config._conformance_started = (time.time(), time.monotonic())  # type: ignore[attr-defined]
    open_ledger(config)
    open_referee(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    close_referee(config)
    close_ledger(config)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Cases of a protocol no selected profile covers are out of scope: deselected, not SKIP, so
    that the totals, the report and the matrix show only what was in scope."""
    from conformance.plugin.case import out_of_scope

    try:
        run = run_config(config)
    except ConformanceError:
        return  # reported when the session starts
    keep, drop = [], []
    for item in items:
        (drop if _is_case(item) and out_of_scope(item, run.targets[0].profiles) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    matrix = config.getoption("--conformance-fault-matrix", None)
    if matrix:  # the fault self-test: each case once per fault that selects it
        from pathlib import Path

        from conformance.selftest import expand_for_faults

        items[:] = expand_for_faults(items, Path(matrix), FAULT_KEY)


FAULT_KEY = pytest.StashKey[str]()  # the named fault a copy of a case runs against (conformance selftest)


@pytest.fixture(scope="session")
def conformance_session(request: pytest.FixtureRequest) -> Iterable[Session]:
    try:
        session = Session(request.config)
    except ConformanceError as exc:
        pytest.exit(f"conformance: {exc}", returncode=exc.exit_code)
    yield session
    session.close()


@pytest.fixture
def case(request: pytest.FixtureRequest, conformance_session: Session) -> Iterable[CaseContext]:
    item = request.node
    record = _record_for(item, conformance_session.target.name)
    record.target = conformance_session.target.name
    marker = item.get_closest_marker("capability")
    kwargs = {"capability": marker.args[0]} if marker else {}
    context = CaseContext(conformance_session, record, kwargs)
    fault = item.stash.get(FAULT_KEY, None)
    if fault:  # the fault self-test: this copy of the case runs against one named fault
        from conformance.reference.faults import FAULT_HEADER

        context.transport.extra_headers[FAULT_HEADER] = fault
    item.stash[_CONTEXT_KEY] = context
    yield context
    context.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    prewarm_client_lane(session)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if not _is_case(item):
        return report
    if report.when == "setup" and report.skipped:
        record = _record_for(item)
        record.verdict = Verdict.SKIP
        record.reason = _skip_reason(report)
        _attach(item, report, record)
    elif report.when == "setup" and report.failed:
        record = _record_for(item)
        record.verdict = Verdict.ERROR
        record.reason = f"the case could not start: {call.excinfo.typename if call.excinfo else ''}: {call.excinfo.value if call.excinfo else ''}"
        _attach(item, report, record)
    elif report.when == "call":
        record = _record_for(item)
        record.duration_s = call.duration
        _judge(record, call)
        _set_outcome(item, report, record)
        _attach(item, report, record)
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A case is counted under its verdict (``3 warn``, ``1 unsupported``, ``1 error``), so pytest's
    summary line agrees with the conformance totals."""
    category = verdict_category(report)
    if category is None:
        return None
    letter = {"passed": ".", "failed": "F", "warn": "W", "unsupported": "u", "skipped": "s", "error": "E"}[category]
    return category, letter, category.upper()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    from conformance import progress

    progress.register(session.config, session.config.getoption("--conformance-progress"))
    if os.environ.get(RUN_CONFIG_ENV):  # under `conformance run`: its totals are the only ones printed
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.summary_stats = lambda: None
    if not hasattr(session.config, "workerinput") and not os.environ.get(RUN_CONFIG_ENV):  # plain pytest: the key before any case
        from conformance.target import missing_key_error

        try:
            problem = missing_key_error(run_config(session.config).targets[0], "pytest")
        except ConformanceError as exc:
            raise pytest.UsageError(str(exc)) from None
        if problem:
            raise pytest.UsageError(problem)
    baseline = session.config.getoption("--conformance-baseline")
    if baseline and not hasattr(session.config, "workerinput"):  # plain pytest: check it before running
        from conformance.report.cli import check_baseline_file

        try:
            check_baseline_file(baseline)
        except ConformanceError as exc:
            raise pytest.UsageError(str(exc)) from None


# -- collection of results (controller side) --------------------------------------------------------
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in getattr(report, "user_properties", ()):
        if name == CASE_PROPERTY:
            CASES.append(json.loads(value))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    finish(session)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    terminal_summary(terminalreporter, config)
