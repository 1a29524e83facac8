"""``conformance bench``: how fast and how lean the suite is, measured side by side.

Four figures, each against a baseline that does the bare minimum of the same work:

a. **suite vs bare replay**: the suite (the pytest invocation ``conformance run`` makes) against a
   served reference server with injected latency, then a bare httpx loop replaying the very
   requests the suite recorded (from its results.json) against the same server: the overhead per
   case and the ratio, at each latency (default 0 and 50 ms);
b. **stream checking throughput**: a synthetic chat completion stream of N events (default
   1,000,000) fed to :class:`conformance.exchange.Recorder` (the SSE parser, redaction) and judged
   by :func:`conformance.judge.judge` (every applicable stream rule), against a raw
   ``json.loads`` of the same event payloads;
c. **workers**: the suite with ``-n 1``, ``-n 4`` and ``-n 8`` against 200 ms latency (speed-up);
d. **peak memory**: the peak RSS of a fresh process recording and judging a 100 MB stream and an
   N-event stream, fed in 64 KiB chunks as the transport does.

Heavy work runs in child processes (the suite, the server, each stream), so one figure does not
disturb another. The bench asserts nothing about time: it prints a table (or ``--json``) and
exits non-zero only when it could not measure. ``--tiny`` runs every section at sizes that take
seconds (CI's smoke test).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from conformance.errors import EXIT_FAILURES, EXIT_OK, ConfigError, ConformanceError

KEY_ENV = "CONFORMANCE_BENCH_KEY"
NO_CASE = "bench_selects_no_case"  # a -k expression no case matches: the run's fixed cost
CHUNK = 64 * 1024

FULL = {"latencies": [0, 50], "workers": [1, 4, 8], "worker_latency": 200, "events": 1_000_000, "stream_mb": 100, "cases": None}
TINY = {"latencies": [0, 5], "workers": [1, 2], "worker_latency": 20, "events": 2_000, "stream_mb": 1, "cases": "test_models or test_basic_stream"}
TARGETS = {
    "overhead_ms_median": "≤ 5 ms per case",
    "ratio_at_50ms": "≤ 1.1× bare replay at 50 ms",
    "stream_ratio": "≤ 4× raw json.loads",
    "speedup_8": "-n 8 ≥ 6× -n 1 at 200 ms",
    "peak_rss_mb": "< 300 MB",
}


class BenchError(ConformanceError):
    """The bench could not measure something (a server that did not start, a crashed run)."""

    exit_code = EXIT_FAILURES


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="measure the suite's own speed and memory (suite vs bare replay, stream checks, workers, peak RSS)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    bench.add_argument("--tiny", action="store_true", help="every section at tiny sizes (seconds; a smoke test)")
    bench.add_argument("--only", metavar="SECTIONS", help="comma separated subset of: replay, stream, workers, memory (default all)")
    bench.add_argument("--latency", metavar="MS,MS", help="latencies for the suite-vs-replay section (default 0,50)")
    bench.add_argument("--workers", metavar="N,N", help="worker counts for the workers section (default 1,4,8)")
    bench.add_argument("--worker-latency", type=float, metavar="MS", help="latency for the workers section (default 200)")
    bench.add_argument("--events", type=int, metavar="N", help="events in the synthetic stream (default 1000000)")
    bench.add_argument("--stream-mb", type=float, metavar="MB", help="size of the large stream for the memory section (default 100)")
    bench.add_argument("-k", dest="cases", metavar="EXPR", help="only these suite cases (pytest -k) in the suite sections")
    bench.set_defaults(handler=command_bench)


SECTIONS = ("replay", "stream", "workers", "memory")


def command_bench(args: argparse.Namespace) -> int:
    sizes = dict(TINY if args.tiny else FULL)
    if args.latency:
        sizes["latencies"] = _numbers(args.latency, "--latency")
    if args.workers:
        sizes["workers"] = [int(n) for n in _numbers(args.workers, "--workers")]
        if any(n < 1 for n in sizes["workers"]):
            raise ConfigError("--workers: each count must be at least 1")
    if args.worker_latency is not None:
        sizes["worker_latency"] = _numbers(str(args.worker_latency), "--worker-latency")[0]
    if args.events is not None:
        if args.events < 2:
            raise ConfigError("--events must be at least 2")
        sizes["events"] = args.events
    if args.stream_mb is not None:
        if not 0 < args.stream_mb <= 10_000:
            raise ConfigError("--stream-mb must be between 0 and 10000")
        sizes["stream_mb"] = args.stream_mb
    if args.cases:
        sizes["cases"] = args.cases
    only = [s.strip() for s in (args.only or ",".join(SECTIONS)).split(",") if s.strip()]
    for name in only:
        if name not in SECTIONS:
            raise ConfigError(f"--only: unknown section '{name}' (choose from {', '.join(SECTIONS)})")
    say = (lambda line: None) if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    results = run(sizes, only, say)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render_table(results))
    return EXIT_OK


def _numbers(text: str, option: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option}: expected comma separated numbers, got '{text}'") from None
    if not values or any(not 0 <= v <= 60_000 for v in values):
        raise ConfigError(f"{option}: expected numbers between 0 and 60000, got '{text}'")
    return values


# -- the whole bench ---------------------------------------------------------------------------------
def run(sizes: dict[str, Any], only: list[str], say: Any = lambda line: None) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine(), "sizes": sizes, "targets": TARGETS}
    if "replay" in only:
        out["suite_vs_replay"] = []
        for latency in sizes["latencies"]:
            say(f"bench: suite vs bare replay at {latency:g} ms latency ...")
            out["suite_vs_replay"].append(suite_vs_replay(latency, sizes["cases"]))
    if "stream" in only:
        say(f"bench: stream checking, {sizes['events']:,} events ...")
        out["stream"] = _child("stream_throughput", sizes["events"])
    if "workers" in only:
        say(f"bench: workers {', '.join(map(str, sizes['workers']))} at {sizes['worker_latency']:g} ms latency ...")
        out["workers"] = workers(sizes["workers"], sizes["worker_latency"], sizes["cases"])
    if "memory" in only:
        out["memory"] = []
        for whole in (False, True):
            how = "limits raised to check it whole" if whole else "default limits"
            say(f"bench: peak RSS, {sizes['stream_mb']:g} MB stream, {how} ...")
            out["memory"].append(_child("peak_rss", "bytes", int(sizes["stream_mb"] * 1024 * 1024), whole))
            say(f"bench: peak RSS, {sizes['events']:,}-event stream, {how} ...")
            out["memory"].append(_child("peak_rss", "events", sizes["events"], whole))
    out["machine"]["load_after"] = _load()
    return out


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_before": _load(),
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# -- a served reference server and the suite against it ---------------------------------------------
@contextlib.contextmanager
def served(latency_ms: float) -> Iterator[tuple[str, str]]:
    """``conformance serve --latency`` in a child process, on a free port: (base URL, key)."""
    import httpx

    key = "sk-bench-" + os.urandom(12).hex()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "conformance", "serve", "--port", str(port), "--latency", f"{latency_ms:g}", "--api-key-env", KEY_ENV]
    proc = subprocess.Popen(cmd, env={**os.environ, KEY_ENV: key}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise BenchError(f"the reference server did not start: {proc.stderr.read().decode(errors='replace').strip()[-300:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("the reference server did not answer within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1", key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_suite(url: str, key: str, report_dir: Path, *, workers: int | None = None, cases: str | None = None) -> tuple[float, dict[str, Any]]:
    """The suite as ``conformance run`` invokes it, against a served reference server (used as the
    embedded one, so every protocol gets its profile's default model): (wall seconds, results)."""
    from conformance.runner import pytest_args
    from conformance.target import EMBEDDED_ENV
    from conformance.target import RUN_CONFIG_ENV

    ns = argparse.Namespace(keyword=cases, markexpr=None, exitfirst=False, workers=workers, alluredir=None, verbose=False, quiet=True)
    # as `conformance run` does it: one referee process for the run (conformance.referee)
    cmd = [sys.executable, "-m", "pytest", *pytest_args(ns), "--conformance-report-dir", str(report_dir), "--conformance-referee", "process"]
    env = {k: v for k, v in os.environ.items() if k != RUN_CONFIG_ENV}
    env[EMBEDDED_ENV] = f"{url}|{key}"
    from conformance.runner import referee_for_run

    started = time.monotonic()
    with referee_for_run():  # started before pytest, as `conformance run` does
        env.update({k: v for k, v in os.environ.items() if k.startswith("CONFORMANCE_REFEREE")})
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    results_file = report_dir / "results.json"
    if cases == NO_CASE and proc.returncode == 5:  # pytest: nothing selected; the startup alone
        return wall, {"cases": []}
    if proc.returncode not in (0, 1) or not results_file.is_file():
        tail = " | ".join(proc.stdout.strip().splitlines()[-3:])
        raise BenchError(f"the suite run failed (exit {proc.returncode}): {tail[-300:]}")
    return wall, json.loads(results_file.read_text())


def replay(results: dict[str, Any], key: str) -> dict[str, float]:
    """Replay every recorded request of a run with one plain httpx client: seconds per case id.
    Redacted credentials are replaced by the server's key (an auth case's deliberately wrong key
    cannot be recovered, so those requests are answered 200 instead of 401)."""
    import httpx
    from conformance.redact import REDACTED

    per_case: dict[str, float] = {}
    with httpx.Client(timeout=60, trust_env=False) as client:
        first = next((e["request"]["url"] for c in results["cases"] for e in c.get("exchanges", [])), None)
        if first:  # open the connection first, as the suite's pooled client has by its first case
            origin = "/".join(first.split("/")[:3])
            client.get(f"{origin}/health")
        for case in results["cases"]:
            spent = 0.0
            for exchange in case.get("exchanges", []):
                request = exchange["request"]
                headers = {}
                for name, value in (request.get("headers") or {}).items():
                    if name.lower() in FRAMING_HEADERS:
                        continue  # httpx frames the body it sends (a recorded length may not match its re-encoding)
                    if value == REDACTED:
                        value = f"Bearer {key}" if name.lower() == "authorization" else key
                    headers[name] = value
                body = request.get("body")
                content = None if body is None else body.encode() if isinstance(body, str) else json.dumps(body).encode()
                started = time.monotonic()
                try:
                    with client.stream(request["method"], request["url"], headers=headers, content=content) as response:
                        for _ in response.iter_raw():
                            pass
                except (httpx.HTTPError, h11_errors()) as exc:
                    raise BenchError(f"the bare replay of case {case['id']} failed: {type(exc).__name__}: {exc}") from None
                spent += time.monotonic() - started
            per_case[case["id"]] = spent
    return per_case


FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})


