"""The one HTTP transport: every request the suite sends goes through :class:`Transport`.

Each call produces an :class:`Exchange` (request, status, headers, body or raw SSE bytes and
parsed events, timings) that is redacted at capture time: credential headers are replaced by
``[REDACTED]`` and every known secret value is scrubbed from URLs, headers and bodies, so no
API key can reach a report, a log or an attachment.

Limits: per-request connect/read timeouts, a total deadline per exchange (a server that trickles
bytes forever is cut off), size caps (a body, a stream, its number of events, and the body after
gzip/deflate decoding: a compression bomb is cut at the same cap), and redirects are followed only
within the same origin (credentials never go to another host). A :class:`~conformance.guard.RunGuard`
adds the run deadline and the breaker. Every limit reached is an exchange error naming it.

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
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import httpx

from conformance.exchange import MAX_BODY_BYTES, MAX_EVENTS, MAX_STREAM_BYTES, RECORD_BYTES, Exchange, Recorder
from conformance.redact import REDACTED, SENSITIVE_HEADERS, Redactor
from conformance.retry import RetryPolicy

__all__ = ["Exchange", "Limits", "REDACTED", "Redactor", "SENSITIVE_HEADERS", "Transport"]

_MISSING = object()


@dataclass(frozen=True)
class Limits:
    connect_s: float = 5.0
    read_s: float = 60.0
    total_s: float = 120.0
    max_bytes: int = MAX_BODY_BYTES  # a response body (after content decoding)
    max_redirects: int = 3
    max_stream_bytes: int = MAX_STREAM_BYTES  # a stream
    max_events: int = MAX_EVENTS  # events of a stream
    record_bytes: int = RECORD_BYTES  # stored in results.json per exchange (bounded recording)
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


ACCEPT_ENCODING = "gzip, deflate"  # what _Decoder decodes (with a bound on the decoded size)


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
        guard: Any = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limits = limits
        self.redactor = redactor or Redactor()
        self.extra_headers = dict(extra_headers or {})
        self.on_exchange = on_exchange
        self.guard = guard  # conformance.guard.RunGuard: run deadline and breaker
        self._owns_client = client is None
        self._client = client or _new_client(limits)
        self._cookies = httpx.Cookies()  # this transport's own, also when the client is shared

    def close(self) -> None:
        """Close the client if this transport created it (a pooled client outlives the case)."""
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
        if not any(k.lower() == "accept-encoding" for k in send_headers):
            send_headers["accept-encoding"] = ACCEPT_ENCODING
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
            record_limit=self.limits.record_bytes,
        )
        started = time.monotonic()
        origin = _origin(url)
        policy = self.limits.retry
        waited = 0.0
        attempt = 1
        try:
            while True:
                blocked = self.guard.before_send(origin) if self.guard is not None else None
                if blocked:
                    self._fail(exchange, "stopped", blocked)
                    break
                self._send(exchange, method, url, send_headers, body_bytes, expect_done or stream, expect_done, started)
                if self.guard is not None:
                    self.guard.after(origin, exchange)
                if exchange.error is not None or not policy.should_retry(exchange.status, attempt):
                    break
                delay = policy.delay(exchange.headers.get("retry-after"), attempt, waited)
                left = self.guard.remaining() if self.guard is not None else None
                if delay is None or (left is not None and delay >= left):
                    why = f"beyond the {policy.max_wait_s:g}s retry budget" if delay is None else "beyond the run deadline"
                    exchange.retry_note = f"not retried: Retry-After {exchange.headers.get('retry-after')!r} is {why}"
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
        return Exchange(index=-1, method=previous.method, url=previous.url, request_headers=previous.request_headers,
                        request_body=previous.request_body, record_limit=previous.record_limit)

    # -- internals ------------------------------------------------------------------------------
    def _send(self, ex: Exchange, method, url, headers, body, stream, expect_done, started) -> None:
        total_s, total_name = self._total()
        watchdog = _Watchdog(total_s)
        try:
            self._send_guarded(ex, method, url, headers, body, stream, expect_done, started, watchdog)
        finally:
            watchdog.cancel()
        if watchdog.fired:  # the connection was cut at the exchange's deadline: that is the error
            ex.error = ex.error_kind = None
            if ex.status is None:
                self._fail(ex, "timeout", f"timed out before the response headers arrived (none within {total_name})")
            else:
                self._fail(ex, "timeout", f"response not complete after {total_name}; reading stopped")

    def _send_guarded(self, ex: Exchange, method, url, headers, body, stream, expect_done, started, watchdog: "_Watchdog") -> None:
        origin = _origin(url)
        timeout = self._timeout()
        extensions = {"trace": watchdog.trace}
        for _ in range(self.limits.max_redirects + 1):
            try:
                request = self._client.build_request(method, url, headers=headers, content=body, extensions=extensions,
                                                     cookies=self._cookies, **({"timeout": timeout} if timeout else {}))
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

    def _timeout(self) -> httpx.Timeout | None:
        """The client's timeouts, capped by what is left of the run deadline."""
        left = self.guard.remaining() if self.guard is not None else None
        if left is None:
            return None
        limits = self.limits
        left = max(left, 0.01)
        return httpx.Timeout(connect=min(limits.connect_s, left), read=min(limits.read_s, left), write=min(limits.read_s, left), pool=min(limits.connect_s, left))

    def _total(self) -> tuple[float, str]:
        """Seconds one exchange may take, and what to call it when it runs out."""
        left = self.guard.remaining() if self.guard is not None else None
        if left is not None and left < self.limits.total_s:
            return max(left, 0.0), "the run deadline"
        return self.limits.total_s, f"{self.limits.total_s:g}s"

    def _capture_head(self, ex: Exchange, response: httpx.Response) -> None:
        ex.status = response.status_code
        items = response.headers.multi_items()
        ex.headers = self.redactor.headers(items)
        before = self.redactor.hits
        for name, value in items:
            if name.lower() not in SENSITIVE_HEADERS and self.redactor.text(value) != value:
                ex.secret_echo.append(f"header {name.lower()}")
        self.redactor.hits = before  # counted once, above

    def _read_body(self, ex: Exchange, response: httpx.Response, stream: bool, expect_done: bool, started: float) -> None:
        limits = self.limits
        recorder = Recorder(ex, self.redactor, stream=stream, expect_done=expect_done,
                            max_body=limits.max_bytes, max_stream=limits.max_stream_bytes, max_events=limits.max_events)
        total_s, total_name = self._total()
        try:
            decoder = _Decoder(response.headers.get("content-encoding", ""))
        except ValueError as exc:
            self._fail(ex, "decode", str(exc))
            recorder.finish(complete=False)
            return
        try:
            for raw in response.iter_raw():
                for chunk in decoder.decode(raw):
                    if recorder.feed(chunk) and "first_event_s" not in ex.timings:
                        ex.timings["first_event_s"] = time.monotonic() - started
                    if recorder.limit_error:
                        break
                if recorder.limit_error:
                    compressed = f" after {decoder.name} decoding" if decoder.name else ""
                    self._fail(ex, "too_large", recorder.limit_error.replace("; reading", f"{compressed}; reading", 1))
                    break
                if time.monotonic() - started > total_s:
                    self._fail(ex, "timeout", f"response not complete after {total_name}; reading stopped")
                    break
            else:
                for chunk in decoder.flush():
                    recorder.feed(chunk)
        except httpx.TimeoutException:
            self._fail(ex, "timeout", f"no data for {min(limits.read_s, total_s):g}s while reading the response")
        except httpx.HTTPError as exc:
            self._fail(ex, "read", f"connection failed while reading the response: {_name(exc)}: {exc}")
        except zlib.error as exc:
            self._fail(ex, "decode", f"the {decoder.name} body could not be decoded: {exc}")
        recorder.finish(complete=ex.error is None)

    def _fail(self, ex: Exchange, kind: str, message: str) -> None:
        if ex.error is None:
            before = self.redactor.hits
            ex.error, ex.error_kind = self.redactor.text(message), kind
            if self.redactor.hits > before:
                ex.secret_echo.append("error")


