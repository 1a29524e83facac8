"""The pytest plugin: options, fixtures, markers, verdicts and xdist-aware result capture.

Suites are ordinary pytest modules (``conformance/suites``) whose tests take the ``case``
fixture (a :class:`CaseContext`). A case sends requests through the one transport, runs named
checks, and ends; its verdict comes from its findings (FAIL on an error-severity finding, WARN on
a warning), or from how it ended (SKIP, UNSUPPORTED, ERROR on a transport failure). Each
verdict is also a pytest outcome, so plain ``pytest`` runs read naturally.

Each worker attaches its case records to the test reports; the controlling process collects
them and writes results.json (and the renderings) once, at the end of the session.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

from conformance import __version__, profiles
from conformance.checks import evaluate, info_of
from conformance.errors import CaseStop, ConformanceError, TransportFailure
from conformance.judge import JudgeContext, applicable, run_check
from conformance.findings import CaseRecord, Finding, Strictness, Verdict, derive_verdict, summarise
from conformance.target import (
    CAPABILITIES,
    DEFAULT_KEY_ENV,
    EXTERNAL_PROFILES,
    RUN_CONFIG_ENV,
    RunConfig,
    Target,
    check_base_url,
    parse_header,
    profile_list,
)
from conformance.exchange import Exchange
from conformance.redact import Redactor
from conformance.transport import Transport

CASE_PROPERTY = "conformance_case"
SUITES_MARK = "conformance/suites/"
EMBEDDED_ENV = "CONFORMANCE_EMBEDDED"  # "url|key" of an embedded server started by the controller


# -- options ------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "conformance: target under test")
    group.addoption("--target-url", help="base URL of the target, e.g. http://127.0.0.1:8000/v1 (default: the embedded reference server)")
    group.addoption("--target-model", help="model for general cases")
    for capability in CAPABILITIES:
        group.addoption(f"--target-model-{capability}", help=f"model for {capability} cases (default: --target-model)")
    group.addoption("--target-api-key-env", default=None, help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV}, then OPENAI_API_KEY)")
    group.addoption("--target-profile", action="append", default=[], help="profile(s) to check against (repeatable or comma separated)")
    group.addoption("--target-header", action="append", default=[], help="extra header sent with every request, 'Name: value'")
    group.addoption("--target-image-url", help="an https image URL the target can fetch, for image-by-URL cases")
    group.addoption("--strictness", choices=[s.value for s in Strictness], default=None, help="compatible (default) or strict")
    group.addoption("--disable-check", action="append", default=[], help="switch a check off by name (repeatable)")
    group.addoption("--conformance-report-dir", default=None, help="where to write results.json and its renderings (default: reports)")
    group.addoption("--no-conformance-report", action="store_true", help="do not write report files")
    group.addoption("--conformance-baseline", default=None, metavar="FILE", help="known deviations (TOML): failures it covers do not fail the session")
    group.addoption("--conformance-fault-matrix", default=None, metavar="FILE", help="internal (conformance selftest): run each case once per named fault that selects it (a JSON list of {name, select})")
    group.addoption("--conformance-progress", default="off", choices=("off", "quiet", "auto", "tty", "plain"),
                    help="live progress instead of pytest's dots: auto (a line in place on a terminal, plain lines in CI), tty, plain, quiet (none), off (pytest's own; default)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance(protocol, feature): a conformance case of a protocol's feature area")
    config.addinivalue_line("markers", "capability(name): the case needs the model configured for this capability")
    _CASES.clear()
    config._conformance_started = (time.time(), time.monotonic())  # type: ignore[attr-defined]


def run_config(config: pytest.Config) -> RunConfig:
    """The run's settings: from the CLI's JSON (environment) or from pytest options."""
    cached = getattr(config, "_conformance_run_config", None)
    if cached is not None:
        return cached
    path = os.environ.get(RUN_CONFIG_ENV)
    if path:
        result = RunConfig.from_json(Path(path).read_text())
    else:
        opt = config.getoption
        url = opt("--target-url")
        target = Target(
            name="embedded" if not url else "target",
            base_url=check_base_url(url, "--target-url") if url else None,
            model=opt("--target-model"),
            models={c: opt(f"--target-model-{c}") for c in CAPABILITIES if opt(f"--target-model-{c}")},
            api_key_env=opt("--target-api-key-env") or DEFAULT_KEY_ENV,
            profiles=[p for value in opt("--target-profile") for p in profile_list(value)],
            headers=dict(parse_header(h) for h in opt("--target-header")),
            image_url=opt("--target-image-url"),
        )
        result = RunConfig(
            targets=[target],
            strictness=Strictness(opt("--strictness") or "compatible"),
            report_dir=opt("--conformance-report-dir") or "reports",
            disable_checks=list(opt("--disable-check")),
            baseline=opt("--conformance-baseline"),
        )
    for target in result.targets:
        if not target.profiles:
            from conformance.reference.app import DEFAULT_PROFILES

            target.profiles = list(DEFAULT_PROFILES) if target.embedded else list(EXTERNAL_PROFILES)
    config._conformance_run_config = result  # type: ignore[attr-defined]
    return result


# -- the session: one target, its transport settings, the embedded server if needed --------------
class Session:
    def __init__(self, config: pytest.Config) -> None:
        self.run = run_config(config)
        self.target = self.run.targets[0]
        self.strictness = self.run.strictness
        self.disabled = set(self.run.disable_checks)
        self._server = None
        if self.target.embedded:
            self._start_embedded()
        self.api_key = self._api_key()
        from conformance.schemas import registry

        self.schemas = registry()

    def _start_embedded(self) -> None:
        from conformance.reference.app import ServerSettings, model_ids, new_api_key
        from conformance.reference.server import EmbeddedServer

        inherited = os.environ.get(EMBEDDED_ENV)
        if inherited:
            url, _, key = inherited.partition("|")
        else:
            key = new_api_key()
            settings = ServerSettings(api_keys=frozenset({key}), profiles=tuple(self.target.profiles))
            self._server = EmbeddedServer(settings).start()
            url = self._server.base_url
        self.target.base_url = url
        self._embedded_key = key
        if not self.target.model:
            openai = profiles.for_protocol(self.target.profiles, "openai")
            default = openai.get("openai", "default_model") if openai else None
            served = model_ids(ServerSettings(api_keys=frozenset(), profiles=tuple(self.target.profiles)))
            self.target.model = default or served[0]
            self.models_from_profiles = True

    def _api_key(self) -> str | None:
        if self.target.embedded or getattr(self, "_embedded_key", None):
            return self._embedded_key
        return self.target.api_key()

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()


@pytest.fixture(scope="session")
def conformance_session(request: pytest.FixtureRequest) -> Iterable[Session]:
    try:
        session = Session(request.config)
    except ConformanceError as exc:
        pytest.exit(f"conformance: {exc}", returncode=exc.exit_code)
    yield session
    session.close()


# -- the per-case context ---------------------------------------------------------------------------
class CaseContext:
    """What a case uses: the target, its profile, the transport, checks and verdict helpers."""

    def __init__(self, session: Session, record: CaseRecord, marker_kwargs: dict[str, Any]) -> None:
        self.session = session
        self.record = record
        self.target = session.target
        self.protocol = record.protocol
        self.strictness = session.strictness
        self.schemas = session.schemas
        self.profile = profiles.for_protocol(self.target.profiles, self.protocol)
        if self.profile is None:
            pytest.skip(f"no selected profile ({', '.join(self.target.profiles)}) covers the {self.protocol} protocol")
        self._exchanges: list[Exchange] = []
        self._judged: set[tuple[str, int]] = set()
        self._judge_context: JudgeContext | None = None
        redactor = Redactor([session.api_key] if session.api_key else [])
        self.redactor = redactor
        self.transport = Transport(
            self.target.base_url or "",
            limits=self.target.limits,
            redactor=redactor,
            extra_headers=self.target.headers,
            on_exchange=self._record_exchange,
        )
        capability = marker_kwargs.get("capability")
        self.model = self.model_for(capability) if capability else self.target.model_for(None)
        if getattr(session, "models_from_profiles", False) and self.rule("default_model"):
            # embedded runs without --model: each protocol talks to its profile's default model
            self.model = self.rule("default_model")

    # -- models and profile values -----------------------------------------------------------------
    def model_for(self, capability: str | None) -> str:
        model = self.target.model_for(capability)
        if not model:
            pytest.skip(f"no model configured{' for ' + capability if capability else ''} (use --model / --model-{capability or 'NAME'})")
        return model

    def rule(self, *keys: str, default: Any = None) -> Any:
        """A value of the profile for this case's protocol."""
        return self.profile.get(self.protocol, *keys, default=default)

    def source(self, *keys: str) -> str:
        """Where the profile's rule for ``keys`` comes from: its table's ``source``, a ``<key>_source``
        sibling, or the source of the profile that set it (the base where the document is silent)."""
        return self.profile.source_of(self.protocol, *keys)

    # -- requests ------------------------------------------------------------------------------------
    def _record_exchange(self, exchange: Exchange) -> int:
        self._exchanges.append(exchange)
        return len(self._exchanges) - 1

    def auth_headers(self, scheme: str | None = "default", key: str | None = None) -> dict[str, str | None]:
        """Credential headers for a scheme: default (the profile's first), bearer, x-api-key, or None."""
        if scheme == "default":
            scheme = (self.rule("auth", default=["bearer"]) or ["bearer"])[0]
        key = key if key is not None else self.session.api_key
        if key and key not in (self.session.api_key,):
            self.redactor.add(key)
        if scheme is None or key is None:
            return {"authorization": None, "x-api-key": None}
        if scheme == "bearer":
            return {"authorization": f"Bearer {key}"}
        if scheme == "x-api-key":
            return {"x-api-key": key}
        raise ValueError(f"unknown auth scheme {scheme!r}")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        auth: str | None = "default",
        api_key: str | None = None,
        headers: dict[str, str | None] | None = None,
        allow_failure: bool = False,
        expect_done: bool = False,
        stream: bool = False,
    ) -> Exchange:
        send = {**self.auth_headers(auth, api_key), **(headers or {})}
        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["json"] = json
        elif content is not None:
            kwargs["content"] = content
            send.setdefault("content-type", "application/json")
        exchange = self.transport.request(method, path, headers=send, expect_done=expect_done, stream=stream, **kwargs)
        if exchange.error and not allow_failure:
            raise TransportFailure(f"{method} {path}: {exchange.error}")
        return exchange

    def post(self, path: str, body: Any, **kwargs: Any) -> Exchange:
        return self.request("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    # -- checks and verdicts -------------------------------------------------------------------------
    def judge_context(self) -> JudgeContext:
        if self._judge_context is None:
            self._judge_context = JudgeContext(
                profiles=list(self.target.profiles), strictness=self.strictness,
                disabled=frozenset(self.session.disabled), _schemas=self.schemas,
            )
        return self._judge_context

    def judge(self, exchange: Exchange) -> list[Finding]:
        """Every applicable rule for this exchange (the same judge() as the proxy and offline
        checks); the case adds only its own expectations with :meth:`check`."""
        context = self.judge_context()
        findings: list[Finding] = []
        for entry, args in applicable(exchange, context):
            key = (entry.name, exchange.index)
            if key in self._judged:
                continue
            self._judged.add(key)
            self.record.checks_run.append(entry.name)
            findings += run_check(entry.check, args, self.strictness, exchange)
        for finding in findings:
            self.record.add(finding)
        return findings

    def check(self, func: Callable[..., Iterable[Any]], *args: Any, **kwargs: Any) -> list[Finding]:
        """Run a named check; its findings join the case's record. A check that judge() already
        applied to the same exchange is not run twice."""
        info = info_of(func)
        if info.name in self.session.disabled:
            return []
        index = _exchange_index(args)
        if index is not None and (info.name, index) in self._judged:
            return []
        self.record.checks_run.append(info.name)
        findings = evaluate(func, *args, strictness=self.strictness, **kwargs)
        for finding in findings:
            self.record.add(finding)
        return findings

    def expect_success(self, exchange: Exchange, feature: str = "the request") -> None:
        """A documented request must succeed. A 429/5xx that outlived the retry policy ends the
        case as ERROR (not a verdict on the target's conformance); anything else not 2xx is a FAIL."""
        from conformance.checks.common import check_success_status
        from conformance.retry import RETRY_STATUSES

        if exchange.status in RETRY_STATUSES:
            self.refused(exchange, feature, required=True)
        self.require(self.check(check_success_status, exchange))

    def refused(self, exchange: Exchange, feature: str, *, required: bool | None = None, what: str | None = None) -> None:
        """Classify a non-2xx answer to a request for ``feature`` (conformance.verdicts): returns when
        it is not a refusal; otherwise ends the case as UNSUPPORTED, ERROR or FAIL. ``required``
        overrides the profile's ``features`` table (default: optional unless the profile says so)."""
        from conformance.checks.errors import check_feature_refused
        from conformance.verdicts import OPTIONAL, REQUIRED, Ending, classify_refusal

        if required is None:
            required = self.feature_requirement(feature) == REQUIRED
        error = exchange.body.get("error") if isinstance(exchange.body, dict) else None
        detail = f"{error.get('code') or error.get('type')}: {str(error.get('message'))[:120]}" if isinstance(error, dict) else ""
        refusal = classify_refusal(exchange.status, what or feature, REQUIRED if required else OPTIONAL, detail, int(exchange.timings.get("attempts", 1)))
        if refusal is None:
            return
        if refusal.ending is Ending.TRANSPORT:
            raise TransportFailure(refusal.reason + (f" ({exchange.retry_note})" if exchange.retry_note else ""))
        if refusal.ending is Ending.UNSUPPORTED:
            self.unsupported(refusal.reason)
        self.check(check_feature_refused, exchange, refusal.reason, refusal.rule)
        raise CaseStop()

    def feature_requirement(self, feature: str) -> str:
        """"required" or "optional": the profile's ``features`` table, by the most specific key
        (``response_format.json_schema`` before ``response_format``)."""
        table = self.rule("features", default={}) or {}
        key = feature
        while key:
            if key in table:
                return str(table[key])
            key = key.rpartition(".")[0]
        return "optional"

    def require(self, findings: list[Finding]) -> None:
        """Stop the case when the given check found an error: nothing after it can be judged."""
        from conformance.findings import Severity

        if any(f.severity is Severity.ERROR for f in findings):
            raise CaseStop()

    def unsupported(self, reason: str) -> None:
        """The target refused an optional feature cleanly: UNSUPPORTED, never a failure."""
        self.record.verdict = Verdict.UNSUPPORTED
        pytest.skip(f"UNSUPPORTED: {reason}")

    def inconclusive(self, reason: str) -> None:
        """The model did not cooperate with a semantic probe: WARN with the reason, and stop."""
        self.record.verdict = Verdict.WARN
        self.record.reason = f"inconclusive: {reason}"
        raise CaseStop()

    def skip(self, reason: str) -> None:
        pytest.skip(reason)

    @property
    def exchanges(self) -> list[Exchange]:
        return self._exchanges

    def close(self) -> None:
        self.transport.close()


def _exchange_index(args: tuple[Any, ...]) -> int | None:
    """The exchange a check's arguments are about: an Exchange, or a pointer into one."""
    for arg in args:
        if isinstance(arg, Exchange):
            return arg.index
        if isinstance(arg, str) and arg.startswith("/exchanges/"):
            part = arg.split("/")[2]
            return int(part) if part.isdigit() else None
    return None


def _case_identity(item: pytest.Item) -> dict[str, str]:
    marker = item.get_closest_marker("conformance")
    kwargs = dict(marker.kwargs) if marker else {}
    nodeid = item.nodeid
    if SUITES_MARK in nodeid:
        nodeid = nodeid.split(SUITES_MARK, 1)[1]
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    title = doc[0].strip() if doc else item.name
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params:
        try:
            title = title.format(**{k: v if isinstance(v, (str, int, float)) else getattr(v, "title", v) for k, v in params.items()})
        except (KeyError, IndexError, ValueError):
            pass
    return {
        "id": nodeid,
        "protocol": kwargs.get("protocol", "openai"),
        "feature": kwargs.get("feature", "general"),
        "title": title,
    }


def _record_for(item: pytest.Item, session_target: str = "") -> CaseRecord:
    record = item.stash.get(_RECORD_KEY, None)
    if record is None:
        ident = _case_identity(item)
        record = CaseRecord(target=session_target, **ident)
        item.stash[_RECORD_KEY] = record
    return record


_RECORD_KEY = pytest.StashKey[CaseRecord]()
FAULT_KEY = pytest.StashKey[str]()  # the named fault a copy of a case runs against (selftest)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fault self-test (--conformance-fault-matrix): each case once per fault that selects it."""
    matrix = config.getoption("--conformance-fault-matrix", None)
    if matrix:
        from conformance.selftest import expand_for_faults

        items[:] = expand_for_faults(items, Path(matrix), FAULT_KEY)
_CONTEXT_KEY = pytest.StashKey[CaseContext]()


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


def _is_case(item: pytest.Item) -> bool:
    return "case" in getattr(item, "fixturenames", ())


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
    if context is not None:
        record.exchanges = [e.to_dict() for e in context.exchanges]
    data = record.to_dict()
    report.user_properties.append((CASE_PROPERTY, json.dumps(data)))
    from conformance import allure_support

    if allure_support.active(item.config):
        allure_support.annotate(data)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    from conformance import progress

    progress.register(session.config, session.config.getoption("--conformance-progress"))
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
            _CASES.append(json.loads(value))


_CASES: list[dict[str, Any]] = []


def build_results(config: pytest.Config, cases: list[dict[str, Any]]) -> dict[str, Any]:
    run = run_config(config)
    started_wall, started = config._conformance_started  # type: ignore[attr-defined]
    targets = [t.public() for t in run.targets[:1]]
    embedded = os.environ.get(EMBEDDED_ENV, "").partition("|")[0]
    for target in targets:
        if target["base_url"] is None:
            target["base_url"] = embedded or "embedded reference server"
    return {
        "schema_version": "1",
        "tool": {"name": "conformance", "version": __version__},
        "started_at": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(time.monotonic() - started, 3),
        "strictness": run.strictness.value,
        "targets": targets,
        "summary": summarise(cases),
        "coverage": _coverage(run, cases),
        "cases": cases,
    }


def _coverage(run: RunConfig, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The coverage tables of the run's profiles (specs/coverage), linked to this run's case ids."""
    from conformance import coverage

    names = [name for target in run.targets[:1] for name in target.profiles]
    return coverage.for_results(names, [c["id"] for c in cases])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not _CASES:
        return
    cases = sorted(_CASES, key=lambda c: c["id"])
    results = build_results(config, cases)
    baseline = run_config(config).baseline
    if baseline:  # known deviations: the session passes unless something outside them fails
        from conformance.report.cli import gate

        if gate(results, baseline) and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.OK
    config._conformance_results = results  # type: ignore[attr-defined]
    if config.getoption("--no-conformance-report"):
        return
    from conformance import report

    out = Path(run_config(config).report_dir)
    # never lose a run: if out cannot be written, results.json goes to a temporary folder (problem says where)
    written, problem = report.write_all_or_fallback(results, out)
    config._conformance_written, config._conformance_report_problem = written, problem  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = getattr(config, "_conformance_results", None)
    if not results:
        return
    s = results["summary"]
    terminalreporter.section("conformance")
    terminalreporter.write_line(
        f"{s['total']} cases: {s['passed']} PASS, {s['failed']} FAIL, {s['warned']} WARN, "
        f"{s['unsupported']} UNSUPPORTED, {s['skipped']} SKIP, {s['errors']} ERROR"
    )
    from conformance.report.cli import baseline_lines

    for line in baseline_lines(results.get("baseline")):
        terminalreporter.write_line(line)
    for path in getattr(config, "_conformance_written", []):
        terminalreporter.write_line(f"wrote {path}")
    problem = getattr(config, "_conformance_report_problem", None)
    if problem and not os.environ.get(RUN_CONFIG_ENV):  # under `conformance run`, the CLI prints it on stderr
        terminalreporter.write_line(f"conformance: error: {problem}")
