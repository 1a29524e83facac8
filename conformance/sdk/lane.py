"""The client lane: the official SDK clients themselves, calling the target.

A case builds a client with :func:`openai_client` / :func:`anthropic_client`: retries off, the
SDK's default headers as they are (plus the target's own extra headers), and an HTTP transport
that records every request and its complete response as an :class:`~conformance.exchange.Exchange`
of the case (redacted like any other), so the reports show what the client sent and received and
the replay of the SDK checks sees them too. :func:`call` runs one client call and turns what
happened into the case's verdict: the result, or a finding naming the client, its version and the
exception.
"""

from __future__ import annotations

from types import SimpleNamespace

from typing import Any, Callable

from conformance.sdk import ANTHROPIC, OPENAI, Outcome, describe, http_module, quiet, version

_DROP = {"content-encoding", "content-length", "transfer-encoding"}


def _recording_client(case: Any, client: str) -> Any:
    """The SDK's HTTP library's client, recording each exchange into the case."""
    from conformance.exchange import record

    httpx = http_module(client)
    limits = case.target.limits
    inner = httpx.HTTPTransport()

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            guard = getattr(getattr(case, "session", None), "guard", None)  # the run deadline and breaker, as for every exchange
            if guard is not None:
                origin = f"{request.url.scheme}://{request.url.netloc.decode() if isinstance(request.url.netloc, bytes) else request.url.netloc}"
                blocked = guard.before_send(origin)
                if blocked:
                    raise httpx.ConnectError(blocked, request=request)
                left = guard.remaining()
                if left is not None:
                    cap = max(left, 0.01)
                    request.extensions["timeout"] = {"connect": min(limits.connect_s, cap), "read": min(limits.read_s, cap),
                                                     "write": min(limits.read_s, cap), "pool": min(limits.connect_s, cap)}
            ticket = _admit(case, request)  # the run's budget and pacing (conformance.budget), like every other try
            body = None
            try:
                try:
                    response, body = _bounded(lambda: _fetch(inner, request), _total(limits, guard), httpx, request)
                except httpx.TimeoutException:
                    if guard is not None:  # the breaker counts the lane's failures like any other exchange's
                        guard.after(origin, SimpleNamespace(error_kind="timeout", status=None, error="timed out (client lane)"))
                    raise
                except httpx.TransportError:
                    if guard is not None:
                        guard.after(origin, SimpleNamespace(error_kind="read", status=None, error="connection failed (client lane)"))
                    raise
            finally:
                if ticket is not None:
                    _settle(case, ticket, body)
            if guard is not None:
                guard.after(origin, SimpleNamespace(error_kind=None, status=response.status_code, error=None))
            exchange = record(method=request.method, url=str(request.url), request_headers=list(request.headers.items()),
                              request_body=request.content, status=response.status_code, headers=list(response.headers.items()),
                              body=body, redactor=case.redactor)
            exchange.index = case._record_exchange(exchange)
            headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _DROP]
            return httpx.Response(response.status_code, headers=headers, content=body, request=request)

        def close(self) -> None:
            inner.close()

    timeout = httpx.Timeout(limits.read_s, connect=limits.connect_s)
    return httpx.Client(transport=Recording(), timeout=timeout, follow_redirects=False)


def _fetch(inner: Any, request: Any) -> tuple[Any, bytes]:
    response = inner.handle_request(request)
    try:
        return response, response.read()
    finally:
        response.close()


def _total(limits: Any, guard: Any) -> float:
    """The time one exchange may take: the transport's total, capped by the run deadline."""
    left = guard.remaining() if guard is not None else None
    return max(0.01, min(limits.total_s, left)) if left is not None else limits.total_s


def _bounded(work: Any, seconds: float, httpx: Any, request: Any) -> Any:
    """``work()`` within ``seconds`` (a server that drips bytes never trips a read timeout): past it,
    a ReadTimeout, as the transport's watchdog gives; the worker is a daemon thread, so a server that
    never stops cannot hold the run at its end."""
    import threading

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=run, name="client-lane-request", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise httpx.ReadTimeout(f"response not complete after {seconds:g}s", request=request)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _admit(case: Any, request: Any) -> Any:
    """A place for this try in the run's budget and pacing; the case is SKIP (budget) past the budget."""
    gate = getattr(getattr(case, "session", None), "gate", None)
    if gate is None:
        return None
    import json

    import pytest

    from conformance.budget import BudgetSpent

    try:
        payload = json.loads(request.content or b"null")
    except ValueError:
        payload = None
    try:
        return gate.admit(payload)
    except BudgetSpent as exc:  # pytest's skip is not an Exception: the client does not swallow it
        pytest.skip(str(exc))