class _Watchdog:
    """Cuts the connection when an exchange's total time is up, whatever phase it is in (a
    server that drips its status line a byte at a time never trips a read timeout)."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._cancelled = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with self._lock:
                self._socket = sock
                if self.fired:
                    self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            if not self._cancelled:
                self.fired = True
                self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
        self._timer.cancel()


class _Decoder:
    """Content decoding with a bound: output comes in pieces of at most 64 KB, so the reader can
    stop at its size limit however much a small compressed body would expand to."""

    PIECE = 64 * 1024

    def __init__(self, encoding: str) -> None:
        names = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
        if len(names) > 1 or (names and names[0] not in ("gzip", "x-gzip", "deflate")):
            raise ValueError(f"response uses content-encoding {encoding!r}, which was not asked for (accept-encoding: {ACCEPT_ENCODING})")
        self.name = names[0] if names else ""
        self._zlib = None
        if self.name in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.name == "deflate":
            self._zlib = zlib.decompressobj()
            self._first = True

    def decode(self, data: bytes):
        if self._zlib is None:
            if data:
                yield data
            return
        if self.name == "deflate" and self._first and data:
            self._first = False
            try:
                probe = zlib.decompressobj()
                probe.decompress(data[:2])
            except zlib.error:  # raw deflate without the zlib header (servers send both)
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        while data:
            out = self._zlib.decompress(data, self.PIECE)
            if out:
                yield out
            data = self._zlib.unconsumed_tail

    def flush(self):
        if self._zlib is not None:
            out = self._zlib.flush()
            if out:
                yield out


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _name(exc: BaseException) -> str:
    return type(exc).__name__
