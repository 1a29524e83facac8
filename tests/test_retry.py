"""The one retry policy: 429/5xx retried within bounds, honouring Retry-After; then the final answer."""

from __future__ import annotations

import email.utils
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.reference.server import EmbeddedServer
from conformance.retry import RetryPolicy, retry_after_seconds
from conformance.target import Target
from conformance.transport import Limits, Transport


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_700_000_000.0
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds(email.utils.formatdate(now + 7, usegmt=True), now=now) == pytest.approx(7, abs=1)
    assert retry_after_seconds(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "nan", "inf", "-"):
        assert retry_after_seconds(bad) is None


def test_the_policy_is_bounded_in_tries_and_in_total_wait():
    policy = RetryPolicy(attempts=3, max_wait_s=5, base_delay_s=1)
    assert policy.should_retry(429, 1) and policy.should_retry(503, 2) and not policy.should_retry(503, 3)
    assert not policy.should_retry(400, 1) and not policy.should_retry(200, 1)
    assert policy.delay(None, 1, 0) == 1 and policy.delay(None, 2, 1) == 2
    assert policy.delay("4", 1, 0) == 4 and policy.delay("4", 2, 2) is None  # 2 + 4 > 5


class Flaky:
    """A server that answers 429 (with Retry-After) a given number of times, then 200."""

    def __init__(self, failures: int, retry_after: str | None = "0", status: int = 429):
        self.failures, self.retry_after, self.status = failures, retry_after, status
        self.seen: list[float] = []
        self.lock = threading.Lock()

    def app(self):
        async def endpoint(request):
            with self.lock:
                self.seen.append(time.monotonic())
                n = len(self.seen)
            if n <= self.failures:
                headers = {"retry-after": self.retry_after} if self.retry_after is not None else {}
                return JSONResponse({"error": {"message": "slow down", "type": "rate_limit_error"}}, status_code=self.status, headers=headers)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/v1/x", endpoint, methods=["GET"])])


def serve(app):

    class _Server(EmbeddedServer):
        def __init__(self):
            import uvicorn

            self.settings = None
            self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off"))
            self._thread = threading.Thread(target=self._server.run, daemon=True)
            self.host, self.port = "127.0.0.1", 0

    return _Server()


@pytest.mark.parametrize("status", [429, 503])
def test_a_rate_limited_answer_is_waited_out_then_succeeds(status):
    flaky = Flaky(failures=2, retry_after="0.2", status=status)
    with serve(flaky.app()) as server:
        transport = Transport(server.base_url, limits=Limits(retry=RetryPolicy(attempts=3, max_wait_s=5)))
        exchange = transport.request("GET", "/x")
        transport.close()
    assert exchange.status == 200 and exchange.body == {"ok": True}
    assert exchange.timings["attempts"] == 3
    assert flaky.seen[1] - flaky.seen[0] >= 0.19 and flaky.seen[2] - flaky.seen[1] >= 0.19


def test_a_wait_beyond_the_budget_is_not_taken():
    flaky = Flaky(failures=5, retry_after="3600")
    with serve(flaky.app()) as server:
        transport = Transport(server.base_url, limits=Limits(retry=RetryPolicy(attempts=5, max_wait_s=2)))
        started = time.monotonic()
        exchange = transport.request("GET", "/x")
        transport.close()
    assert time.monotonic() - started < 2 and exchange.status == 429 and len(flaky.seen) == 1
    assert "beyond the 2s retry budget" in exchange.retry_note


def test_tries_are_bounded():
    flaky = Flaky(failures=100, retry_after="0")
    with serve(flaky.app()) as server:
        transport = Transport(server.base_url, limits=Limits(retry=RetryPolicy(attempts=3, max_wait_s=5)))
        exchange = transport.request("GET", "/x")
        transport.close()
    assert exchange.status == 429 and len(flaky.seen) == 3


def test_the_policy_survives_the_run_config_round_trip():
    target = Target(limits=Limits(retry=RetryPolicy(attempts=5, max_wait_s=9)))
    again = Target.from_json(__import__("json").loads(__import__("json").dumps(target.to_json())))
    assert again.limits == target.limits
