"""Shared building blocks of the OpenAI suites: request bodies and the check bundles every
reply and every stream goes through."""

from __future__ import annotations

from typing import Any

from conformance.checks.common import check_json_content_type, check_sse_comments, check_sse_framing, check_success_status
from conformance.checks.openai_chat import (
    check_chat_response_schema,
    check_choice_indexes,
    check_created_timestamp,
    check_finish_reason_value,
    check_request_id_header,
    check_usage_arithmetic,
)
from conformance.checks.openai_stream import (
    check_chat_chunk_schema,
    check_stream_constant_fields,
    check_stream_content_type,
    check_stream_done_terminator,
    check_stream_finish_reason,
    check_stream_first_delta_role,
    check_stream_include_usage,
    check_stream_no_unrequested_usage,
    check_stream_role_first_only,
    chunks,
)
from conformance.exchange import Exchange

HELLO = "Reply with exactly: Hello from the conformance suite"


def chat_body(case, content: str = HELLO, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": case.model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": content},
        ],
        "max_completion_tokens": 64,
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
    """Every check a non-streamed reply must pass; stops the case if it is not a reply at all."""
    case.require(case.check(check_success_status, exchange))
    case.check(check_json_content_type, exchange)
    case.require(case.check(check_chat_response_schema, exchange, case.schemas, case.strictness))
    body = exchange.body
    case.check(check_created_timestamp, body.get("created"), exchange.ptr("/created"))
    case.check(check_choice_indexes, exchange, n)
    case.check(check_finish_reason_value, exchange)
    nonempty = any(((c.get("message") or {}).get("content") or "") for c in body.get("choices", []))
    case.check(check_usage_arithmetic, body.get("usage"), exchange.ptr("/usage"), nonempty)
    check_request_id(case, exchange)
    return body


def check_stream(case, exchange: Exchange, include_usage: bool = False) -> None:
    """Every check a streamed reply must pass."""
    case.require(case.check(check_success_status, exchange))
    case.check(check_stream_content_type, exchange)
    case.check(check_sse_framing, exchange)
    case.check(check_sse_comments, exchange)
    case.check(check_stream_done_terminator, exchange)
    case.check(check_chat_chunk_schema, exchange, case.schemas, case.strictness)
    case.check(check_stream_first_delta_role, exchange)
    case.check(check_stream_role_first_only, exchange)
    case.check(check_stream_finish_reason, exchange)
    case.check(check_stream_constant_fields, exchange)
    for position, chunk in chunks(exchange):
        case.check(check_created_timestamp, chunk.get("created"), exchange.event_ptr(position, "/created"))
        break
    if include_usage:
        case.check(check_stream_include_usage, exchange)
        for position, chunk in chunks(exchange):
            if chunk.get("usage") is not None:
                case.check(check_usage_arithmetic, chunk["usage"], exchange.event_ptr(position, "/usage"), True)
    else:
        case.check(check_stream_no_unrequested_usage, exchange)
    check_request_id(case, exchange)


def refused_cleanly(case, exchange: Exchange, what: str) -> None:
    """A 4xx for an optional feature: UNSUPPORTED when in the documented error shape, else FAIL."""
    if exchange.status is None or not 400 <= exchange.status < 500:
        return
    from conformance.checks.errors import check_error_shape

    case.require(case.check(check_error_shape, exchange, case.schemas, case.strictness))
    error = exchange.body.get("error") if isinstance(exchange.body, dict) else None
    detail = f"{error.get('code') or error.get('type')}: {str(error.get('message'))[:120]}" if isinstance(error, dict) else ""
    case.unsupported(f"{what} refused with {exchange.status} ({detail})")


def check_reply_or_unsupported(case, exchange: Exchange, what: str, n: int | None = None) -> dict[str, Any]:
    """An optional feature: a well-formed reply, or a clean documented refusal (UNSUPPORTED)."""
    refused_cleanly(case, exchange, what)
    return check_reply(case, exchange, n)