def _settle(case: Any, ticket: Any, body: bytes | None) -> None:
    import json

    from conformance.sse import SSEParser

    events: list[Any] = []
    parsed: Any = None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        events = [e.json for e in SSEParser().feed(body or b"")]
    case.session.gate.settle(ticket, parsed, events)


def openai_client(case: Any) -> Any:
    import openai

    quiet()
    _require_bearer(case, OPENAI)
    base = (case.target.base_url or "").rstrip("/")
    path = case.rule("chat_path", default="/chat/completions") or "/chat/completions"
    if path.rstrip("/") != "/chat/completions":
        case.skip(f"the profile's chat path {path!r} is not where openai-python posts (base_url + /chat/completions)")
    return openai.OpenAI(api_key=case.session.api_key or "sk-none", base_url=base, max_retries=0,
                         default_headers=dict(case.target.headers or {}), http_client=_recording_client(case, OPENAI))


def anthropic_client(case: Any) -> Any:
    import anthropic

    quiet()
    _require_bearer(case, ANTHROPIC)
    base = (case.target.base_url or "").rstrip("/")
    path = case.rule("messages_path", default="/messages") or "/messages"
    if not base.endswith("/v1") or path.rstrip("/") != "/messages":
        case.skip(f"anthropic-python posts to <base>/v1/messages; the target is {base}{path}")
    return anthropic.Anthropic(api_key=case.session.api_key or "sk-none", base_url=base[: -len("/v1")], max_retries=0,
                               default_headers=dict(case.target.headers or {}), http_client=_recording_client(case, ANTHROPIC))


def _require_bearer(case: Any, client: str) -> None:
    """openai-python and anthropic-python 2.x send the key as Authorization: Bearer."""
    schemes = case.rule("auth", default=["bearer"]) or []
    if "bearer" not in schemes:
        case.skip(f"{client} sends the key as Authorization: Bearer, which the profile does not document (auth: {', '.join(schemes)})")


def call(case: Any, client: str, feature: str, fn: Callable[[], Any], *, optional: bool = False) -> Any:
    """Run one client call; an exception is the case's finding (a clean 4xx of an optional
    feature: UNSUPPORTED). The outcome joins the client-readiness matrix."""
    from conformance.checks.sdk import check_client_call

    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - what the client raises is the finding
        status = getattr(exc, "status_code", None)
        if _transport_failure(exc, status):  # the target did not answer (in time): ERROR, not a verdict on the client
            _note(case, Outcome(client, version(client) or "?", feature, "not_exercised", describe(exc), "exception"))
            from conformance.errors import TransportFailure

            raise TransportFailure(f"{client} {feature}: {describe(exc)[:200]}") from None
        _note(case, Outcome(client, version(client) or "?", feature, "breaks" if not (optional and status and 400 <= status < 500) else "not_exercised", describe(exc), "exception"))
        if optional and isinstance(status, int) and 400 <= status < 500:
            case.unsupported(f"{feature} refused with {status} ({describe(exc)[:160]})")
        case.require(case.check(check_client_call, client, version(client) or "?", feature, describe(exc)))
        return None
    _note(case, Outcome(client, version(client) or "?", feature, "works"))
    return result


def _transport_failure(exc: BaseException, status: Any) -> bool:
    """A timeout, a refused or reset connection, or a 429/5xx the client gave up on: the target
    did not answer, so the case is ERROR (as for any other exchange), never a FAIL of the client."""
    from conformance.retry import RETRY_STATUSES

    names = {klass.__name__ for klass in type(exc).__mro__}
    return bool(names & {"APITimeoutError", "APIConnectionError"}) or status in RETRY_STATUSES


def _note(case: Any, outcome: Outcome) -> None:
    """Attach the live outcome to the case's last exchange (the readiness matrix reads it)."""
    if case.exchanges:
        case.exchanges[-1].__dict__.setdefault("_lane_outcomes", []).append(outcome)
