"""The one HTTP transport: every request the suite sends goes through :class:`Transport`.

Each call produces an :class:`Exchange` (request, status, headers, body or raw SSE bytes and
parsed events, timings) that is redacted at capture time: credential headers are replaced by
``[REDACTED]`` and every known secret value is scrubbed from URLs, headers and bodies, so no
API key can reach a report, a log or an attachment.

Limits: per-request connect/read timeouts, a total deadline per exchange (a server that trickles
bytes forever is cut off), a response size cap, and redirects are followed only within the same
origin (credentials never go to another host).

Connections: :func:`pooled_client` keeps one ``httpx.Client`` per process for each target origin
and transport limits, so every case of a worker reuses its connections (HTTP keep-alive) and one
TLS context, instead of loading the CA bundle and connecting again per case. A pooled client keeps
no cookies itself; each :class:`Transport` keeps its own, as a client of its own would.
:func:`close_pooled_clients` closes them at the end of a session.
"""

from __future__ import annotations

import functools
import http.cookiejar
import json as jsonlib
import os
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import httpx

from conformance.exchange import Exchange, Recorder
from conformance.redact import REDACTED, SENSITIVE_HEADERS, Redactor
from conformance.retry import RetryPolicy

__all__ = ["Exchange", "Limits", "REDACTED", "Redactor", "SENSITIVE_HEADERS", "Transport", "close_pooled_clients", "pooled_client"]

_MISSING = object()


@dataclass(frozen=True)
class Limits:
    connect_s: float = 5.0
    read_s: float = 60.0
    total_s: float = 120.0
    max_bytes: int = 8 * 1024 * 1024
    max_redirects: int = 3
    retry: RetryPolicy = RetryPolicy()


@functools.lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """The verifying TLS context, built once per process (loading the CA bundle costs ~15 ms)."""
    return httpx.create_ssl_context()


# An idle connection is dropped after this long, before common server keep-alive timeouts (gunicorn
# 2 s, uvicorn and Node 5 s) can close it under a request being sent; cases follow each other
# within milliseconds, so a run still reuses its connections.
KEEPALIVE_S = 1.0


def _new_client(limits: Limits) -> httpx.Client:
    timeout = httpx.Timeout(connect=limits.connect_s, read=limits.read_s, write=limits.read_s, pool=limits.connect_s)
    pool = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_S)
    return httpx.Client(timeout=timeout, limits=pool, follow_redirects=False, trust_env=False, verify=ssl_context())


_POOL: dict[tuple[int, str, Limits], httpx.Client] = {}
_POOL_LOCK = threading.Lock()


def pooled_client(base_url: str, limits: Limits = Limits()) -> httpx.Client:
    """This process's shared client for a target origin and transport limits (created on first use)."""
    key = (os.getpid(), _origin(base_url) if "://" in base_url else base_url, limits)
    with _POOL_LOCK:
        client = _POOL.get(key)
        if client is None or client.is_closed:
            client = _new_client(limits)
            client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # no cookie crosses cases
            _POOL[key] = client
        return client


def close_pooled_clients() -> None:
    """Close every pooled client of this process (the end of a session)."""
    with _POOL_LOCK:
        clients = [c for (pid, _, _), c in _POOL.items() if pid == os.getpid()]
        _POOL.clear()
    for client in clients:
        client.close()


