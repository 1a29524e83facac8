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
            response = inner.handle_request(request)
            try:
                body = response.read()
            finally:
                response.close()
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
        _note(case, Outcome(client, version(client) or "?", feature, "breaks" if not (optional and status and 400 <= status < 500) else "not_exercised", describe(exc), "exception"))
        if optional and isinstance(status, int) and 400 <= status < 500:
            case.unsupported(f"{feature} refused with {status} ({describe(exc)[:160]})")
        case.require(case.check(check_client_call, client, version(client) or "?", feature, describe(exc)))
        return None
    _note(case, Outcome(client, version(client) or "?", feature, "works"))
    return result


def _note(case: Any, outcome: Outcome) -> None:
    """Attach the live outcome to the case's last exchange (the readiness matrix reads it)."""
    if case.exchanges:
        case.exchanges[-1].__dict__.setdefault("_lane_outcomes", []).append(outcome)