def h11_errors() -> type[Exception]:
    try:
        from h11 import LocalProtocolError

        return LocalProtocolError
    except ImportError:  # pragma: no cover - httpx brings h11
        return OSError


def suite_vs_replay(latency_ms: float, cases: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="conformance-bench-") as tmp, served(latency_ms) as (url, key):
        startup, _ = run_suite(url, key, Path(tmp) / "none", cases=NO_CASE)
        wall, results = run_suite(url, key, Path(tmp) / "run", cases=cases)
        started = time.monotonic()
        per_case = replay(results, key)
        replay_wall = time.monotonic() - started
    ran = [c for c in results["cases"] if c.get("exchanges")]
    overheads = [(c["duration_s"] - per_case[c["id"]]) * 1000 for c in ran]
    n = len(results["cases"])
    return {
        "latency_ms": latency_ms,
        "cases": n,
        "cases_with_exchanges": len(ran),
        "exchanges": sum(len(c.get("exchanges", [])) for c in results["cases"]),
        "suite_wall_s": round(wall, 3),
        "suite_in_cases_s": round(sum(c.get("duration_s", 0.0) for c in results["cases"]), 3),
        "replay_s": round(replay_wall, 3),
        "ratio": round(wall / replay_wall, 2) if replay_wall else None,
        "startup_s": round(startup, 3),
        "overhead_ms_per_case": round((wall - startup - replay_wall) * 1000 / n, 2) if n else None,
        "overhead_ms_per_case_with_startup": round((wall - replay_wall) * 1000 / n, 2) if n else None,
        "overhead_ms_median": round(statistics.median(overheads), 2) if overheads else None,
    }


