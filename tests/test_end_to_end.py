"""End to end: the CLI against the embedded server and against another server, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reference.app import ServerSettings
from conformance.reference.server import EmbeddedServer
from conformance.report import load_results

CANARY_KEY = "sk-canary-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # a clean environment: no conformance settings, and nothing of the pytest(-xdist) run these tests are in
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600)


def all_findings(results):
    return [(c["id"], f["check"], f["message"]) for c in results["cases"] for f in c["findings"]]


@pytest.mark.parametrize("strictness", ["compatible", "strict"])
def test_embedded_run_passes_every_case_with_zero_findings(tmp_path, strictness):
    proc = cli("run", "--strictness", strictness, "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = load_results(tmp_path / "results.json")  # also validates against specs/schemas/results.schema.json
    assert results["summary"]["total"] > 0
    assert all_findings(results) == []
    not_pass = [(c["id"], c["verdict"], c["reason"]) for c in results["cases"] if c["verdict"] not in ("PASS", "SKIP")]
    assert not_pass == []
    for name in ("results.json", "summary.md", "junit.xml", "index.html"):
        assert (tmp_path / name).is_file()
    assert "cases:" in proc.stdout and "FAIL" in proc.stdout


@pytest.fixture(scope="module")
def canary_server():
    with EmbeddedServer(ServerSettings(api_keys=frozenset({CANARY_KEY}))) as server:
        yield server


@pytest.fixture(scope="module")
def faulty_server():
    settings = ServerSettings(api_keys=frozenset({CANARY_KEY}), faults=frozenset({"repeat_role"}))
    with EmbeddedServer(settings) as server:
        yield server


def test_run_against_another_server_and_no_artifact_holds_the_key(tmp_path, canary_server):
    proc = cli("run", "--base-url", canary_server.base_url, "--model", "deepseek/deepseek-v4-pro",
               "--profile", "crossmodel-openai", "--report-dir", str(tmp_path), env={"CONFORMANCE_API_KEY": CANARY_KEY})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["targets"][0]["base_url"] == canary_server.base_url
    assert all_findings(results) == []
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert CANARY_KEY not in path.read_text(errors="replace"), f"{path} contains the API key"
        assert CANARY_KEY[-12:] not in path.read_text(errors="replace"), f"{path} contains part of the API key"
    assert CANARY_KEY not in proc.stdout + proc.stderr
    assert "[REDACTED]" in (tmp_path / "results.json").read_text()


def test_faulty_server_exits_nonzero_with_the_named_check_failing(tmp_path, faulty_server):
    proc = cli("run", "--base-url", faulty_server.base_url, "--model", "deepseek/deepseek-v4-pro", "--profile", "crossmodel-openai",
               "--report-dir", str(tmp_path), "-k", "stream", env={"CONFORMANCE_API_KEY": CANARY_KEY})
    assert proc.returncode == 1
    results = json.loads((tmp_path / "results.json").read_text())
    referees = {"check_openai_sdk", "check_anthropic_sdk", "check_node_clients", "check_client_call"}
    fired = {(f["check"], f["rule"]) for c in results["cases"] for f in c["findings"] if f["check"] not in referees}
    assert fired == {("check_stream_role_first_only", "stream_role_first_only")}
    # the official client that breaks on it says so too (openai-python's helper reads role 'assistantassistant')
    assert {f["rule"] for c in results["cases"] for f in c["findings"] if f["check"] in referees} <= {"openai_sdk.differs", "node_clients.differs", "node_clients.common_client", "node_clients"}
    assert "stream_role_first_only" in proc.stdout


@pytest.mark.parametrize(
    "args, env, files, expected_code, expected_text",
    [
        (["run", "--profile", "no-such-profile"], {}, {}, 2, "unknown profile 'no-such-profile'"),
        (["run", "--base-url", "127.0.0.1:8000"], {}, {}, 2, "is not an http(s) URL"),
        (["run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"], {}, {}, 3, "is unreachable"),
        (["run", "--base-url", "http://127.0.0.1:9/v1"], {}, {}, 3, "is unreachable"),  # the model is asked of the target after the preflight
        (["run", "--no-such-option"], {}, {}, 2, "unrecognized arguments"),
        (["run", "--disable-check", "check_nothing"], {}, {}, 2, "unknown check 'check_nothing'"),
        (["run"], {}, {"conformance.toml": 'bse_url = "http://x"\n'}, 2, "conformance.toml:1: unknown key 'bse_url' (did you mean 'base_url'?)"),
        (["run"], {}, {"conformance.toml": 'base_url = "${NOT_SET_ANYWHERE}/v1"\n'}, 2, "environment variable NOT_SET_ANYWHERE is not set"),
        (["run"], {}, {"conformance.toml": 'base_url = "http://x\n'}, 2, "invalid TOML"),
        (["run"], {}, {"pyproject.toml": '[tool.conformance]\nstrictness = "lenient"\n'}, 2, "strictness must be"),
        (["run", "--config", "missing.toml"], {}, {}, 2, "config file missing.toml does not exist"),
        (["run", "--fault", "no_such_fault"], {}, {}, 2, "unknown fault 'no_such_fault'"),
        (["run", "-k", "nothing_matches_this"], {}, {}, 2, "no case matched the selection"),
        (["serve", "--port", "99999"], {"CONFORMANCE_API_KEY": "k" * 8}, {}, 2, "is not a port number"),
        (["serve"], {}, {}, 2, "set the API key the server should accept"),
    ],
)
def test_bad_input_gets_one_clear_line_and_an_exit_code(tmp_path, args, env, files, expected_code, expected_text):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = cli(*args, env=env, cwd=tmp_path)
    assert proc.returncode == expected_code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("conformance: error: ")
    assert expected_text in lines[0]


def test_interpolated_config_file_is_used(tmp_path, canary_server):
    (tmp_path / "conformance.toml").write_text(
        'base_url = "${REF_URL}"\nmodel = "deepseek/deepseek-v4-pro"\napi_key_env = "MY_KEY"\nprofile = ["crossmodel-openai"]\nreport_dir = "out"\n'
    )
    proc = cli("run", "-k", "basic", cwd=tmp_path, env={"REF_URL": canary_server.base_url, "MY_KEY": CANARY_KEY})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["targets"][0]["base_url"] == canary_server.base_url
    assert results["summary"]["passed"] == results["summary"]["total"] > 0


def test_a_hostile_server_gets_verdicts_not_a_crash(tmp_path):
    from hostile import raw_server, response

    def handler(conn, request):
        if b"/models" in request.split(b"\r\n", 1)[0]:
            conn.sendall(response(200, b"<html>not an API</html>", "text/html"))
        elif b'"stream": true' in request:
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {not json\n\n\x00\xff garbage")
        else:
            conn.sendall(response(200, b"[1, 2, 3]"))

    with raw_server(handler) as url:
        proc = cli("run", "--base-url", url, "--model", "m", "--report-dir", str(tmp_path), "--timeout", "5", "--force",
                   env={"CONFORMANCE_API_KEY": CANARY_KEY})
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    verdicts = {c["verdict"] for c in results["cases"]}
    assert verdicts <= {"FAIL", "ERROR", "SKIP", "WARN", "UNSUPPORTED"} and "FAIL" in verdicts
    assert results["summary"]["passed"] == 0


def test_a_server_that_hangs_on_chat_gives_error_verdicts_within_the_timeout(tmp_path):
    from hostile import raw_server, response
    import time

    def handler(conn, request):
        if b"/models" in request.split(b"\r\n", 1)[0]:
            conn.sendall(response(200, b'{"object": "list", "data": []}'))
        else:
            time.sleep(4)

    with raw_server(handler) as url:
        proc = cli("run", "--base-url", url, "--model", "m", "--report-dir", str(tmp_path), "--timeout", "1", "-k", "basic",
                   env={"CONFORMANCE_API_KEY": CANARY_KEY})
    assert proc.returncode == 1
    results = json.loads((tmp_path / "results.json").read_text())
    assert {c["verdict"] for c in results["cases"]} == {"ERROR"}
    assert all("timed out" in c["reason"] or "no data" in c["reason"] for c in results["cases"])
