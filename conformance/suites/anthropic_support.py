"""Shared building blocks of the Anthropic Messages suites: request bodies, headers and the
check bundles every reply, every stream and every error goes through."""

from __future__ import annotations

from typing import Any

from conformance.checks.anthropic import check_anthropic_error_shape, reply_text, tool_uses
from conformance.checks.anthropic_stream import reassemble
from conformance.checks.errors import check_error_row, check_error_status
from conformance.errors import CaseStop
from conformance.exchange import Exchange

HELLO = "Reply with exactly: Hello from the conformance suite"
STORY = "Tell me a short story about a river."
DEFAULT_VERSION = "2023-06-01"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME_TOOL = {
    "name": "get_time",
    "description": "Get the current local time in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def messages_path(case) -> str:
    return case.rule("messages_path", default="/messages")


def version_headers(case) -> dict[str, str | None]:
    """The anthropic-version header every request carries (the profile's version)."""
    return {"anthropic-version": case.rule("version", default=DEFAULT_VERSION)}


def body(case, content: Any = HELLO, max_tokens: int | None = None, **extra: Any) -> dict[str, Any]:
    """A request; ``max_tokens`` defaults to the case's budget ([limits] in the config)."""
    request: dict[str, Any] = {"model": case.model, "max_tokens": max_tokens or case.budget(), "messages": [{"role": "user", "content": content}]}
    request.update(extra)
    return request


def send(case, request: Any, headers: dict[str, str | None] | None = None, **kwargs: Any) -> Exchange:
    streamed = isinstance(request, dict) and request.get("stream") is True
    return case.post(messages_path(case), request, headers={**version_headers(case), **(headers or {})}, stream=streamed, expect_done=False, **kwargs)


def nonempty(message: Any) -> bool:
    return bool(reply_text(message) or tool_uses(message))


def check_reply(case, exchange: Exchange, max_tokens: int | None = None) -> dict[str, Any]:
    """A documented request's non-streamed reply: it succeeds, and every rule judge() applies to it
    (shape, stop_reason, usage, and whatever the request asked for). Stops the case only when there
    is no JSON object to look at; a failing rule never hides another."""
    case.expect_success(exchange)
    case.judge(exchange)
    if not isinstance(exchange.body, dict):
        raise CaseStop()
    return exchange.body


def check_stream(case, exchange: Exchange, max_tokens: int | None = None) -> dict[str, Any] | None:
    """A documented request's stream: it succeeds, and every rule judge() applies to it; returns
    the reassembled message."""
    case.expect_success(exchange)
    case.judge(exchange)
    return reassemble(exchange)


def check_error(case, exchange: Exchange, scenario: str, row: dict[str, Any]) -> None:
    """Status, Anthropic shape and documented error.type of one error row."""
    case.check(check_error_status, exchange, int(row["status"]))
    case.judge(exchange)
    case.check(check_anthropic_error_shape, exchange, case.schemas, case.strictness)
    case.check(check_error_row, exchange, scenario, row, f"{case.profile.name}:errors.{scenario}", "/error/type", None)


def png_base64() -> str:
    """A small valid PNG, base64 encoded (from conformance.media when present)."""
    try:
        from conformance.media import b64, png
    except ImportError:  # pragma: no cover - media.py is another module's; keep a fallback
        import base64
        import struct
        import zlib

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        raw = b"".join(b"\x00" + b"\xdc\x28\x28" * 8 for _ in range(8))
        data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
        return base64.b64encode(data).decode()
    return b64(png())
