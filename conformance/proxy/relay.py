"""The relay: an ASGI app (Starlette requests and responses, served by uvicorn) that forwards every
request unchanged to one upstream and relays the answer unchanged, chunk by chunk as it arrives.

What it changes, and only this: hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded, ``Host``
is the upstream's, and ``Content-Length`` is recomputed for the (identical) request body. Bodies,
query strings, credentials and every other header go through as they are; the response body is
relayed byte for byte (still content-encoded, if it was) with the upstream's own status, headers,
``date`` and ``server``.

The proxy only ever talks to the ``--upstream`` origin: the destination never comes from the
request (absolute-form targets naming another host are refused, ``Host`` is ignored), and every
URL built is checked to be on the upstream's scheme, host and port before it is sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import anyio
import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from conformance.proxy.judging import Recording

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
     "proxy-authenticate", "proxy-authorization"}
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "expect"}


@dataclass(frozen=True)
class RelaySettings:
    upstream: str  # scheme://host[:port][/prefix], no trailing slash
    max_body_bytes: int = 32 * 1024 * 1024
    max_record_bytes: int = 8 * 1024 * 1024
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 600.0

    @property
    def origin(self) -> str:
        parts = urlsplit(self.upstream)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def prefix(self) -> str:
        return urlsplit(self.upstream).path.rstrip("/")


def upstream_url(settings: RelaySettings, raw_path: str, query: str) -> str:
    """Where a request for ``raw_path`` goes: paths already under the upstream's path prefix go
    as they are (a client whose base URL is ``http://proxy/v1``), others are put under it."""
    prefix = settings.prefix
    path = raw_path if (not prefix or raw_path == prefix or raw_path.startswith(prefix + "/")) else prefix + raw_path
    return f"{settings.origin}{path}" + (f"?{query}" if query else "")


def same_origin(url: str, origin: str) -> bool:
    a, b = httpx.URL(url), httpx.URL(origin)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port) and not a.userinfo


def forwarded_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The request's headers minus hop-by-hop ones (and those its Connection header names)."""
    named = {t.strip().lower() for k, v in raw if k.lower() == b"connection" for t in v.decode("latin-1").split(",")}
    return [(k, v) for k, v in raw if k.decode("latin-1").lower() not in NOT_FORWARDED and k.decode("latin-1").lower() not in named]


def relayed_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    named = {t.strip().lower() for k, v in raw if k.lower() == b"connection" for t in v.decode("latin-1").split(",")}
    return [(k.lower(), v) for k, v in raw if k.decode("latin-1").lower() not in HOP_BY_HOP and k.decode("latin-1").lower() not in named]


def _text_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]


def proxy_error(status: int, message: str, path: str, code: str) -> Response:
    """The proxy's own answer (never the upstream's): a JSON error in the shape of the API the
    client is calling, so an SDK shows the message."""
    if path.rstrip("/").endswith("/messages"):
        body = {"type": "error", "error": {"type": "api_error" if status >= 500 else "invalid_request_error", "message": message}}
    else:
        body = {"error": {"message": message, "type": "proxy_error", "code": code, "param": None}}
    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers={"x-conformance-proxy": code})


