"""Safe to point at a paid API: plan, budgets, pacing, polite retries and spend, each counted where
it matters, at the server (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conformance.budget import BudgetSpent, Gate, Ledger, SpendLimits
from conformance.reference.app import ServerSettings, build_app
from conformance.reference.server import EmbeddedServer
from conformance.report import load_results, render_html, render_markdown
from conformance.spend import (
    case_spend,
    estimate_input_tokens,
    output_cap,
    run_spend,
    usage_from,
)

KEY = "sk-budget-test-0123456789abcdef"
MODEL = "deepseek/deepseek-v4-pro"  # the reference's default OpenAI model for crossmodel-openai


class Counting:
    """ASGI middleware: the arrival time, method and path of every request the server gets."""

    def __init__(self, app) -> None:
        self.app, self.state = app, getattr(app, "state", None)
        self.seen: list[tuple[float, str, str]] = []
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with self.lock:
            self.seen.append((time.time(), scope["method"], scope["path"]))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        ended = False

        def end() -> None:
            nonlocal ended
            if not ended:
                ended = True
                with self.lock:
                    self.in_flight -= 1

        async def counted(message):
            # a request is in flight until its last byte is sent: a client that has read the whole
            # answer may send its next request at once, before this coroutine has returned (on a
            # loaded machine the server then counted one request too many)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                end()
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            end()

    def cases_requests(self) -> list[tuple[float, str, str]]:
        """Every request but the run's preflight (its first, GET /models)."""
        assert self.seen and self.seen[0][1:] == ("GET", "/v1/models"), self.seen[:1]
        return self.seen[1:]


