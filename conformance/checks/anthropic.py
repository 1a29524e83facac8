"""Checks of non-streamed Anthropic Messages replies, errors and request headers."""

from __future__ import annotations

from typing import Any, Iterator

from conformance.findings import Severity
from conformance.checks import Violation, check, rule
from conformance.checks.common import schema_violations
from conformance.findings import Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange

MESSAGE_SOURCE = "CrossModel 003 §Response; anthropic-sdk-typescript 0.120.0 Message"


def content_blocks(message: Any) -> list[dict[str, Any]]:
    blocks = message.get("content") if isinstance(message, dict) else None
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def reply_text(message: Any) -> str:
    return "".join(b.get("text") or "" for b in content_blocks(message) if b.get("type") == "text" and isinstance(b.get("text"), str))


def tool_uses(message: Any) -> list[dict[str, Any]]:
    return [b for b in content_blocks(message) if b.get("type") == "tool_use"]


@check(cls=None, source=MESSAGE_SOURCE, title="the reply validates against the Anthropic message schema", compatible=Severity.WARNING, evidence="the SDKs construct their models without validating (replayed faults: both tolerate it); what breaks a client is reported by the SDK checks",
       rules=[
           rule("not_object", "the reply body is a JSON object"),
       ])
def check_message_schema(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    if not isinstance(exchange.body, dict):
        yield Violation(f"the body is not a JSON object (status {exchange.status}): {str(exchange.body)[:120]!r}", exchange.ptr(), rule="not_object")
        return
    yield from schema_violations(schemas, "anthropic/message", strictness, exchange.body, exchange.ptr())


@check(cls="26", source="CrossModel 003 §stop_reason; incompatibilities.md class 26", title="stop_reason agrees with the reply", semantic="stop_reason must say why the reply ended (max_tokens at the cap, tool_use when a tool is called)",
       rules=[
           rule("tool_use_without_call", "stop_reason tool_use comes with a tool_use block"),
           rule("max_tokens_missing", "a reply that used the whole max_tokens says stop_reason max_tokens"),
           rule("max_tokens_below_cap", "stop_reason max_tokens comes with output_tokens at the cap"),
       ])
def check_anthropic_stop_reason(message: Any, pointer: str, max_tokens: int | None = None) -> Iterator[Violation]:
    """tool_use exactly when the reply calls a tool; max_tokens when the reply used the whole cap."""
    if not isinstance(message, dict):
        return
    reason = message.get("stop_reason")
    calls = tool_uses(message)
    where = pointer + "/stop_reason"
    if calls and reason != "tool_use":
        yield Violation(f"stop_reason is {reason!r} although the reply holds {len(calls)} tool_use block(s)", where)
    elif not calls and reason == "tool_use":
        yield Violation("stop_reason is 'tool_use' but the reply holds no tool_use block", where, rule="tool_use_without_call")
    usage = message.get("usage") if isinstance(message.get("usage"), dict) else {}
    output = usage.get("output_tokens")
    if max_tokens is not None and isinstance(output, int) and not calls:
        if output >= max_tokens and reason not in ("max_tokens",):
            yield Violation(f"the reply used all {max_tokens} tokens of max_tokens (output_tokens {output}) but stop_reason is {reason!r}, not 'max_tokens'", where, rule="max_tokens_missing")
    if max_tokens is not None and reason == "max_tokens" and isinstance(output, int) and output < max_tokens:
        yield Violation(f"stop_reason is 'max_tokens' but output_tokens {output} is below the cap {max_tokens}", where, rule="max_tokens_below_cap")


@check(cls=None, source="CrossModel 003 §Request parameters (max_tokens: max tokens to generate)", title="the reply stays within max_tokens")
def check_anthropic_max_tokens(message: Any, pointer: str, max_tokens: int) -> Iterator[Violation]:
    usage = message.get("usage") if isinstance(message, dict) else None
    output = usage.get("output_tokens") if isinstance(usage, dict) else None
    if isinstance(output, int) and output > max_tokens:
        yield Violation(f"output_tokens {output} exceeds max_tokens {max_tokens}: the cap was ignored", pointer + "/usage/output_tokens")


@check(cls="26", source="CrossModel 003 §Request parameters (stop_sequences: generation halts at the first match); §stop_reason", title="a matched stop sequence ends the reply and is named",
       rules=[
           rule("wrong_value", "stop_reason stop_sequence names the stop sequence that matched"),
           rule("value_without_reason", "stop_sequence is null unless stop_reason is stop_sequence"),
       ])
def check_anthropic_stop_sequence(message: Any, pointer: str, sequences: list[str]) -> Iterator[Violation]:
    if not isinstance(message, dict):
        return
    text = reply_text(message)
    present = [s for s in sequences if s and s in text]
    if present:
        yield Violation(f"the reply contains the stop sequence {present[0]!r}: stop_sequences was ignored", pointer + "/content")
    reason = message.get("stop_reason")
    matched = message.get("stop_sequence")
    if reason == "stop_sequence" and matched not in sequences:
        yield Violation(f"stop_reason is 'stop_sequence' but stop_sequence is {matched!r}, not one of {sequences}", pointer + "/stop_sequence", rule="wrong_value")
    if reason != "stop_sequence" and matched is not None:
        yield Violation(f"stop_sequence is {matched!r} although stop_reason is {reason!r}", pointer + "/stop_sequence", rule="value_without_reason")


@check(cls="24", source="CrossModel 003 §The usage object (input_tokens, output_tokens used for billing)", title="usage counts are plausible", compatible=Severity.WARNING, evidence="anthropic-python reads usage counts without checking them (fault anthropic_zero_usage)",
       rules=[
           rule("output_zero", "output_tokens is positive for a non-empty reply"),
       ])
def check_anthropic_usage(usage: Any, pointer: str, content_nonempty: bool = False, prompt_nonempty: bool = True) -> Iterator[Violation]:
    if not isinstance(usage, dict):
        return
    inputs, outputs = usage.get("input_tokens"), usage.get("output_tokens")
    if prompt_nonempty and isinstance(inputs, int) and inputs <= 0:  # an empty prompt (messages: []) may count 0
        yield Violation(f"input_tokens is {inputs} for a non-empty prompt", pointer + "/input_tokens")
    if content_nonempty and isinstance(outputs, int) and outputs <= 0:
        yield Violation(f"output_tokens is {outputs} for a non-empty reply", pointer + "/output_tokens", rule="output_zero")


@check(cls="26", source="CrossModel 003 §Request parameters (tool_choice); incompatibilities.md class 26 (any treated as auto)", title="tool_choice is honoured",
       semantic="the request forced a tool call (any, a named tool) or forbade one (none); the reply, streamed or not, is the proof it was ignored",
       rules=[
           rule("tool_not_called", "tool_choice {type: tool} calls the named tool", semantic="tool_choice named the tool to call"),
           rule("none_called", "tool_choice {type: none} gives no tool call", semantic="tool_choice none asked for no tool call"),
           rule("undeclared", "a tool_use block names a declared tool", semantic="the request declared the tools the model may call"),
       ])
def check_anthropic_tool_choice(message: Any, pointer: str, choice: dict[str, Any], tool_names: list[str]) -> Iterator[Violation]:
    if not isinstance(message, dict):
        return
    calls = tool_uses(message)
    kind = choice.get("type")
    if kind == "any" and not calls:
        yield Violation("tool_choice {type: any} requires a tool call but the reply holds none (treated as auto?)", pointer + "/content")
    elif kind == "tool" and not any(c.get("name") == choice.get("name") for c in calls):
        yield Violation(f"tool_choice names {choice.get('name')!r} but the reply does not call it", pointer + "/content", rule="tool_not_called")
    elif kind == "none" and calls:
        yield Violation("tool_choice {type: none} forbids tool calls but the reply holds one", pointer + "/content", rule="none_called")
    for position, block in enumerate(content_blocks(message)):
        if block.get("type") == "tool_use" and block.get("name") not in tool_names:
            yield Violation(f"tool_use names {block.get('name')!r}, which is not a declared tool", pointer + f"/content/{position}/name", rule="undeclared")


@check(cls=None, source="CrossModel 003 §Function tools (input_schema: JSON Schema for the parameters)", title="tool_use input is an object with the schema's required keys", breaks=("anthropic-python",), semantic="the tool call the request asked for must carry input for the declared schema", evidence="tool_use.input as a string: block.input[key] raises (fault anthropic_tool_input_as_string)",
       rules=[
           rule("duplicate_id", "tool_use ids are unique within a reply"),
           rule("not_object", "tool_use input is an object", cls="15"),
       ])
def check_anthropic_tool_use_input(message: Any, pointer: str, schemas_by_name: dict[str, dict[str, Any]]) -> Iterator[Violation]:
    ids = set()
    for position, block in enumerate(content_blocks(message)):
        if block.get("type") != "tool_use":
            continue
        where = pointer + f"/content/{position}"
        if block.get("id") in ids:
            yield Violation(f"tool_use id {block.get('id')!r} is repeated", where + "/id", rule="duplicate_id")
        ids.add(block.get("id"))
        value = block.get("input")
        if not isinstance(value, dict):
            yield Violation(f"tool_use input is {type(value).__name__}, not an object", where + "/input", cls="15", rule="not_object")
            continue
        required = (schemas_by_name.get(block.get("name")) or {}).get("required") or []
        missing = [k for k in required if k not in value]
        if missing:
            yield Violation(f"tool_use input lacks required key(s) {missing}", where + "/input")


@check(cls="25", source="CrossModel 003 §Errors (errors use the Anthropic format); incompatibilities.md class 25", title="the error body is {\"type\": \"error\", \"error\": {type, message}}", semantic="a documented error must be delivered where clients read it (error.type, error.message)", evidence="anthropic-python raises the status's class; its body has no error.type (fault anthropic_openai_error_shape)",
       rules=[
           rule("not_object", "the error body is a JSON object"),
           rule("openai_shape", "the error body does not have the OpenAI shape"),
       ])
def check_anthropic_error_shape(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    if exchange.status is not None and exchange.status < 400:
        return  # the status check reports a success status
    if not isinstance(exchange.body, dict):
        yield Violation(f"the error body is not a JSON object: {str(exchange.body)[:120]!r}", exchange.ptr(), rule="not_object")
        return
    if "type" not in exchange.body and isinstance(exchange.body.get("error"), dict) and ("code" in exchange.body["error"] or "param" in exchange.body["error"]):
        yield Violation("the error body has the OpenAI shape {\"error\": {message, type, param, code}}, not the Anthropic one", exchange.ptr(), rule="openai_shape")
        return
    yield from schema_violations(schemas, "anthropic/error", strictness, exchange.body, exchange.ptr())


@check(cls="27", source="CrossModel 003 §Endpoint (x-api-key; Authorization: Bearer also works); incompatibilities.md class 27", title="a documented auth scheme is accepted",
       rules=[
           rule("other_status", "a request authenticated with a documented scheme succeeds"),
       ])
def check_auth_scheme_accepted(exchange: Exchange, scheme: str) -> Iterator[Violation]:
    if exchange.status in (401, 403):
        yield Violation(f"a valid key sent as {scheme} was refused with {exchange.status}", f"/exchanges/{exchange.index}/response/status")
    elif exchange.status != 200:
        yield Violation(f"a valid key sent as {scheme} got status {exchange.status}", f"/exchanges/{exchange.index}/response/status", rule="other_status")


@check(cls="27", source="the profile's anthropic-version rule (version_header); incompatibilities.md class 27", title="a request without anthropic-version is handled as documented",
       rules=[
           rule("required_status", "a request without a required anthropic-version gets 400"),
           rule("optional_refused", "a request without an optional anthropic-version succeeds"),
       ])
def check_version_header_handling(exchange: Exchange, expectation: str, source: str) -> Iterator[Violation]:
    pointer = f"/exchanges/{exchange.index}/response/status"
    if expectation == "required" and exchange.status == 200:
        yield Violation(f"a request without anthropic-version succeeded; the profile documents it as required ({source})", pointer)
    elif expectation == "required" and exchange.status != 400:
        yield Violation(f"a request without anthropic-version got {exchange.status}, expected 400 invalid_request_error ({source})", pointer, rule="required_status")
    elif expectation == "optional" and exchange.status != 200:
        yield Violation(f"a request without anthropic-version got {exchange.status}; the profile documents it as optional ({source})", pointer, rule="optional_refused")