def workers(counts: list[int], latency_ms: float, cases: str | None) -> dict[str, Any]:
    runs = []
    with served(latency_ms) as (url, key):
        for count in counts:
            with tempfile.TemporaryDirectory(prefix="conformance-bench-") as tmp:
                wall, results = run_suite(url, key, Path(tmp) / "run", workers=count if count > 1 else None, cases=cases)
            runs.append({"workers": count, "wall_s": round(wall, 3), "cases": len(results["cases"])})
    base = runs[0]["wall_s"] if runs else None
    return {
        "latency_ms": latency_ms,
        "runs": runs,
        "speedup": {str(r["workers"]): round(base / r["wall_s"], 2) for r in runs} if base else {},
    }


# -- streams (each measured in a fresh child process) -----------------------------------------------
def _child(function: str, *args: Any) -> dict[str, Any]:
    code = f"import json, conformance.bench as b; print(json.dumps(b.{function}(*{list(args)!r})))"
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{function} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f'exit {proc.returncode}'}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": "Count."}], "stream": True}
URL = "http://127.0.0.1/v1/chat/completions"
CREATED = int(time.time())


def _event(i: int, last: bool, content: str) -> bytes:
    delta: dict[str, Any] = {"role": "assistant", "content": ""} if i == 0 else {} if last else {"content": content}
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": "stop" if last else None}],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream_chunks(*, events: int | None = None, size: int | None = None) -> Iterator[bytes]:
    """A conformant chat completion stream in 64 KiB chunks: ``events`` events of a short token,
    or events of ~1 KiB content until ``size`` bytes; then ``data: [DONE]``."""
    content = "tok " if events is not None else "x" * 1000
    buf = bytearray()
    sent = 0
    i = 0
    while True:
        last = (events is not None and i == events - 1) or (size is not None and sent + len(buf) >= size)
        buf += _event(i, last, content)
        i += 1
        if last:
            buf += b"data: [DONE]\n\n"
        while len(buf) >= CHUNK or (last and buf):
            piece, buf = bytes(buf[:CHUNK]), buf[CHUNK:]
            sent += len(piece)
            yield piece
        if last:
            return