class Transport:
    """Sends requests to one target and records every exchange."""

    def __init__(
        self,
        base_url: str,
        *,
        limits: Limits = Limits(),
        redactor: Redactor | None = None,
        extra_headers: dict[str, str] | None = None,
        on_exchange: Callable[[Exchange], int] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limits = limits
        self.redactor = redactor or Redactor()
        self.extra_headers = dict(extra_headers or {})
        self.on_exchange = on_exchange
        self._owns_client = client is None
        self._client = client or _new_client(limits)
        self._cookies = httpx.Cookies()  # this transport's own, also when the client is shared

    def close(self) -> None:
        """Close the client if this transport made it; a shared (pooled) client stays open."""
        if self._owns_client:
            self._client.close()

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _MISSING,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        expect_done: bool = False,
        stream: bool = False,
    ) -> Exchange:
        """Send one request. Never raises for HTTP or transport failures: see ``Exchange.error``."""
        url = self.url_for(path)
        send_headers = {**self.extra_headers, **(headers or {})}
        send_headers = {k: v for k, v in send_headers.items() if v is not None}
        if json is not _MISSING:
            body_bytes = jsonlib.dumps(json).encode()
            send_headers.setdefault("content-type", "application/json")
            recorded_body = self.redactor.obj(json)
        elif content is not None:
            body_bytes = content.encode() if isinstance(content, str) else content
            recorded_body = self.redactor.text(body_bytes.decode("utf-8", "replace"))
        else:
            body_bytes = None
            recorded_body = None
        exchange = Exchange(
            index=-1,
            method=method,
            url=self.redactor.text(url),
            request_headers=self.redactor.headers(send_headers.items()),
            request_body=recorded_body,
        )
        started = time.monotonic()
        policy = self.limits.retry
        waited = 0.0
        attempt = 1
        try:
            while True:
                self._send(exchange, method, url, send_headers, body_bytes, expect_done or stream, expect_done, started)
                if exchange.error is not None or not policy.should_retry(exchange.status, attempt):
                    break
                delay = policy.delay(exchange.headers.get("retry-after"), attempt, waited)
                if delay is None:
                    exchange.retry_note = f"not retried: Retry-After {exchange.headers.get('retry-after')!r} is beyond the {policy.max_wait_s:g}s retry budget"
                    break
                time.sleep(delay)
                waited += delay
                attempt += 1
                exchange = self._fresh(exchange)
        finally:
            exchange.timings["total_s"] = time.monotonic() - started
            if attempt > 1:
                exchange.timings["attempts"] = attempt
                exchange.timings["retry_wait_s"] = waited
            if self.on_exchange is not None:
                exchange.index = self.on_exchange(exchange)
        return exchange

    @staticmethod
    def _fresh(previous: Exchange) -> Exchange:
        """The same request, with nothing of the previous answer (for a retry)."""
        return Exchange(index=-1, method=previous.method, url=previous.url,
                        request_headers=previous.request_headers, request_body=previous.request_body)

    # -- internals ------------------------------------------------------------------------------
    def _send(self, ex: Exchange, method, url, headers, body, stream, expect_done, started) -> None:
        origin = _origin(url)
        for _ in range(self.limits.max_redirects + 1):
            try:
                request = self._client.build_request(method, url, headers=headers, content=body, cookies=self._cookies)
                response = self._client.send(request, stream=True)
                self._cookies.extract_cookies(response)
            except httpx.TimeoutException as exc:
                self._fail(ex, "timeout", f"timed out before the response headers arrived ({_name(exc)})")
                return
            except httpx.HTTPError as exc:
                self._fail(ex, "connect", f"could not reach {_origin(url)}: {_name(exc)}: {exc}")
                return
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    target = urljoin(url, location)
                    if _origin(target) != origin:
                        self._capture_head(ex, response)
                        self._fail(
                            ex,
                            "redirect",
                            f"redirected to another origin ({_origin(target)}); not followed, so "
                            "credentials are not sent there",
                        )
                        return
                    url = target
                    continue
                self._capture_head(ex, response)
                ex.timings["first_byte_s"] = time.monotonic() - started
                self._read_body(ex, response, stream, expect_done, started)
                return
            finally:
                response.close()
        self._fail(ex, "redirect", f"more than {self.limits.max_redirects} redirects")

    def _capture_head(self, ex: Exchange, response: httpx.Response) -> None:
        ex.status = response.status_code
        ex.headers = self.redactor.headers(response.headers.multi_items())

    def _read_body(self, ex: Exchange, response: httpx.Response, stream: bool, expect_done: bool, started: float) -> None:
        recorder = Recorder(ex, self.redactor, stream=stream, expect_done=expect_done)
        try:
            for chunk in response.iter_bytes():  # content-decoded (gzip, deflate): what every client reads
                if recorder.size + len(chunk) > self.limits.max_bytes:
                    self._fail(ex, "too_large", f"response larger than {self.limits.max_bytes} bytes; reading stopped")
                    break
                if recorder.feed(chunk) and "first_event_s" not in ex.timings:
                    ex.timings["first_event_s"] = time.monotonic() - started
                if time.monotonic() - started > self.limits.total_s:
                    self._fail(ex, "timeout", f"response not complete after {self.limits.total_s:g}s; reading stopped")
                    break
        except httpx.TimeoutException:
            self._fail(ex, "timeout", f"no data for {self.limits.read_s:g}s while reading the response")
        except httpx.HTTPError as exc:
            self._fail(ex, "read", f"connection failed while reading the response: {_name(exc)}: {exc}")
        recorder.finish(complete=ex.error is None)

    @staticmethod
    def _fail(ex: Exchange, kind: str, message: str) -> None:
        if ex.error is None:
            ex.error, ex.error_kind = message, kind


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _name(exc: BaseException) -> str:
    return type(exc).__name__
