"""Shared building blocks of the OpenAI suites: request bodies and the check bundles every
reply and every stream goes through."""

from __future__ import annotations

from typing import Any

from conformance.checks.openai_chat import check_choice_indexes, check_request_id_header
from conformance.errors import CaseStop
from conformance.exchange import Exchange

HELLO = "Reply with exactly: Hello from the conformance suite"


def chat_body(case, content: str = HELLO, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": case.model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": content},
        ],
        "max_completion_tokens": case.budget(),  # generous ([limits]): a reply cut short proves nothing
    }
    body.update(extra)
    return body


def chat_path(case) -> str:
    return case.rule("chat_path", default="/chat/completions")


def send(case, body: dict[str, Any]) -> Exchange:
    streamed = body.get("stream") is True
    return case.post(chat_path(case), body, expect_done=streamed, stream=streamed)


def check_request_id(case, exchange: Exchange) -> None:
    header = case.rule("request_id_header", default="")
    if header:
        case.check(check_request_id_header, exchange, header)


def check_reply(case, exchange: Exchange, n: int | None = None) -> dict[str, Any]:
    """A documented request's non-streamed reply: it succeeds, and every rule judge() applies to it
    (shape, indexes, usage, and whatever the request asked for). Stops the case only when there is
    no JSON object to look at; a failing rule never hides another."""
    case.expect_success(exchange)
    case.judge(exchange)
    if n is not None:
        case.check(check_choice_indexes, exchange, n)
    if not isinstance(exchange.body, dict):
        raise CaseStop()
    return exchange.body


def check_stream(case, exchange: Exchange, include_usage: bool = False) -> None:
    """A documented request's stream: it succeeds, and every rule judge() applies to it."""
    case.expect_success(exchange)
    case.judge(exchange)


def refused_cleanly(case, exchange: Exchange, what: str, feature: str | None = None) -> None:
    """A refusal of a requested feature, classified (conformance.verdicts): UNSUPPORTED when the
    profile marks ``feature`` optional and the refusal is clean (documented error shape), FAIL when
    it documents it as required or the answer is 401/403/404, ERROR for 429/5xx after retries."""
    if exchange.status is None or 200 <= exchange.status < 300:
        return
    if 400 <= exchange.status < 500 and exchange.status not in (401, 403, 404, 429):
        from conformance.checks.errors import check_error_shape

        case.require(case.check(check_error_shape, exchange, case.schemas, case.strictness))
    case.refused(exchange, feature or feature_of(what), what=what)


def feature_of(what: str) -> str:
    """The feature key a refusal label names: 'n=2 (stream)' → 'n', 'tool_choice required' → 'tool_choice.required'."""
    head = what.split(" (")[0].split("=")[0].strip()
    return ".".join(head.split())


def check_reply_or_unsupported(case, exchange: Exchange, what: str, n: int | None = None, feature: str | None = None) -> dict[str, Any]:
    """A requested feature: a well-formed reply, or a refusal classified by the profile (see refused_cleanly)."""
    refused_cleanly(case, exchange, what, feature)
    return check_reply(case, exchange, n)
