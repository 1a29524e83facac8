"""The interop lane: the suite against a real third-party OpenAI/Anthropic-compatible server that no
one here wrote (fakellm, from PyPI, installed by the test extra). Its known deviations are the
baseline tests/interop/fakellm-baseline.toml, each with its evidence; nothing may fail outside it,
and every entry must still match (a deviation that went away is a stale entry: remove it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fakellm", reason="fakellm is installed by the test extra (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT / "tests" / "interop"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fakellm(tmp_path):
    port = _free_port()
    config = INTEROP / "fakellm.yaml"
    env = {**os.environ, "FAKELLM_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-c", "from fakellm.cli import main; main()", "serve", "--port", str(port), "--config", str(config)],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/_fakellm/stats", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("fakellm did not start")
            time.sleep(0.2)
        yield base + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_fakellm_fails_only_on_its_documented_deviations(fakellm, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CONFORMANCE_RUN_CONFIG", "CONFORMANCE_EMBEDDED") and not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["CONFORMANCE_API_KEY"] = "sk-interop-not-checked"
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", "--base-url", fakellm, "--model", "fake-model",
                           "--profile", "openai,anthropic", "--baseline", str(INTEROP / "fakellm-baseline.toml"), "--report-dir", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    results = json.loads((out / "results.json").read_text())
    outcome = results["baseline"]
    assert not outcome["new"], f"failures outside the baseline: {outcome['new']}\n{proc.stdout[-3000:]}"
    assert not outcome["stale"], f"baseline entries that no longer match (remove them): {outcome['stale']}"
    assert results["summary"]["errors"] == 0, [(c["id"], c["reason"]) for c in results["cases"] if c["verdict"] == "ERROR"]
    assert results["summary"]["passed"] > 50  # the lane really exercises the server
    assert proc.returncode == 0, proc.stderr[-2000:]