class CountingServer(EmbeddedServer):
    def __init__(self, settings: ServerSettings) -> None:
        import uvicorn

        self.settings = settings
        self.counter = Counting(build_app(settings))
        self._server = uvicorn.Server(uvicorn.Config(self.counter, host="127.0.0.1", port=0, log_level="error", access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.host, self.port = "127.0.0.1", 0


@pytest.fixture
def server():
    with CountingServer(ServerSettings(api_keys=frozenset({KEY}))) as running:
        yield running


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    env["CONFORMANCE_API_KEY"] = KEY
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def against(server, *args: str) -> list[str]:
    return ["--base-url", server.base_url, "--model", MODEL, "--profile", "crossmodel-openai,crossmodel-anthropic", *args]


# -- plan ---------------------------------------------------------------------------------------------
SELECTION = ["-k", "stream or tools or basic or errors or n_choices"]


def test_plan_counts_what_a_real_run_sends_counted_at_the_server(server, tmp_path):
    planned = cli("plan", *against(server, *SELECTION), "--json")
    assert planned.returncode == 0, planned.stderr
    assert server.counter.seen == [], "plan sent something to the target"
    plan = json.loads(planned.stdout)["targets"][0]
    assert "reference server" in plan["planned_against"]
    proc = cli("run", *against(server, *SELECTION, "--report-dir", str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    sent = server.counter.cases_requests()
    assert plan["preflight_requests"] == 1
    assert plan["total"]["requests"] == len(sent) > 40
    # per feature too: the plan's rows against what the run recorded (itself checked against the server above)
    results = load_results(tmp_path / "results.json")
    assert results["spend"]["requests"] == len(sent)
    run_rows = {(r["protocol"], r["feature"]): r["requests"] for r in results["spend"]["by_feature"] if r["requests"]}
    plan_rows = {(r["protocol"], r["feature"]): r["requests"] for r in plan["by_feature"] if r["requests"]}
    assert plan_rows == run_rows
    streams = sum(1 for c in results["cases"] for x in c["exchanges"] if isinstance(x["request"]["body"], dict) and x["request"]["body"].get("stream") is True)
    assert plan["total"]["streams"] == streams > 0
    assert plan["total"]["max_output_tokens"] == sum(output_cap(x["request"]["body"]) for c in results["cases"] for x in c["exchanges"])


def test_plan_prints_a_table_with_the_estimated_cost_and_the_budget(tmp_path):
    (tmp_path / "conformance.toml").write_text(
        'base_url = "https://api.example.invalid/v1"\nmodel = "priced-model"\nprofile = "openai"\nmax_requests = 3\nrate_limit = 2\n'
        '[prices."priced-model"]\ninput = 2.5\noutput = 10\n'
    )
    proc = cli("plan", "-k", "basic or n_choices", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "planned against the embedded reference server: nothing is sent" in out
    assert "est. cost" in out and "est. input tokens" in out and "max output tokens" in out
    assert "1 token per 4 characters" in out  # says how input tokens are estimated
    assert "budget: 3 requests: the plan needs" in out and "SKIP (budget)" in out
    assert "rate limit 2 requests/s" in out
    assert not (tmp_path / "reports").exists()  # a plan writes no report
    data = json.loads(cli("plan", "-k", "basic or n_choices", "--json", cwd=tmp_path).stdout)["targets"][0]
    total = data["total"]
    assert total["cost"] == pytest.approx((total["input_tokens"] * 2.5 + total["max_output_tokens"] * 10) / 1e6, abs=1e-6)


def test_plan_follows_the_per_case_token_caps(tmp_path):
    def total(*extra):
        proc = cli("plan", "-k", "test_basic", "--json", *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["targets"][0]["total"]

    assert total()["max_output_tokens"] > 200
    assert total("--max-tokens", "100") == {**total(), "max_output_tokens": 200}  # two cases, each capped at 100


def test_plan_refuses_what_it_cannot_plan(tmp_path):
    proc = cli("plan", "-k", "no_case_is_called_this", cwd=tmp_path)
    assert proc.returncode == 2 and "no case matched" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("plan", "--fault", "no_done", cwd=tmp_path)
    assert proc.returncode == 2 and "--fault does not apply to plan" in proc.stderr


# -- budgets --------------------------------------------------------------------------------------------
def test_the_request_budget_is_never_exceeded_across_workers_counted_at_the_server(server, tmp_path):
    proc = cli("run", *against(server, "-k", "stream or basic or tools", "--max-requests", "7", "-n", "3", "--report-dir", str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(server.counter.cases_requests()) == 7
    results = load_results(tmp_path / "results.json")
    skipped = [c for c in results["cases"] if c["verdict"] == "SKIP" and c["reason"].startswith("budget")]
    assert skipped and results["spend"]["skipped_for_budget"] == len(skipped)
    assert results["spend"]["requests"] == 7 and results["spend"]["budget"] == {"max_requests": 7}
    assert "budget 7 requests" in proc.stdout and "skipped for it" in proc.stdout
    assert not any(c["verdict"] in ("FAIL", "ERROR") for c in results["cases"])


def test_the_output_token_budget_counts_each_requests_cap(server, tmp_path):
    proc = cli("run", *against(server, "-k", "basic or stream", "--max-output-tokens", "200", "--report-dir", str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = load_results(tmp_path / "results.json")
    sent = [x["request"]["body"] for c in results["cases"] for x in c["exchanges"]]
    assert len(sent) == len(server.counter.cases_requests())
    # what the answers used never goes past the budget: a request is sent only when its cap fits in
    # what is left (actual usage of the answers so far, the caps of those in flight)
    assert 0 < results["spend"]["output_tokens"] <= 200
    assert results["spend"]["skipped_for_budget"] > 0
    skipped = [c for c in results["cases"] if c["reason"].startswith("budget: this request may use")]
    assert skipped and all(c["verdict"] == "SKIP" for c in skipped)


def test_a_gate_refuses_past_the_budget_and_settles_to_the_reported_usage(tmp_path):
    gate = Gate(SpendLimits(max_requests=3, max_output_tokens=80), Ledger(tmp_path))
    body = {"model": "m", "messages": [], "max_tokens": 40}
    ticket = gate.admit(body)
    gate.settle(ticket, {"usage": {"prompt_tokens": 5, "completion_tokens": 10}})
    ticket = gate.admit(body)  # 10 used + 40 reserved
    with pytest.raises(BudgetSpent, match="budget: this request may use 40 output tokens; 30 of the run's 80 remain"):
        gate.admit(body)
    gate.settle(ticket, None)  # no usage reported: the cap counts
    state = gate.ledger.read()
    assert state["output_tokens"] == 50 and state["reserved_output"] == 0 and state["requests"] == 2
    gate.admit({"model": "m", "messages": [], "max_tokens": 30})  # 50 + 30: exactly the budget
    with pytest.raises(BudgetSpent, match="requests are spent"):
        gate.admit({"model": "m"})


def test_a_retry_the_budget_does_not_allow_is_not_sent(tmp_path):
    from conformance.retry import RetryPolicy
    from conformance.transport import Limits, Transport

    settings = ServerSettings(api_keys=frozenset({KEY}), retry_after="0")
    with CountingServer(settings) as srv:
        gate = Gate(SpendLimits(max_requests=1), Ledger(tmp_path))
        transport = Transport(srv.base_url, limits=Limits(retry=RetryPolicy(attempts=3)), gate=gate,
                              extra_headers={"authorization": f"Bearer {KEY}"})
        exchange = transport.request("GET", "models")
        with pytest.raises(BudgetSpent):
            transport.request("GET", "models")
        transport.close()
    assert exchange.status == 429 and "not retried: budget" in exchange.retry_note
    assert len(srv.counter.seen) == 1


def test_retries_count_against_the_request_budget_counted_at_the_server(tmp_path):
    settings = ServerSettings(api_keys=frozenset({KEY}), retry_after="0.2")
    with CountingServer(settings) as srv:
        proc = cli("run", *against(srv, "-k", "test_basic", "--max-requests", "4", "--report-dir", str(tmp_path)))
        sent = srv.counter.seen
    assert sent[0][1:] == ("GET", "/v1/models") and len(sent) == 1 + 1 + 4  # the preflight and its retry, then the budget
    results = load_results(tmp_path / "results.json")
    assert [c["verdict"] for c in results["cases"]] == ["PASS", "PASS"] and results["spend"]["requests"] == 4, proc.stdout[-2000:]
    proc = cli("run", *against(srv := CountingServer(settings).start(), "-k", "test_basic", "--max-requests", "3", "--report-dir", str(tmp_path / "r")))
    srv.stop()
    assert len(srv.counter.seen) == 2 + 3
    verdicts = sorted((c["verdict"], c["reason"]) for c in load_results(tmp_path / "r" / "results.json")["cases"])
    assert verdicts[0][0] == "ERROR" and "not retried: budget" in verdicts[0][1] and verdicts[1][0] == "PASS", verdicts


# -- pacing -------------------------------------------------------------------------------------------
def test_the_rate_limit_holds_across_four_workers_measured_at_the_server(server, tmp_path):
    rate = 8.0
    proc = cli("run", *against(server, "-k", "stream or basic or tools or errors", "-n", "4", "--rate-limit", str(rate), "--report-dir", str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    times = sorted(t for t, _, _ in server.counter.cases_requests())
    assert len(times) >= 40
    # tries leave 1/rate apart; arrivals jitter on a loaded machine (a late one bunches with the next):
    # any one-second window holds at most rate requests, +1 for the window's edge, +25 % of tolerance
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= rate * 1.25 + 1, busiest
    overall = (len(times) - 1) / (times[-1] - times[0])
    assert overall <= rate * 1.1, overall  # (without the limit, 27 of these requests arrive within one second)


def test_the_concurrency_cap_holds_across_workers(server, tmp_path):
    slow = ServerSettings(api_keys=frozenset({KEY}), latency_ms=150)
    with CountingServer(slow) as srv:
        proc = cli("run", *against(srv, "-k", "basic or stream", "-n", "4", "--concurrency", "2", "--report-dir", str(tmp_path)))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert srv.counter.most_in_flight <= 2
        assert len(srv.counter.seen) > 10


# -- polite retries ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", ["1", "date+1"])
def test_a_429_with_retry_after_is_waited_out_and_the_case_passes(tmp_path, retry_after):
    started = time.monotonic()
    proc = cli("run", "-k", "test_basic_completion_without_system_message", "--header", f"x-conformance-retry-after: {retry_after}", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (case,) = load_results(tmp_path / "results.json")["cases"]
    assert case["verdict"] == "PASS"
    (exchange,) = case["exchanges"]
    assert exchange["timings"]["attempts"] == 2 and exchange["timings"]["retry_wait_s"] >= (0.9 if retry_after == "1" else 0)
    assert case["spend"]["requests"] == 2
    assert time.monotonic() - started >= (1 if retry_after == "1" else 0)


def test_retries_and_their_wait_come_from_the_options_and_the_config(tmp_path):
    proc = cli("run", "-k", "test_basic_completion_without_system_message", "--header", "x-conformance-retry-after: 1", "--retries", "0", "--report-dir", str(tmp_path))
    assert proc.returncode == 1
    (case,) = load_results(tmp_path / "results.json")["cases"]
    assert case["verdict"] == "ERROR" and "rate limited (429)" in case["reason"]
    (tmp_path / "conformance.toml").write_text("[retries]\ncount = 2\nmax_wait = 0.5\n")
    proc = cli("run", "-k", "test_basic_completion_without_system_message", "--header", "x-conformance-retry-after: 1", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 1
    (case,) = load_results(tmp_path / "r" / "results.json")["cases"]
    assert case["verdict"] == "ERROR" and "beyond the 0.5s retry budget" in case["reason"]


@pytest.mark.parametrize("args, message", [
    (["--max-requests", "0"], "--max-requests: must be an integer >= 1"),
    (["--rate-limit", "-1"], "--rate-limit: must be a positive number"),
    (["--retries", "50"], "--retries: must be an integer from 0 to 20"),
    (["--max-retry-wait", "nan"], "--max-retry-wait: must be a number of seconds >= 0"),
])
def test_bad_budget_options_are_one_line(args, message, tmp_path):
    proc = cli("run", *args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("toml, message", [
    ("max_requests = -3", "max_requests must be a positive integer"),
    ("rate_limit = 'fast'", "rate_limit must be a positive number"),
    ("[retries]\ntries = 3", "unknown key 'retries.tries'"),
    ("[prices.m]\ninput = 'cheap'", 'prices."m".input must be a number'),
    ("[prices.m]\nin = 1", 'prices."m" must be a table with input and output'),
])
def test_bad_budget_config_is_one_line(toml, message, tmp_path):
    (tmp_path / "conformance.toml").write_text(toml + "\n")
    proc = cli("run", cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "conformance.toml:" in proc.stderr and "Traceback" not in proc.stderr


# -- spend ----------------------------------------------------------------------------------------------
def test_usage_is_read_from_bodies_and_from_both_protocols_streams():
    assert usage_from({"usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}) == (7, 3)
    anthropic_stream = [{"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 4}}},
                        {"type": "message_delta", "usage": {"output_tokens": 9}}]
    assert usage_from(None, anthropic_stream) == (16, 9)
    openai_stream = [{"choices": [{"delta": {"content": "hi"}}]}, {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}]
    assert usage_from(None, openai_stream) == (5, 2)
    assert usage_from({"id": "x"}, [{"choices": []}]) is None
    assert usage_from({"usage": {"prompt_tokens": True, "completion_tokens": -4}}) == (0, 0)


def test_output_caps_and_the_input_estimate():
    assert output_cap({"messages": [], "max_completion_tokens": 64, "n": 3}) == 192
    assert output_cap({"messages": [], "max_tokens": 10}) == 10
    assert output_cap({"messages": []}) == 1024  # no cap: counted as UNCAPPED_OUTPUT_TOKENS
    assert output_cap("not json") == 0 and output_cap({"model": "x"}) == 0
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x" * 40}, {"type": "image_url", "image_url": {"url": "data:..."}}]}],
            "system": "y" * 8}
    assert estimate_input_tokens(body) == 12 + 85


def test_spend_per_case_feature_and_total_with_prices():
    prices = {"a": {"input": 1.0, "output": 2.0}}
    ex = {"request": {"body": {"model": "a"}}, "response": {"body": {"usage": {"prompt_tokens": 1000, "completion_tokens": 500}}}, "timings": {"attempts": 2}}
    spend = case_spend([ex, ex], prices)
    assert spend == {"requests": 4, "input_tokens": 2000, "output_tokens": 1000, "cost": pytest.approx(0.004)}
    unpriced = case_spend([{**ex, "request": {"body": {"model": "b"}}}], prices)
    assert "cost" not in unpriced
    cases = [{"protocol": "openai", "feature": "basic", "verdict": "PASS", "spend": spend},
             {"protocol": "openai", "feature": "tools", "verdict": "PASS", "spend": unpriced},
             {"protocol": "openai", "feature": "tools", "verdict": "SKIP", "reason": "budget: spent", "spend": {"requests": 0}}]
    run = run_spend(cases, {"max_requests": 10}, priced=True)
    assert run["requests"] == 6 and run["cost"] is None  # a model without a price: the total is unknown
    assert run["by_feature"][0]["cost"] == pytest.approx(0.004) and run["by_feature"][1]["cost"] is None
    assert run["budget"] == {"max_requests": 10} and run["skipped_for_budget"] == 1


def test_spend_reaches_results_json_markdown_and_html_with_the_cost(server, tmp_path):
    (tmp_path / "conformance.toml").write_text(f'[prices."{MODEL}"]\ninput = 3\noutput = 15\n')
    proc = cli("run", *against(server, "-k", "basic or stream_text", "--max-requests", "50", "--report-dir", str(tmp_path / "r")), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = load_results(tmp_path / "r" / "results.json")  # validates against the schema, spend included
    spend = results["spend"]
    assert spend["input_tokens"] > 0 and spend["output_tokens"] > 0
    assert spend["input_tokens"] == sum(c["spend"]["input_tokens"] for c in results["cases"])
    assert spend["cost"] == pytest.approx((spend["input_tokens"] * 3 + spend["output_tokens"] * 15) / 1e6, abs=1e-5)
    md, html = render_markdown(results), render_html(results)
    for text in (md, html):
        assert "Spend" in text and f"{spend['output_tokens']:,}" in text and "50 requests" in text
    assert f"{spend['cost']:.4f}" in md


def test_the_node_client_lane_is_not_run_under_a_budget_it_cannot_meter(tmp_path):
    proc = cli("run", "--clients", "node", "-k", "node_clients", "--max-requests", "5", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cases = load_results(tmp_path / "results.json")["cases"]
    assert cases and all(c["verdict"] == "SKIP" and c["reason"].startswith("budget: the Node clients") for c in cases)


def test_the_sdk_client_lane_is_held_to_the_budget_counted_at_the_server(server, tmp_path):
    proc = cli("run", *against(server, "-m", "client_lane", "-k", "openai", "--max-requests", "2", "--rate-limit", "20", "--report-dir", str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(server.counter.cases_requests()) == 2
    cases = load_results(tmp_path / "results.json")["cases"]
    assert any(c["verdict"] == "SKIP" and c["reason"].startswith("budget") for c in cases)
    assert sum(c["spend"]["requests"] for c in cases) == 2