class ProxyApp:
    """The ASGI application: one upstream client for the life of the server (lifespan)."""

    def __init__(self, settings: RelaySettings, submit: Callable[[Recording], None]) -> None:
        self.settings = settings
        self.submit = submit
        self.client: httpx.AsyncClient | None = None
        self._seq = 0
        self.open_upstream = 0  # upstream responses currently open (for tests and the live line)

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            timeout = httpx.Timeout(connect=self.settings.connect_timeout_s, read=self.settings.read_timeout_s,
                                    write=self.settings.read_timeout_s, pool=self.settings.connect_timeout_s)
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
            self.client = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)
        return self.client

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._client()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.client is not None:
                        await self.client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        settings = self.settings
        scope = request.scope
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        if request.method == "CONNECT":
            return proxy_error(405, "conformance proxy: CONNECT is not supported; this proxy forwards only to " + settings.origin, raw_path, "method_not_allowed")
        if not raw_path.startswith("/"):  # absolute-form target: http://host/path
            target = urlsplit(raw_path)
            if not raw_path.startswith(("http://", "https://")) or not same_origin(f"{target.scheme}://{target.netloc}", settings.origin):
                where = target.netloc or raw_path[:80]
                return proxy_error(400, f"conformance proxy: refusing to forward to {where}: this proxy forwards only to {settings.origin}", "", "other_host_refused")
            raw_path = target.path or "/"
        url = upstream_url(settings, raw_path, query)
        if not same_origin(url, settings.origin):
            return proxy_error(400, f"conformance proxy: refusing a request target that does not stay on {settings.origin}", raw_path, "other_host_refused")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return proxy_error(413, f"conformance proxy: request body of {declared} bytes is larger than the limit of {settings.max_body_bytes} bytes (--max-body-bytes)", raw_path, "request_too_large")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.max_body_bytes:
                    return proxy_error(413, f"conformance proxy: request body larger than the limit of {settings.max_body_bytes} bytes (--max-body-bytes)", raw_path, "request_too_large")
                chunks.append(chunk)
        except ClientDisconnect:
            return Response(status_code=499)  # nobody is there to read it
        body = b"".join(chunks)
        headers = forwarded_headers(request.headers.raw)
        self._seq += 1
        recording = Recording(
            seq=self._seq, method=request.method, url=url, request_headers=_text_headers(headers),
            request_body=body, started_at=time.time(),
        )
        started = time.monotonic()
        has_body = bool(body) or declared is not None or "transfer-encoding" in request.headers
        upstream_request = httpx.Request(request.method, url, headers=headers, content=body if has_body else None)
        try:
            upstream = await self._send_unless_client_leaves(upstream_request, request.receive)
        except ClientDisconnect:
            recording.error, recording.error_kind = "the client disconnected before the upstream answered", "client_disconnected"
            recording.timings["total_s"] = time.monotonic() - started
            self.submit(recording)
            return Response(status_code=499)  # nobody is there to read it
        except httpx.TimeoutException as exc:
            return self._failed(recording, started, 504, "timeout", f"conformance proxy: the upstream {settings.origin} did not answer in time ({type(exc).__name__})", raw_path)
        except httpx.HTTPError as exc:
            return self._failed(recording, started, 502, "connect", f"conformance proxy: could not reach the upstream {settings.origin}: {type(exc).__name__}: {exc}", raw_path)
        recording.status = upstream.status_code
        recording.response_headers = _text_headers(upstream.headers.raw)
        recording.timings["first_byte_s"] = time.monotonic() - started
        return RelayResponse(self, upstream, recording, started)

    async def _send_unless_client_leaves(self, upstream_request: httpx.Request, receive: Any) -> httpx.Response:
        """Send upstream and wait for its headers; a client leaving meanwhile cancels the request
        (raises ClientDisconnect), so a slow upstream does not keep working for nobody."""
        result: list[httpx.Response] = []
        failure: list[Exception] = []
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_disconnect)
            try:
                result.append(await self._client().send(upstream_request, stream=True))
            except Exception as exc:  # noqa: BLE001 - raised below, outside the task group (not as a group)
                failure.append(exc)
            finally:
                group.cancel_scope.cancel()
        if failure:
            raise failure[0]
        if not result:
            raise ClientDisconnect()
        return result[0]

    def _failed(self, recording: Recording, started: float, status: int, kind: str, message: str, path: str) -> Response:
        recording.error, recording.error_kind = message, kind
        recording.timings["total_s"] = time.monotonic() - started
        self.submit(recording)
        return proxy_error(status, message, path, "upstream_unreachable" if kind == "connect" else "upstream_timeout")


class RelayResponse(Response):
    """The upstream's response, relayed as it arrives; records the same chunks it sends and hands
    the recording to the judge when the exchange is over (complete, cut, or abandoned)."""

    def __init__(self, app: ProxyApp, upstream: httpx.Response, recording: Recording, started: float) -> None:
        self.app = app
        self.upstream = upstream
        self.recording = recording
        self.started = started
        self.status_code = upstream.status_code
        self.raw_headers = relayed_headers(upstream.headers.raw)
        self.background = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app, rec, upstream = self.app, self.recording, self.upstream
        limit = app.settings.max_record_bytes
        kept: list[bytes] = []
        size = 0
        complete = finishing = False
        app.open_upstream += 1
        try:
            async with anyio.create_task_group() as group:

                async def watch_disconnect() -> None:
                    nonlocal finishing
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    if not finishing and rec.error_kind is None:  # (after the last byte, uvicorn says disconnect too)
                        rec.error, rec.error_kind = "the client disconnected", "client_disconnected"
                    group.cancel_scope.cancel()

                group.start_soon(watch_disconnect)
                try:
                    await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                    async for chunk in upstream.aiter_raw():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        if size + len(chunk) <= limit:
                            kept.append(chunk)
                        else:
                            rec.truncated = True
                        size += len(chunk)
                    finishing = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    complete = True
                except OSError:  # the client went away while we were sending
                    rec.error, rec.error_kind = "the client disconnected", "client_disconnected"
                except httpx.HTTPError as exc:
                    # the upstream broke mid-response: the client's connection is closed the same way
                    rec.error, rec.error_kind = f"the upstream connection failed while reading the response: {type(exc).__name__}: {exc}", "read"
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await upstream.aclose()  # an unfinished upstream request is cancelled here
            app.open_upstream -= 1
            rec.body = b"".join(kept)
            rec.timings["total_s"] = time.monotonic() - self.started
            rec.timings["bytes"] = float(size)
            if not complete and rec.error_kind is None:
                rec.error, rec.error_kind = "the relay was cancelled before the response was complete", "client_disconnected"
            app.submit(rec)
