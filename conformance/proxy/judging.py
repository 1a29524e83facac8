"""Judging relayed exchanges, away from the relay: one worker process per proxy.

The relay (the proxy's event loop) only collects the bytes it forwards; each completed exchange
is shipped as a :class:`Recording` to a single worker process which turns it into an
:class:`~conformance.exchange.Exchange` as a capture file's entry is (``capture.exchange_of``, through
``exchange.record``, i.e. the one :class:`~conformance.exchange.Recorder`, redacted with the
request's own credentials as secrets),
judges it with :func:`conformance.judge.judge`, keeps one case per exchange and writes
results.json every N exchanges or S seconds, and every report at the end. A separate process,
not a thread: judging is CPU work that would otherwise hold the GIL and delay relayed chunks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from conformance.findings import SUMMARY_KEYS, Verdict

# Headers whose values are credentials: forwarded, never recorded.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key")
# A long-running proxy keeps every case, but the full exchange only of the most recent ones and of
# the first case where each rule fired (the evidence); older ones keep their request line and status.
KEEP_RECENT_EXCHANGES = 500
# Query parameters that carry credentials in some APIs (?key=...).
CREDENTIAL_PARAMS = ("key", "api_key", "api-key", "apikey", "access_token", "token")


@dataclass
class Recording:
    """What the relay saw of one exchange, as raw as it was forwarded (credentials included:
    it only travels to the worker process in memory and is redacted there before anything is kept)."""

    seq: int
    method: str
    url: str  # the upstream URL the request went to
    request_headers: list[tuple[str, str]]
    request_body: bytes
    started_at: float  # wall clock
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # the response body as relayed (still content-encoded, if it was)
    truncated: bool = False  # more than the recording limit: relayed in full, recorded in part
    error: str | None = None
    error_kind: str | None = None  # connect | timeout | read | client_disconnected | proxy
    timings: dict[str, float] = field(default_factory=dict)


def secrets_of(recording: Recording) -> list[str]:
    """The credentials this request carried (header values, and the token after 'Bearer ')."""
    found: list[str] = []
    for name, value in recording.request_headers:
        if name.lower() in CREDENTIAL_HEADERS and value:
            found.append(value)
            scheme, _, token = value.partition(" ")
            if token.strip():
                found.append(token.strip())
    for name, value in parse_qsl(urlsplit(recording.url).query, keep_blank_values=False):
        if name.lower() in CREDENTIAL_PARAMS and value:
            found.append(value)
    return found


@dataclass(frozen=True)
class WorkerConfig:
    profiles: tuple[str, ...]
    strictness: str
    disabled: frozenset[str]
    report_dir: str
    upstream: str
    write_every: int = 10
    write_seconds: float = 2.0


# -- the worker process ------------------------------------------------------------------------------
class _State:
    def __init__(self, config: WorkerConfig) -> None:
        from conformance.findings import Strictness
        from conformance.judge import JudgeContext

        self.config = config
        self.context = JudgeContext(profiles=list(config.profiles), strictness=Strictness(config.strictness), disabled=config.disabled)
        self.cases: dict[int, dict[str, Any]] = {}
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.unwritten = 0
        self.last_write = time.monotonic()
        self.evidence: set[int] = set()  # cases kept in full as the first evidence of a rule
        self.rules_seen: set[str] = set()

    def keep(self, seq: int, case: dict[str, Any]) -> None:
        self.cases[seq] = case
        new_rules = {f["rule"] for f in case["findings"]} - self.rules_seen
        if new_rules:
            self.rules_seen |= new_rules
            self.evidence.add(seq)
        old = seq - KEEP_RECENT_EXCHANGES
        if old in self.cases and old not in self.evidence:
            self.cases[old]["exchanges"] = [_stub(x) for x in self.cases[old]["exchanges"]]


def _stub(exchange: dict[str, Any]) -> dict[str, Any]:
    request = exchange.get("request") or {}
    response = exchange.get("response") or {}
    return {"request": {"method": request.get("method", ""), "url": request.get("url", "")},
            "response": {"status": response.get("status")}, "kept": False}


_STATE: _State | None = None


def worker_init(config: WorkerConfig) -> None:
    """The worker ignores SIGINT/SIGTERM: the proxy stops it after the final reports are written."""
    global _STATE
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _STATE = _State(config)
    from conformance.judge import table

    table()  # import every check once, up front


def judge_recording(recording: Recording) -> dict[str, Any]:
    """Judge one exchange; returns a short summary of its case for the live line."""
    state = _state()
    case = case_for(recording, state.context)
    state.keep(recording.seq, case)
    state.unwritten += 1
    if state.unwritten >= state.config.write_every or time.monotonic() - state.last_write >= state.config.write_seconds:
        _write_results(state)
    rules = sorted({f["rule"] for f in case["findings"] if f["severity"] in ("error", "warning")})
    return {"seq": recording.seq, "verdict": case["verdict"], "title": case["title"], "rules": rules}


def flush() -> None:
    state = _state()
    if state.unwritten:
        _write_results(state)


def finish() -> list[str]:
    """The final reports (results.json, summary.md, junit.xml, index.html); their paths."""
    from conformance import report

    state = _state()
    paths = report.write_all(results_of(state), Path(state.config.report_dir))
    state.unwritten = 0
    return [str(p) for p in paths]


def _state() -> _State:
    if _STATE is None:
        raise RuntimeError("the judging worker was not initialised")
    return _STATE


def results_of(state: _State) -> dict[str, Any]:
    from conformance import __version__
    from conformance.findings import summarise

    cases = [state.cases[k] for k in sorted(state.cases)]
    return {
        "schema_version": "1",
        "tool": {"name": "conformance", "version": __version__},
        "started_at": dt.datetime.fromtimestamp(state.started_wall, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(time.monotonic() - state.started, 3),
        "strictness": state.config.strictness,
        "mode": "proxy",
        "targets": [{"name": "upstream", "base_url": state.config.upstream, "profile": list(state.config.profiles)}],
        "summary": summarise(cases),
        "cases": cases,
    }


def _write_results(state: _State) -> None:
    """results.json only (the other reports are written at exit), atomically."""
    out = Path(state.config.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".results.json.partial"
    tmp.write_text(json.dumps(results_of(state), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / "results.json")
    state.unwritten = 0
    state.last_write = time.monotonic()


# -- one exchange, one case --------------------------------------------------------------------------
def decoded_body(recording: Recording) -> bytes:
    """The response body as the client reads it: content-decoded (gzip, deflate, br, zstd as httpx
    supports them). Raises ValueError when it cannot be decoded."""
    encodings = [e.strip().lower() for k, v in recording.response_headers if k.lower() == "content-encoding" for e in v.split(",")]
    encodings = [e for e in encodings if e not in ("", "identity")]
    if not encodings:
        return recording.body
    import httpx

    unknown = [e for e in encodings if e not in _decodable()]
    if unknown:  # httpx would pass these through undecoded: judging the bytes would be a false FAIL
        raise ValueError(f"the response body is {', '.join(unknown)}-encoded, which the proxy cannot decode; not judged")

    try:
        return httpx.Response(200, headers=recording.response_headers, content=recording.body).read()
    except httpx.DecodingError as exc:
        raise ValueError(f"the response body could not be decoded ({', '.join(encodings)}): {type(exc).__name__}; not judged") from None


def _decodable() -> set[str]:
    found = {"gzip", "deflate"}
    for encoding, module in (("br", "brotli"), ("br", "brotlicffi"), ("zstd", "zstandard")):
        try:
            __import__(module)
            found.add(encoding)
        except ImportError:
            pass
    return found


def case_for(recording: Recording, context: Any) -> dict[str, Any]:
    """One results.json case for one relayed exchange (see specs/schemas/results.schema.json)."""
    from conformance.capture import Entry, exchange_of
    from conformance.judge import applicable, facts_of, judge
    from conformance.redact import Redactor

    redactor = Redactor(secrets_of(recording))
    reason = recording.error or ""
    try:
        body = decoded_body(recording) if not recording.error else recording.body
    except ValueError as exc:
        body, reason = recording.body, str(exc)
    # recorded the way a capture file's entry is (no error on the entry: the relay's own is set below)
    entry = Entry(label=f"proxy#{recording.seq}", method=recording.method, url=recording.url, request_headers=recording.request_headers,
                  request_body=recording.request_body, status=recording.status, headers=recording.response_headers, body=body)
    exchange = exchange_of(entry, redactor)
    if reason or exchange.error_kind != "too_large":  # else: record() stopped at a memory limit, and says so
        exchange.error, exchange.error_kind = (redactor.text(reason) or None), recording.error_kind
    else:
        reason = f"not judged: {exchange.error}"
    exchange.timings = dict(recording.timings)
    facts = facts_of(exchange, context.paths())
    findings = []
    checks: list[str] = []
    if recording.error_kind == "client_disconnected":
        verdict, reason = Verdict.SKIP, "the client disconnected before the response was complete; not judged"
    elif recording.truncated:
        verdict, reason = Verdict.ERROR, "the response was larger than the recording limit: relayed in full, not judged"
    elif reason:
        verdict = Verdict.ERROR
    else:
        from conformance.findings import derive_verdict

        checks = [entry.name for entry, _ in applicable(exchange, context, facts)]
        findings = judge(exchange, context)
        verdict = derive_verdict(findings)
    path = urlsplit(exchange.url).path or "/"
    request = exchange.request_body if isinstance(exchange.request_body, dict) else {}
    model = request.get("model") if isinstance(request.get("model"), str) else None
    asked = ", ".join(filter(None, [model, "stream" if facts.stream else ""]))
    status = recording.status if recording.status is not None else "no response"
    return {
        "id": f"proxy/{recording.seq:05d} {recording.method} {path}",
        "target": "upstream",
        "protocol": facts.protocol or "http",
        "feature": _feature(facts),
        "title": f"{recording.method} {path}{f' ({asked})' if asked else ''} → {status}",
        "verdict": verdict.value,
        "reason": redactor.text(reason),
        "duration_s": round(recording.timings.get("total_s", 0.0), 4),
        "checks": sorted(set(checks)),
        "findings": [f.to_dict() for f in findings],
        "exchanges": [exchange.to_dict()],
    }


def _feature(facts: Any) -> str:
    from conformance.judge import MODEL, MODELS

    if facts.endpoint in (MODELS, MODEL):
        return "models"
    if facts.error_status:
        return "errors"
    if facts.stream:
        return "streaming"
    if facts.asked("tools"):
        return "tools"
    return "basic" if facts.protocol else "other"


# -- the proxy's side --------------------------------------------------------------------------------
class Judging:
    """The proxy's handle on its judging worker: submit recordings, keep the live summary, and
    write the final reports. Never blocks the relay: ``submit`` only queues."""

    def __init__(self, config: WorkerConfig, *, live: Callable[[str], None] | None = None) -> None:
        self.config = config
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=worker_init, initargs=(config,))
        self._lock = threading.Lock()
        self.counts = {key: 0 for key in SUMMARY_KEYS.values()}
        self.total = 0
        self.pending = 0
        self.last = ""
        self.problems: list[str] = []
        self._live = live
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="proxy-results-flush", daemon=True)
        self._flusher.start()
        self._pool.submit(flush)  # start the worker now, not while the first stream is relayed

    def submit(self, recording: Recording) -> None:
        with self._lock:
            self.pending += 1
        try:
            future = self._pool.submit(judge_recording, recording)
        except RuntimeError as exc:  # pool shut down or broken
            self._problem(f"could not judge exchange {recording.seq}: {type(exc).__name__}")
            with self._lock:
                self.pending -= 1
            return
        future.add_done_callback(self._done)

    def _done(self, future: Future) -> None:
        with self._lock:
            self.pending -= 1
        try:
            case = future.result()
        except Exception as exc:  # noqa: BLE001 - one exchange's failure must not stop the proxy
            self._problem(f"could not judge an exchange: {type(exc).__name__}")
            return
        with self._lock:
            self.total += 1
            self.counts[SUMMARY_KEYS[Verdict(case["verdict"])]] += 1
            rules = f" ({', '.join(case['rules'][:3])}{', …' if len(case['rules']) > 3 else ''})" if case["rules"] else ""
            self.last = f"{case['title']} {case['verdict']}{rules}"
            line = self.summary_line()
        if self._live is not None:
            self._live(line)

    def _problem(self, message: str) -> None:
        with self._lock:
            self.problems.append(message)
        print(f"conformance proxy: {message}", file=sys.stderr, flush=True)

    def summary_line(self) -> str:
        c = self.counts
        head = (f"proxy: {self.total} exchange{'s' if self.total != 1 else ''}: {c['passed']} PASS, {c['failed']} FAIL, "
                f"{c['warned']} WARN, {c['errors']} ERROR, {c['skipped']} SKIP")
        return f"{head} | last: {self.last}" if self.last else head

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.config.write_seconds):
            try:
                self._pool.submit(flush)
            except RuntimeError:
                return

    def close(self, timeout: float = 120.0) -> list[str]:
        """Judge what is queued, write every report, stop the worker; the written paths."""
        self._stop.set()
        try:
            paths = self._pool.submit(finish).result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            self._problem(f"could not write the reports: {type(exc).__name__}: {str(exc)[:200]}")
            paths = []
        self._pool.shutdown(wait=True, cancel_futures=True)
        return paths