UNLIMITED = {"max_stream": 1 << 40, "max_events": 1 << 40}  # the whole stream, whatever it costs


def _check(chunks: Iterator[bytes] | list[bytes], whole: bool = False) -> tuple[Any, list[Any], float, float]:
    """Record a stream as the transport does, then judge it: (exchange, findings, record s, judge s).
    With the run's default limits (conformance.exchange: reading stops past max_stream_bytes or
    max_events, and the exchange says so in ``error``), or ``whole``: limits raised to take it all."""
    from conformance.exchange import Exchange, Recorder
    from conformance.judge import JudgeContext, judge
    from conformance.redact import Redactor

    redactor = Redactor(["sk-bench-not-a-real-key-0123456789"])
    started = time.perf_counter()
    ex = Exchange(index=0, method="POST", url=URL, request_headers={"content-type": "application/json"}, request_body=REQUEST, status=200, headers={"content-type": "text/event-stream"})
    recorder = Recorder(ex, redactor, stream=True, expect_done=True, **(UNLIMITED if whole else {}))
    for chunk in chunks:
        if recorder.feed(chunk) == 0 and recorder.limit_error is not None:
            break
    complete = recorder.limit_error is None
    recorder.finish(complete=complete)
    if not complete:
        ex.error, ex.error_kind = recorder.limit_error, "too_large"  # as the transport ends such an exchange
    recorded = time.perf_counter()
    findings = judge(ex, JudgeContext())
    return ex, findings, recorded - started, time.perf_counter() - recorded


def stream_throughput(events: int) -> dict[str, Any]:
    """(b) in a child process: raw json.loads of every payload vs record + judge of the stream."""
    chunks = list(stream_chunks(events=events))
    data = b"".join(chunks)
    payloads = [block[6:] for block in data.split(b"\n\n") if block.startswith(b"data: {")]
    del data
    started = time.perf_counter()
    for payload in payloads:
        json.loads(payload)
    raw = time.perf_counter() - started
    del payloads
    _check([b""])  # imports, schema registry and the judge table: not part of the throughput
    ex, findings, record_s, judge_s = _check(chunks, whole=True)  # every event, as the raw parse above
    total = record_s + judge_s
    return {
        "events": len(ex.events or []),
        "bytes": sum(map(len, chunks)),
        "raw_json_s": round(raw, 3),
        "record_s": round(record_s, 3),
        "judge_s": round(judge_s, 3),
        "check_s": round(total, 3),
        "events_per_s": round(len(ex.events or []) / total) if total else None,
        "ratio": round(total / raw, 2) if raw else None,
        "findings": sorted({f.rule for f in findings}),
    }


