"""Checks of non-streamed OpenAI chat completion responses."""

from __future__ import annotations

from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.checks.common import schema_violations
from conformance.findings import Severity, Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


@check(cls=None, source="OpenAI OpenAPI 2.3.0 CreateChatCompletionResponse; CrossModel 000 §Response", title="the reply validates against the chat.completion schema", compatible=Severity.WARNING, evidence="the SDKs construct their models without validating (replayed faults: both tolerate it); what breaks a client is reported by the SDK checks",
       rules=[
           rule("not_object", "the reply body is a JSON object"),
       ])
def check_chat_response_schema(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    if not isinstance(exchange.body, dict):
        yield Violation(f"the body is not a JSON object (status {exchange.status}): {str(exchange.body)[:120]!r}", exchange.ptr(), rule="not_object")
        return
    yield from schema_violations(schemas, "openai/chat_response", strictness, exchange.body, exchange.ptr())


@check(cls=None, source="CrossModel 000 §Response (created: Unix timestamp in seconds)", title="created is a Unix timestamp in seconds", compatible=Severity.WARNING, evidence="both SDKs read created as an integer and do not check its unit (fault created_in_ms)",
       rules=[
           rule("before_2001", "created is not a small number before 2001"),
           rule("clock_skew", "created is within two days of the time of the reply", severity=Severity.WARNING),
       ])
def check_created_timestamp(value: Any, pointer: str, now: float | None = None) -> Iterator[Violation]:
    """``now``: when the reply was made (a capture's own time, else its Date header); without it the value is not compared
    with any clock, so that a verdict never depends on when or where the exchange is judged."""
    if isinstance(value, bool) or not isinstance(value, int):
        return  # the schema check reports the type
    if value > 10**11:
        yield Violation(f"created={value} looks like milliseconds, not seconds", pointer)
    elif value < 10**9:
        yield Violation(f"created={value} is before 2001: not a Unix timestamp", pointer, rule="before_2001")
    elif now is not None and abs(value - now) > 2 * 86400:
        yield Violation(f"created={value} is more than two days away from when the reply was made", pointer, Severity.WARNING, rule="clock_skew")


@check(cls=None, source="CrossModel 000 §The choice object (index: the reply's position in choices)", title="choices[].index is the position in choices", compatible=Severity.WARNING, evidence="openai-python reads choices by position; an off index is tolerated (fault bad_choice_index)", rules=[rule("n_ignored", "the reply has as many choices as n asked for", severity=Severity.ERROR, cls="18", semantic="n asked for that many choices")])
def check_choice_indexes(exchange: Exchange, expected: int | None = None) -> Iterator[Violation]:
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    if not isinstance(choices, list):
        return
    for position, choice in enumerate(choices):
        if isinstance(choice, dict) and choice.get("index") != position:
            yield Violation(f"choices[{position}].index is {choice.get('index')!r}, expected {position}", exchange.ptr(f"/choices/{position}/index"))
    if expected is not None and len(choices) != expected:
        yield Violation(f"{len(choices)} choice(s) returned, {expected} asked for (n={expected})", exchange.ptr("/choices"), cls="18" if expected > 1 else None, rule="n_ignored")


@check(cls="9", source="OpenAI OpenAPI 2.3.0 finish_reason; incompatibilities.md class 9", title="finish_reason agrees with the reply", compatible=Severity.WARNING, evidence="openai-python keeps any finish_reason string (faults bad_finish_reason, tool_calls_finish_stop)",
       rules=[
           rule("unknown", "finish_reason is one of the documented values", cls="8"),
           rule("stop_with_tool_calls", "a reply with tool calls does not finish with stop", severity=Severity.WARNING),
           rule("tool_calls_without_calls", "finish_reason tool_calls comes with a tool call"),
       ])
def check_finish_reason_value(exchange: Exchange) -> Iterator[Violation]:
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        if not isinstance(choice, dict):
            continue
        reason = choice.get("finish_reason")
        pointer = exchange.ptr(f"/choices/{position}/finish_reason")
        if reason not in FINISH_REASONS:
            yield Violation(f"finish_reason {reason!r} is not one of {', '.join(FINISH_REASONS)}", pointer, cls="8", rule="unknown")
            continue
        calls = (choice.get("message") or {}).get("tool_calls") if isinstance(choice.get("message"), dict) else None
        if calls and reason == "stop":
            yield Violation("finish_reason is 'stop' although the message holds tool calls (upstream does this too, but clients that branch on tool_calls miss them)", pointer, Severity.WARNING, rule="stop_with_tool_calls")
        elif calls and reason not in ("tool_calls", "function_call"):
            yield Violation(f"finish_reason is {reason!r} although the message holds tool calls", pointer)
        elif not calls and reason == "tool_calls":
            yield Violation("finish_reason is 'tool_calls' but the message holds no tool call", pointer, rule="tool_calls_without_calls")


@check(cls=None, source="CrossModel 000 §The usage object (total = input + output)", title="usage counts add up", compatible=Severity.WARNING, evidence="both SDKs read usage counts without checking them (faults bad_usage_arithmetic, anthropic_zero_usage)",
       rules=[
           rule("prompt_zero", "prompt_tokens is positive for a non-empty prompt"),
           rule("completion_zero", "completion_tokens is positive for a non-empty reply"),
           rule("cached_exceeds", "cached_tokens does not exceed prompt_tokens"),
           rule("reasoning_exceeds", "reasoning_tokens does not exceed completion_tokens"),
       ])
def check_usage_arithmetic(usage: Any, pointer: str, content_nonempty: bool = False) -> Iterator[Violation]:
    if not isinstance(usage, dict):
        return
    prompt, completion, total = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (prompt, completion, total)):
        return  # the schema check reports missing or mistyped counts
    if total != prompt + completion:
        yield Violation(f"total_tokens {total} != prompt_tokens {prompt} + completion_tokens {completion}", pointer + "/total_tokens")
    if prompt <= 0:
        yield Violation(f"prompt_tokens is {prompt} for a non-empty prompt", pointer + "/prompt_tokens", rule="prompt_zero")
    if content_nonempty and completion <= 0:
        yield Violation(f"completion_tokens is {completion} for a non-empty reply", pointer + "/completion_tokens", rule="completion_zero")
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") if isinstance(usage.get("prompt_tokens_details"), dict) else None
    if isinstance(cached, int) and cached > prompt:
        yield Violation(f"cached_tokens {cached} exceeds prompt_tokens {prompt}", pointer + "/prompt_tokens_details/cached_tokens", rule="cached_exceeds")
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if isinstance(reasoning, int) and reasoning > completion:
        yield Violation(f"reasoning_tokens {reasoning} exceeds completion_tokens {completion}", pointer + "/completion_tokens_details/reasoning_tokens", rule="reasoning_exceeds")


@check(cls=None, source="CrossModel 000 §Response (every response carries an x-request-id header)", title="the response carries a request id header", compatible=Severity.WARNING, evidence="openai-python exposes _request_id as None without the header")
def check_request_id_header(exchange: Exchange, header: str) -> Iterator[Violation]:
    if not exchange.headers.get(header.lower(), "").strip():
        yield Violation(f"no {header} response header", exchange.header_ptr(header))
