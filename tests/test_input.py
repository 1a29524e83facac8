"""Bad input is refused up front (one line, exit 2, before any request), the preflight tells an
unreachable target from a broken one and from something that is not an LLM API, and a run whose
report folder cannot be written still leaves its results.json somewhere it names (issue 19)."""

from __future__ import annotations

import functools
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conformance.errors import EXIT_NOT_AN_API, EXIT_REPORT_FALLBACK, EXIT_UNREACHABLE, EXIT_USAGE
from conformance.exchange import Exchange
from conformance.preflight import judge_answer, not_an_api
from conformance.report import load_results, write_all_or_fallback
from conformance.transport import Limits

SECRET = "sk-input-test-5e1f0c9a7b3d2e4f6a8c"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m conformance ...` in a clean environment (as tests/test_end_to_end.py runs it)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("conformance: error: ")
    return lines[0]


class Server:
    """A raw TCP server (one request per connection) that counts the requests it gets."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(10)
                try:
                    data = conn.recv(65536)
                    if not data:  # a connection without a request (the preflight's TCP check)
                        continue
                    self.requests.append(data)
                    self.handler(conn, data)
                except OSError:
                    pass

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        self.sock.close()


def http(status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}"
            "connection: close\r\n\r\n").encode() + body


MODELS = http(200, b'{"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "x"}]}')


def serve_models_only(conn, request):
    conn.sendall(MODELS)


# -- 1. bad input: one line naming the option, exit 2, before any request --------------------------------
BAD_INPUT = [
    # report folder
    (["--report-dir", "afile"], {}, "--report-dir afile: is a file, not a folder"),
    (["--report-dir", "afile/reports"], {}, "--report-dir afile/reports: cannot create it: afile is a file"),
    ([], {"conformance.toml": 'report_dir = "afile"\n'}, "conformance.toml:1: report_dir afile: is a file"),
    (["--alluredir", "afile"], {}, "--alluredir afile: is a file"),
    # config files that are not UTF-8
    (["--config", "latin1.toml"], {"latin1.toml": b'model = "caf\xe9"\n'}, "latin1.toml:1: not UTF-8 text (byte 0xe9)"),
    ([], {"conformance.toml": b'\n\nmodel = "\xff"\n'}, "conformance.toml:3: not UTF-8 text"),
    ([], {"pyproject.toml": b'[project]\nname = "caf\xe9"\n'}, "pyproject.toml:2: not UTF-8 text"),
    (["--baseline", "known.toml"], {"known.toml": b'[[known]]\nreason = "caf\xe9"\n'}, "known.toml: not UTF-8 text"),
    # numbers
    (["--timeout", "0"], {}, "argument --timeout: must be a positive, finite number of seconds"),
    (["--timeout", "nan"], {}, "argument --timeout: must be a positive, finite number of seconds"),
    (["--timeout", "inf"], {}, "argument --timeout: must be a positive, finite number of seconds"),
    (["--timeout", "-5"], {}, "argument --timeout: must be a positive, finite number of seconds"),
    (["--timeout", "soon"], {}, "argument --timeout: must be a positive, finite number of seconds"),
    ([], {"conformance.toml": "[timeouts]\ntotal = nan\n"}, "conformance.toml:2: timeouts.total must be a positive, finite number"),
    ([], {"conformance.toml": "[timeouts]\nread = inf\n"}, "conformance.toml:2: timeouts.read must be a positive, finite number"),
    ([], {"conformance.toml": "max_response_bytes = 0\n"}, "conformance.toml:1: max_response_bytes must be a positive number"),
    (["-n", "-1"], {}, "argument -n: must be a number of processes >= 1 or 'auto'"),
    (["-n", "0"], {}, "argument -n: must be a number of processes >= 1 or 'auto'"),
    (["-n", "many"], {}, "argument -n: must be a number of processes >= 1 or 'auto'"),
    # headers (with a --base-url nobody listens on: before, these were reported as "unreachable")
    (["--header", "X-Test: a\r\nInjected: 1"], {}, "--header: the value of header X-Test contains a line break"),
    (["--header", "X-Test: a\nb"], {}, "--header: the value of header X-Test contains a line break"),
    (["--header", ": value"], {}, "--header: empty header name"),
    (["--header", "X Test: value"], {}, "--header: header name 'X Test' contains ' '"),
    (["--header", "X-Tést: value"], {}, "--header: header name 'X-Tést' contains 'é'"),
    (["--header", "X-Test: café"], {}, "--header: the value of header X-Test contains non-ASCII text"),
    (["--header", "X-Test: a\x01b"], {}, "--header: the value of header X-Test contains a control character"),
    ([], {"conformance.toml": '[headers]\nX-Test = "a\\u0000b"\n'}, "headers: the value of header X-Test contains a control character"),
    (["--header", f"Authorization Bearer {SECRET}"], {}, "--header: expected 'Name: value', got text without a ':'"),
    ([], {"conformance.toml": 'headers = { X-Test = "${BAD_VALUE}" }\n'}, "conformance.toml: headers: the value of header X-Test contains a line break"),
    ([], {"conformance.toml": "[headers]\nX-Test = 3\n"}, "conformance.toml:2: headers.X-Test must be a string"),
    # profile lists
    (["--profile", ","], {}, "--profile ',': no profile name given"),
    (["--profile", ""], {}, "--profile '': no profile name given"),
    ([], {"conformance.toml": "profile = []\n"}, "conformance.toml:1: profile is empty"),
    ([], {"conformance.toml": 'profile = " , "\n'}, "conformance.toml:1: profile is empty"),
]


@pytest.mark.parametrize("args, files, expected", BAD_INPUT, ids=[e[2][:60] for e in BAD_INPUT])
def test_bad_input_is_refused_before_any_request(tmp_path, args, files, expected):
    (tmp_path / "afile").write_text("a file, not a folder\n")
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with Server(serve_models_only) as server:
        proc = cli("run", "--base-url", server.url, "--model", "m", *args, cwd=tmp_path,
                   env={"CONFORMANCE_API_KEY": SECRET, "BAD_VALUE": "a\r\nInjected: 1"}, timeout=60)
    line = one_error_line(proc)
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert expected in line
    assert server.requests == [], "a request was sent before the input was validated"
    assert SECRET not in proc.stderr + proc.stdout


def test_serve_refuses_an_empty_profile_list():
    proc = cli("serve", "--profile", ",", env={"CONFORMANCE_API_KEY": SECRET}, timeout=60)
    assert proc.returncode == EXIT_USAGE
    assert "--profile ',': no profile name given" in one_error_line(proc)


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys (Linux)")
def test_an_unwritable_report_dir_is_refused_before_any_request(tmp_path):
    with Server(serve_models_only) as server:
        proc = cli("run", "--base-url", server.url, "--model", "m", "--report-dir", "/sys/conformance-reports", cwd=tmp_path, timeout=60)
        assert server.requests == []
    assert proc.returncode == EXIT_USAGE
    line = one_error_line(proc)
    assert "--report-dir /sys/conformance-reports: cannot create it" in line and "choose another --report-dir" in line


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_a_read_only_report_dir_is_refused_before_any_request(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with Server(serve_models_only) as server:
            proc = cli("run", "--base-url", server.url, "--model", "m", "--report-dir", str(folder), timeout=60)
            assert server.requests == []
    finally:
        folder.chmod(0o755)
    assert proc.returncode == EXIT_USAGE
    assert f"--report-dir {folder}: not writable" in one_error_line(proc)
    assert list(folder.iterdir()) == []


def test_a_writable_report_dir_is_created_and_left_without_a_probe_file(tmp_path):
    """The probe is written and removed; a run stopped later (here: unreachable) leaves the folder empty."""
    proc = cli("run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--report-dir", "new/reports", cwd=tmp_path, timeout=60)
    assert proc.returncode == EXIT_UNREACHABLE
    assert (tmp_path / "new" / "reports").is_dir()
    assert list((tmp_path / "new" / "reports").iterdir()) == []


# -- 3. the preflight: unreachable, answered but broken, not an LLM API ----------------------------------
def _reset(conn, request):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _close(conn, request):
    conn.close()


def _hang(conn, request):
    time.sleep(4)


def _big_headers(conn, request):
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 300_000 + b"\r\ncontent-length: 2\r\n\r\n{}")


def _endless_body(conn, request):
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000000\r\n\r\n{\"data\": [")
    chunk = b"0," * 32768
    while True:
        conn.sendall(chunk)


def _drip(conn, request):
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n")
    for _ in range(30):
        conn.sendall(b" ")
        time.sleep(1)


def _reset_mid_body(conn, request):
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"data\": [")
    time.sleep(0.2)
    _reset(conn, request)


@functools.cache
def gzip_bomb(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros, gzipped (about 1000:1), built without holding them in memory."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    zeros = b"\x00" * (1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def _gzip_bomb(conn, request):  # ignores the accept-encoding it was sent
    conn.sendall(http(200, gzip_bomb(256), extra="content-encoding: gzip\r\n"))


def peak_rss_mb(*args: str, **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI like :func:`cli`; also return its own peak RSS (VmHWM, which exec resets)."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        wrapper = (
            "import atexit, runpy, sys\n"
            "def peak():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            f"            open({out.name!r}, 'w').write(line.split()[1])\n"
            "atexit.register(peak)\n"
            "sys.argv = ['conformance', *sys.argv[1:]]\n"
            "runpy.run_module('conformance', run_name='__main__')\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
        env.update(kwargs.pop("env", None) or {})
        proc = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, env=env, **kwargs)
        kib = out.read().strip()
    return proc, int(kib) / 1024 if kib else float("nan")


def _answer(status, body, content_type="application/json"):
    return lambda conn, request: conn.sendall(http(status, body, content_type))


PREFLIGHT = [
    ("reset", _reset, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models: the connection was reset before a response"),
    ("closed", _close, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models: the server closed the connection without a valid HTTP response"),
    ("hang", _hang, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models: the connection was accepted but no response came within 1s"),
    ("big-headers", _big_headers, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models: the response headers are too large"),
    ("endless-body", _endless_body, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models answered 200, then response body larger than"),
    ("drip", _drip, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models answered 200, then"),
    ("reset-mid-body", _reset_mid_body, EXIT_UNREACHABLE, "answered but is broken: GET {url}/models answered 200, then connection failed while reading"),
    ("html-200", _answer(200, b"<!DOCTYPE html><html><body>Welcome</body></html>", "text/html"), EXIT_NOT_AN_API,
     "does not look like an OpenAI or Anthropic API: GET {url}/models answered 200 with an HTML page"),
    ("html-404", _answer(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html"), EXIT_NOT_AN_API,
     "does not look like an OpenAI or Anthropic API: GET {url}/models answered 404 with an HTML page"),
    ("html-without-type", _answer(200, b"\n<!doctype html>\n<title>x</title>", ""), EXIT_NOT_AN_API, "answered 200 with an HTML page"),
    ("text-200", _answer(200, b"models: a, b, c\n", "text/plain"), EXIT_NOT_AN_API, "answered 200 with a body that is not JSON (content-type text/plain)"),
    ("empty-200", _answer(200, b"", "application/json"), EXIT_NOT_AN_API, "answered 200 with an empty body"),
    ("json-list-200", _answer(200, b"[1, 2, 3]"), EXIT_NOT_AN_API, 'answered 200 with JSON that is not a model list (no "data" array)'),
    ("json-object-200", _answer(200, b'{"status": "ok"}'), EXIT_NOT_AN_API, 'answered 200 with JSON that is not a model list'),
]


@pytest.mark.parametrize("name, handler, code, expected", PREFLIGHT, ids=[p[0] for p in PREFLIGHT])
def test_preflight_tells_what_is_wrong_in_one_line(tmp_path, name, handler, code, expected):
    with Server(handler) as server:
        started = time.monotonic()
        proc, peak_mb = peak_rss_mb("run", "--base-url", server.url, "--model", "m", "--timeout", "1", "--report-dir", str(tmp_path / "r"),
                                    env={"CONFORMANCE_API_KEY": SECRET}, timeout=120)
        elapsed = time.monotonic() - started
        requests = len(server.requests)
    line = one_error_line(proc)
    assert proc.returncode == code, line
    assert expected.format(url=server.url) in line
    assert "--force" in line
    assert requests == 1, "the preflight is one request; the suite did not run"
    assert elapsed < 30, f"the preflight took {elapsed:.1f}s"
    assert peak_mb < 200, f"the run peaked at {peak_mb:.0f} MB"
    assert SECRET not in proc.stderr + proc.stdout
    assert not (tmp_path / "r" / "results.json").exists()


def test_preflight_bounds_a_gzip_bomb(tmp_path):
    """256 MB of zeros gzipped: stopped in seconds, without inflating it (decoded within the limits, or judged raw)."""
    gzip_bomb(256)  # built before the server answers (building it takes seconds)
    with Server(_gzip_bomb) as server:
        started = time.monotonic()
        proc, peak_mb = peak_rss_mb("run", "--base-url", server.url, "--model", "m", "--timeout", "5", "--report-dir", str(tmp_path), timeout=120)
        elapsed = time.monotonic() - started
    line = one_error_line(proc)
    assert proc.returncode in (EXIT_UNREACHABLE, EXIT_NOT_AN_API), line
    assert "GET " + server.url + "/models answered 200" in line
    assert elapsed < 30
    assert peak_mb < 200, f"the run peaked at {peak_mb:.0f} MB"


def test_unreachable_is_no_connection(tmp_path):
    proc = cli("run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--report-dir", str(tmp_path), timeout=60)
    assert proc.returncode == EXIT_UNREACHABLE
    line = one_error_line(proc)
    assert "http://127.0.0.1:9/v1 is unreachable: connection refused (check --base-url)" in line
    assert "--force" not in line  # nothing to force: there is no connection


def test_force_runs_the_suite_against_something_that_is_not_an_llm_api(tmp_path):
    def handler(conn, request):
        conn.sendall(http(404, b"<html><body>Not Found</body></html>", "text/html"))

    with Server(handler) as server:
        proc = cli("run", "--base-url", server.url, "--model", "m", "--force", "-k", "basic", "--profile", "openai",
                   "--report-dir", str(tmp_path), "--timeout", "5", "--no-auth", timeout=300)
        requests = len(server.requests)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 1, proc.stderr[-2000:]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("conformance: warning: ")]
    assert len(warnings) == 1 and "does not look like an OpenAI or Anthropic API" in warnings[0] and "running anyway (--force)" in warnings[0]
    assert requests > 1
    results = load_results(tmp_path / "results.json")
    assert results["summary"]["total"] > 0 and results["summary"]["passed"] == 0


@pytest.mark.parametrize(
    "status, content_type, body",
    [
        (200, "application/json", b'{"object": "list", "data": []}'),  # OpenAI
        (200, "application/json", b'{"data": [], "has_more": false, "first_id": null, "last_id": null}'),  # Anthropic
        (401, "application/json", b'{"error": {"message": "missing key", "type": "invalid_request_error"}}'),
        (401, "application/json", b'{"type": "error", "error": {"type": "authentication_error", "message": "x"}}'),
        (404, "text/plain", b"Not Found"),  # a gateway without /models
        (404, "application/json", b'{"detail": "Not Found"}'),
        (405, "", b""),
    ],
)
def test_preflight_accepts_what_an_llm_api_may_answer(status, content_type, body):
    from conformance.exchange import Recorder

    ex = Exchange(index=0, method="GET", url="http://x/v1/models", request_headers={}, request_body=None, status=status,
                  headers={"content-type": content_type} if content_type else {})
    recorder = Recorder(ex)
    recorder.feed(body)
    recorder.finish()
    assert not_an_api(ex) is None
    judge_answer("http://x/v1", ex, Limits())  # does not raise


# -- 2. a report that cannot be written at the end: results.json in a fallback folder, exit 5 --------------
def test_a_report_dir_lost_mid_run_leaves_results_json_in_a_named_fallback(tmp_path):
    report_dir = tmp_path / "reports"
    spare_tmp = tmp_path / "tmp"
    spare_tmp.mkdir()

    def handler(conn, request):
        if b"/models" in request.split(b"\r\n", 1)[0]:
            conn.sendall(MODELS)
            return
        if report_dir.is_dir():  # mid-run, the folder is removed and a file takes its place
            for child in report_dir.iterdir():
                child.unlink()
            report_dir.rmdir()
            report_dir.write_text("not a folder any more\n")
        conn.sendall(http(200, b'{"id": "x", "object": "chat.completion", "choices": []}'))

    with Server(handler) as server:
        proc = cli("run", "--base-url", server.url, "--model", "m", "-k", "basic", "--profile", "openai", "--timeout", "5",
                   "--report-dir", str(report_dir), env={"CONFORMANCE_API_KEY": SECRET, "TMPDIR": str(spare_tmp)}, timeout=300)
    assert proc.returncode == EXIT_REPORT_FALLBACK, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = one_error_line(proc)
    assert f"could not write the report to {report_dir}/" in line
    saved = Path(line.split("results.json saved to ", 1)[1].removesuffix(" instead"))
    assert saved.parent.parent == spare_tmp and saved.name == "results.json"
    results = load_results(saved)  # valid against the schema
    assert results["summary"]["total"] > 0
    assert SECRET not in saved.read_text()
    assert report_dir.is_file()
    assert f"wrote {saved}" in proc.stdout


def _results() -> dict:
    from report_fixtures import every_verdict

    return every_verdict()


def test_write_all_or_fallback_writes_in_place_when_it_can(tmp_path):
    written, problem = write_all_or_fallback(_results(), tmp_path / "out")
    assert problem is None
    assert {p.name for p in written} == {"results.json", "summary.md", "junit.xml", "index.html"}


def test_write_all_or_fallback_never_raises_and_says_when_nothing_could_be_saved(tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(blocker))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: blocker))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Path, "cwd", classmethod(lambda cls: blocker))
    written, problem = write_all_or_fallback(_results(), blocker / "out")
    assert written == []
    assert problem.startswith(f"could not write the report to {blocker / 'out'}/")
    assert problem.endswith("the results of this run are lost")


def test_several_targets_whose_report_dir_is_lost_still_leave_results_json(tmp_path):
    report_dir = tmp_path / "reports"
    spare_tmp = tmp_path / "tmp"
    spare_tmp.mkdir()

    def handler(conn, request):
        if b"/models" in request.split(b"\r\n", 1)[0]:
            conn.sendall(MODELS)
            return
        if report_dir.is_dir():
            import shutil

            shutil.rmtree(report_dir)
            report_dir.write_text("not a folder any more\n")
        conn.sendall(http(200, b'{"id": "x", "object": "chat.completion", "choices": []}'))

    with Server(handler) as server:
        (tmp_path / "conformance.toml").write_text(
            f'model = "m"\nprofile = ["openai"]\nreport_dir = "reports"\n'
            f'[[targets]]\nname = "one"\nbase_url = "{server.url}"\n[[targets]]\nname = "two"\nbase_url = "{server.url}"\n'
        )
        proc = cli("run", "-k", "basic", "--timeout", "5", cwd=tmp_path, env={"CONFORMANCE_API_KEY": SECRET, "TMPDIR": str(spare_tmp)}, timeout=300)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == EXIT_REPORT_FALLBACK, proc.stdout[-2000:] + proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors and all(line.startswith("conformance: error: could not write the report to ") for line in errors)
    combined = Path(errors[-1].split("results.json saved to ", 1)[1].removesuffix(" instead"))
    results = load_results(combined)
    assert {case["target"] for case in results["cases"]} == {"one", "two"}


def test_report_baseline_refuses_an_unusable_report_dir(tmp_path):
    from report_fixtures import every_verdict

    (tmp_path / "results.json").write_text(json.dumps(every_verdict()))
    (tmp_path / "known.toml").write_text("")
    (tmp_path / "afile").write_text("x")
    proc = cli("report", "baseline", "results.json", "known.toml", "--report-dir", "afile", cwd=tmp_path, timeout=60)
    assert proc.returncode == EXIT_USAGE
    assert "--report-dir afile: is a file, not a folder" in one_error_line(proc)


@pytest.mark.parametrize("name, text, expected", [
    ("seconds", "30", 30.0), ("seconds", "0.5", 0.5),
    ("seconds", "0", "must be a positive, finite number of seconds (e.g. 30), not '0'"),
    ("seconds", "-0.0", "must be a positive, finite number of seconds (e.g. 30), not '-0.0'"),
    ("rate", "2", 2.0),
    ("rate", "inf", "must be a positive number of requests per second (e.g. 2 or 0.5), not 'inf'"),
    ("rate", "0", "must be a positive number of requests per second (e.g. 2 or 0.5), not '0'"),
    ("wait_seconds", "0", 0.0), ("wait_seconds", "1.5", 1.5),
    ("wait_seconds", "-1", "must be a number of seconds >= 0, not '-1'"),
    ("wait_seconds", "nan", "must be a number of seconds >= 0, not 'nan'"),
    ("wait_seconds", "soon", "must be a number of seconds >= 0, not 'soon'"),
])
def test_number_options_take_finite_numbers_and_say_what_they_must_be(name, text, expected):
    import argparse

    from conformance import cli as cli_module

    parse = getattr(cli_module, name)
    if isinstance(expected, float):
        assert parse(text) == expected
    else:
        with pytest.raises(argparse.ArgumentTypeError) as refused:
            parse(text)
        assert str(refused.value) == expected