def peak_rss(kind: str, amount: int, whole: bool = False) -> dict[str, Any]:
    """(d) in a child process: peak RSS while a stream generated on the fly is recorded and judged,
    with the run's default limits (reading stops at max_stream_bytes / max_events: the figure
    says how much was checked) or ``whole`` (limits raised: what checking all of it costs)."""
    import resource

    _check([b""])  # the baseline: interpreter, imports, schemas, judge table
    base = _rss_mb()
    counted = {"bytes": 0}

    def counting(source: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in source:
            counted["bytes"] += len(chunk)
            yield chunk

    source = stream_chunks(events=amount) if kind == "events" else stream_chunks(size=amount)
    ex, findings, record_s, judge_s = _check(counting(source), whole=whole)
    total = counted["bytes"] + sum(len(c) for c in source)  # the rest of the stream, had reading gone on
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "stream": f"{amount:,} events" if kind == "events" else f"{amount / 1024 / 1024:g} MB",
        "limits": "raised" if whole else "default",
        "bytes": total,
        "checked_bytes": ex.size,
        "events": len(ex.events or []),
        "stopped": ex.error,
        "base_rss_mb": round(base, 1),
        "peak_rss_mb": round(peak, 1),
        "seconds": round(record_s + judge_s, 2),
        "findings": sorted({f.rule for f in findings}),
    }


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the table ---------------------------------------------------------------------------------------
def render_table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"conformance bench on {m['cpus']} CPUs, Python {m['python']}, {m['platform']}; load {m['load_before']} before, {m.get('load_after')} after", ""]
    rows: list[tuple[str, str, str]] = []
    for r in results.get("suite_vs_replay", []):
        at = f"at {r['latency_ms']:g} ms"
        rows.append((f"suite vs bare replay {at}", f"{r['suite_wall_s']:.2f} s vs {r['replay_s']:.2f} s = {r['ratio']}× ({r['cases']} cases, {r['exchanges']} requests)", TARGETS["ratio_at_50ms"] if r["latency_ms"] == 50 else ""))
        rows.append((f"  overhead per case {at}", f"{r['overhead_ms_median']} ms median in the case, {r['overhead_ms_per_case']} ms mean with setup and reports, {r['overhead_ms_per_case_with_startup']} ms with the {r['startup_s']:.1f} s startup too", TARGETS["overhead_ms_median"]))
    s = results.get("stream")
    if s:
        rows.append(("stream checks vs raw json.loads", f"{s['check_s']:.2f} s (record {s['record_s']:.2f} + judge {s['judge_s']:.2f}) vs {s['raw_json_s']:.2f} s = {s['ratio']}×; {s['events']:,} events, {s['bytes'] / 1e6:.0f} MB, {s['events_per_s']:,} events/s", TARGETS["stream_ratio"]))
    w = results.get("workers")
    if w:
        walls = ", ".join(f"-n {r['workers']} {r['wall_s']:.1f} s" for r in w["runs"])
        ups = ", ".join(f"-n {k}: {v}×" for k, v in w["speedup"].items() if k != str(w["runs"][0]["workers"]))
        rows.append((f"workers at {w['latency_ms']:g} ms", f"{walls}; speed-up {ups}", TARGETS["speedup_8"]))
    for r in results.get("memory", []):
        checked = (f"checked whole: {r['bytes'] / 1e6:.0f} MB, {r['events']:,} events" if not r.get("stopped")
                   else f"checked {r['checked_bytes'] / 1e6:.0f} of {r['bytes'] / 1e6:.0f} MB, {r['events']:,} events, then stopped by the limit")
        label = "limits raised to check it whole" if r.get("limits") == "raised" else "default limits"
        rows.append((f"peak RSS, {r['stream']} stream, {label}",
                     f"{r['peak_rss_mb']:.0f} MB (baseline {r['base_rss_mb']:.0f} MB; {checked}; {r['seconds']} s)", TARGETS["peak_rss_mb"]))
    width = max((len(r[0]) for r in rows), default=0)
    value_width = max((len(r[1]) for r in rows), default=0)
    lines += [f"{'measure':{width}}  {'figure':{value_width}}  target", f"{'-' * width}  {'-' * value_width}  ------"]
    lines += [f"{a:{width}}  {b:{value_width}}  {c}" for a, b, c in rows]
    return "\n".join(lines)
