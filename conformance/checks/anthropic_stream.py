"""Checks of streamed Anthropic Messages replies (the named-event sequence of /v1/messages)."""

from __future__ import annotations

import json
from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.checks.anthropic import content_blocks
from conformance.checks.common import schema_violations
from conformance.findings import Severity, Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange

STREAM_SOURCE = "CrossModel 003 §Streaming response; anthropic-sdk-typescript 0.120.0 MessageStream"
EVENT_TYPES = ("message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping", "error")
DELTA_FOR_BLOCK = {
    "text": ("text_delta", "citations_delta"),
    "tool_use": ("input_json_delta",),
    "server_tool_use": ("input_json_delta",),
    "thinking": ("thinking_delta", "signature_delta"),
}


def stream_items(exchange: Exchange) -> list[tuple[int, str | None, dict[str, Any]]]:
    """(event position, event name, data) for every event whose data is a JSON object."""
    return [(p, e.event, e.json) for p, e in exchange.json_events() if isinstance(e.json, dict)]


def typed(exchange: Exchange) -> list[tuple[int, str, dict[str, Any]]]:
    """(position, data type, data) for every event, ping excluded (an ``error`` event counts as error)."""
    out = []
    for position, name, data in stream_items(exchange):
        kind = "error" if name == "error" else data.get("type")
        if kind not in ("ping", None):
            out.append((position, kind, data))
    return out


def reassemble(exchange: Exchange) -> dict[str, Any] | None:
    """The message the SDK's accumulator builds from the stream (None without message_start)."""
    message: dict[str, Any] | None = None
    partial: dict[int, str] = {}
    for _, kind, data in typed(exchange):
        if kind == "message_start" and isinstance(data.get("message"), dict):
            message = json.loads(json.dumps(data["message"]))
            message["content"] = []
        elif message is None:
            continue
        elif kind == "content_block_start" and isinstance(data.get("content_block"), dict):
            message["content"].append(json.loads(json.dumps(data["content_block"])))
        elif kind == "content_block_delta" and message["content"]:
            index = data.get("index")
            block = message["content"][index] if isinstance(index, int) and 0 <= index < len(message["content"]) else message["content"][-1]
            delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = block.get("text", "") + str(delta.get("text", ""))
            elif dtype == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + str(delta.get("thinking", ""))
            elif dtype == "signature_delta":
                block["signature"] = str(delta.get("signature", ""))
            elif dtype == "input_json_delta":
                key = message["content"].index(block)
                partial[key] = partial.get(key, "") + str(delta.get("partial_json", ""))
        elif kind == "message_delta":
            delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
            for field in ("stop_reason", "stop_sequence"):
                if field in delta:
                    message[field] = delta[field]
            usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
            message.setdefault("usage", {})
            for field, value in usage.items():
                if value is not None:
                    message["usage"][field] = value
    if message is not None:
        for key, text in partial.items():
            try:
                message["content"][key]["input"] = json.loads(text) if text else {}
            except ValueError:
                message["content"][key]["input"] = text
    return message


@check(cls="22", source=STREAM_SOURCE + " (the SDKs dispatch on the event: name and drop data without one)", title="every event: name matches its data's type", breaks=("anthropic-python",), evidence="anthropic-python skips events without an event: line; the stream helper then has no message (fault anthropic_stream_no_event_lines)", rules=[rule("mismatch", "an event: name differs from its data's type", severity=Severity.ERROR, compatible=Severity.WARNING, evidence="anthropic-python dispatches on the data's type once an event: line is present (fault anthropic_stream_wrong_event_names: tolerated)")])
def check_stream_event_names(exchange: Exchange) -> Iterator[Violation]:
    for position, name, data in stream_items(exchange):
        kind = data.get("type")
        if name == "error" and "type" not in data:
            continue  # an error event's data is judged by check_stream_error_event
        if name is None:
            yield Violation(f"the {kind!r} event has no 'event:' line (the SDK drops it)", exchange.event_ptr(position))
            return
        if name != kind:
            yield Violation(f"event: {name!r} carries data of type {kind!r}", exchange.event_ptr(position, "/type"), rule="mismatch")
            return


@check(cls="7", source="reference/README.md §Anthropic Messages (no data: [DONE] line belongs in an Anthropic stream)", title="an Anthropic stream carries no data: [DONE]", compatible=Severity.WARNING, evidence="anthropic-python skips a data line without event: (fault anthropic_stream_done)")
def check_stream_no_done(exchange: Exchange) -> Iterator[Violation]:
    for position, event in enumerate(exchange.events or []):
        if event.is_done:
            yield Violation("'data: [DONE]' in an Anthropic stream (an OpenAI terminator; Anthropic clients fail to parse it)", f"/exchanges/{exchange.index}/response/events/{position}")
            return


@check(cls=None, source="anthropic-sdk-typescript 0.120.0 RawMessageStreamEvent; CrossModel 003 §Streaming response", title="every stream event validates against its schema", compatible=Severity.WARNING, evidence="the SDKs construct their models without validating (replayed faults: both tolerate it); what breaks a client is reported by the SDK checks")
def check_stream_event_schema(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    for position, name, data in stream_items(exchange):
        if name == "error" or data.get("type") == "error":
            continue  # judged by check_stream_error_event
        if name == data.get("type") and isinstance(name, str) and name not in EVENT_TYPES:
            continue  # a new event type: Anthropic's versioning policy says clients must ignore it, and anthropic-python does
        yield from schema_violations(schemas, "anthropic/stream_event", strictness, data, exchange.event_ptr(position))


@check(cls="25", source="CrossModel 003 §Errors; reference/README.md (an error event {type: error, error: {type, message}} may end a stream)", title="an error event has the Anthropic error shape", semantic="a documented error must be delivered where clients read it (error.type, error.message)", evidence="anthropic-python raises APIStatusError on event: error whatever its shape (fault anthropic_stream_error_event_openai_shape)")
def check_stream_error_event(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    for position, name, data in stream_items(exchange):
        if name == "error" or data.get("type") == "error" or ("error" in data and "type" not in data):
            yield from schema_violations(schemas, "anthropic/error", strictness, data, exchange.event_ptr(position))


@check(cls="23", source=STREAM_SOURCE + " (message_start → (block start → deltas → block stop)* → message_delta → message_stop)", title="stream events come in the documented order", compatible=Severity.WARNING, evidence="anthropic-python accumulates without content_block_stop (fault anthropic_stream_no_block_stop)",
       rules=[
           rule("empty", "a stream carries at least one event", compatible=Severity.ERROR, breaks=("anthropic-python", "anthropic-node"),
                evidence="both official SDKs' stream helpers raise on a stream with no message (fault anthropic_stream_empty; tests/test_node_clients.py)"),
           rule("first_not_start", "the first event is message_start", compatible=Severity.ERROR, breaks=("anthropic-python", "anthropic-node"),
                evidence="both official SDKs need message_start before anything else to build the message (fault anthropic_stream_no_message_start)"),
           rule("after_stop", "no event but error follows message_stop"),
           rule("second_start", "a stream has one message_start", compatible=Severity.ERROR, breaks=("anthropic-node",),
                evidence="@anthropic-ai/sdk's MessageStream throws on a second message_start; anthropic-python restarts the snapshot (fault anthropic_stream_two_message_starts)"),
           rule("block_after_delta", "no content block starts after message_delta"),
           rule("delta_outside_block", "a content_block_delta belongs to an open block", compatible=Severity.ERROR, breaks=("anthropic-python", "anthropic-node"),
                evidence="both official SDKs index the snapshot's content by the delta's block: a delta before its block start raises (fault anthropic_stream_delta_before_start)"),
           rule("stop_without_block", "a content_block_stop closes an open block"),
           rule("stop_without_delta", "message_delta comes before message_stop"),
           rule("no_message_stop", "the stream ends with message_stop", compatible=Severity.ERROR, breaks=("anthropic-node",),
                evidence="@anthropic-ai/sdk's finalMessage() rejects a stream that ended without message_stop; anthropic-python returns the snapshot (fault anthropic_stream_no_message_stop)"),
       ])
def check_stream_event_order(exchange: Exchange) -> Iterator[Violation]:
    items = typed(exchange)
    events_ptr = f"/exchanges/{exchange.index}/response/events"
    if not items:
        yield Violation("the stream carried no event", events_ptr, rule="empty")
        return
    if items[0][1] != "message_start":
        yield Violation(f"the first event is {items[0][1]!r}, not message_start", exchange.event_ptr(items[0][0], "/type"), rule="first_not_start")
        return
    state = "message"  # message | block | after_delta | stopped
    which = None  # the rule of the problem (None: a block left open, the main rule)
    open_block = False
    for position, kind, _ in items[1:]:
        problem = None
        if state == "stopped" and kind != "error":
            problem, which = f"{kind} after message_stop", "after_stop"
        elif kind == "message_start":
            problem, which = "a second message_start", "second_start"
        elif kind == "content_block_start":
            if open_block:
                problem = "content_block_start while the previous block is still open (no content_block_stop)"
            elif state == "after_delta":
                problem, which = "content_block_start after message_delta", "block_after_delta"
            open_block = True
        elif kind == "content_block_delta" and not open_block:
            problem, which = "content_block_delta outside a content block", "delta_outside_block"
        elif kind == "content_block_stop":
            if not open_block:
                problem, which = "content_block_stop without an open block", "stop_without_block"
            open_block = False
        elif kind == "message_delta":
            if open_block:
                problem = "message_delta while a content block is still open (no content_block_stop)"
            state = "after_delta"
        elif kind == "message_stop":
            if state != "after_delta":
                problem, which = "message_stop without a preceding message_delta", "stop_without_delta"
            state = "stopped"
        if problem:
            yield Violation(problem, exchange.event_ptr(position, "/type"), rule=which)
            return
    if state != "stopped" and items[-1][1] != "error":
        yield Violation("the stream ended without message_stop", events_ptr, rule="no_message_stop")


@check(cls="23", source=STREAM_SOURCE + " (block indexes start at 0 and rise by one; each delta names the open block)", title="content-block indexes are 0, 1, 2… and deltas name the open block", breaks=("anthropic-python",), evidence="accumulate_event indexes the content list by the event index: IndexError (faults anthropic_stream_index_from_1, anthropic_stream_delta_wrong_index)",
       rules=[
           rule("wrong_block", "a delta names the open block"),
           rule("stop_wrong_block", "a content_block_stop names the open block", severity=Severity.ERROR, compatible=Severity.WARNING,
                evidence="anthropic-python does not index the content by a content_block_stop (fault anthropic_stream_extra_block_stop: both SDK replays tolerate it)"),
           rule("delta_type", "a delta's type fits its block", severity=Severity.ERROR, compatible=Severity.WARNING,
                evidence="both Python SDK replays tolerate a thinking delta in a text block (fault anthropic_stream_wrong_delta_type); the AI SDK fails on it (tests/test_node_clients.py)"),
       ])
def check_stream_block_indexes(exchange: Exchange) -> Iterator[Violation]:
    expected = 0
    open_index, open_type = None, None
    for position, kind, data in typed(exchange):
        index = data.get("index")
        if kind == "content_block_start":
            if index != expected:
                yield Violation(f"content_block_start has index {index!r}, expected {expected}", exchange.event_ptr(position, "/index"))
                return
            block = data.get("content_block") if isinstance(data.get("content_block"), dict) else {}
            open_index, open_type = index, block.get("type")
            expected += 1
        elif kind in ("content_block_delta", "content_block_stop"):
            if index != open_index:
                yield Violation(f"{kind} names index {index!r} but the open block is {open_index!r}", exchange.event_ptr(position, "/index"), rule="wrong_block" if kind == "content_block_delta" else "stop_wrong_block")
                return
            if kind == "content_block_delta":
                delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
                allowed = DELTA_FOR_BLOCK.get(open_type or "")
                if allowed and delta.get("type") not in allowed:
                    yield Violation(f"a {delta.get('type')!r} delta in a {open_type!r} block", exchange.event_ptr(position, "/delta/type"), rule="delta_type")
                    return
            else:
                open_index = None


@check(cls=None, source=STREAM_SOURCE + " (input_json_delta pieces concatenate to the tool's input object)", title="input_json_delta pieces concatenate to a JSON object", breaks=("anthropic-python",), evidence="accumulate_event parses the pieces in partial mode: the final input is not the JSON sent (fault anthropic_stream_tool_json_broken)",
       rules=[
           rule("not_object", "the streamed tool input is a JSON object", cls="15"),
       ])
def check_stream_tool_input(exchange: Exchange) -> Iterator[Violation]:
    pieces: dict[Any, list[tuple[int, str]]] = {}
    for position, kind, data in typed(exchange):
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        if kind == "content_block_delta" and delta.get("type") == "input_json_delta":
            pieces.setdefault(data.get("index"), []).append((position, str(delta.get("partial_json", ""))))
    for index, parts in pieces.items():
        text = "".join(p for _, p in parts)
        try:
            value = json.loads(text) if text else {}
        except ValueError as exc:
            yield Violation(f"block {index}: the input_json_delta pieces do not parse as JSON ({exc}): {text[:80]!r}", exchange.event_ptr(parts[-1][0], "/delta/partial_json"))
            continue
        if not isinstance(value, dict):
            yield Violation(f"block {index}: the tool input is {type(value).__name__}, not an object", exchange.event_ptr(parts[-1][0], "/delta/partial_json"), cls="15", rule="not_object")


@check(cls="8", source=STREAM_SOURCE + " (stop_reason null in message_start, set in message_delta); reference/README.md", title="stop_reason is null in message_start and set in message_delta", compatible=Severity.WARNING, evidence="anthropic-python takes stop_reason from message_delta whatever message_start says (faults anthropic_stream_stop_reason_in_start, anthropic_stream_no_stop_reason: tolerated)",
       rules=[
           rule("in_start", "message_start says stop_reason null"),
           rule("no_delta", "a finished stream sends message_delta"),
       ])
def check_stream_stop_reason(exchange: Exchange) -> Iterator[Violation]:
    items = typed(exchange)
    for position, kind, data in items:
        if kind == "message_start":
            message = data.get("message") if isinstance(data.get("message"), dict) else {}
            if message.get("stop_reason") is not None:
                yield Violation(f"message_start already says stop_reason {message.get('stop_reason')!r} (it must be null until message_delta)", exchange.event_ptr(position, "/message/stop_reason"), rule="in_start")
    deltas = [(p, d) for p, k, d in items if k == "message_delta"]
    for position, data in deltas:
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        if delta.get("stop_reason") is None:
            yield Violation("message_delta carries no stop_reason", exchange.event_ptr(position, "/delta/stop_reason"))
    if not deltas and any(k == "message_stop" for _, k, _ in items):
        yield Violation("the stream never sent message_delta, so no stop_reason", f"/exchanges/{exchange.index}/response/events", rule="no_delta")


@check(cls="24", source=STREAM_SOURCE + " (message_delta carries usage); incompatibilities.md class 24", title="stream usage: message_start is not 0/0 and message_delta carries output_tokens", breaks=("anthropic-python",), evidence="accumulate_event reads event.usage.output_tokens: AttributeError without usage (fault anthropic_stream_no_delta_usage)", rules=[rule("zero", "usage counts are 0 for a non-empty prompt or reply", severity=Severity.ERROR, compatible=Severity.WARNING, evidence="anthropic-python reads the counts without checking them (fault anthropic_stream_zero_start_usage)")])
def check_stream_usage(exchange: Exchange, content_nonempty: bool = True) -> Iterator[Violation]:
    for position, kind, data in typed(exchange):
        if kind == "message_start":
            usage = (data.get("message") or {}).get("usage") if isinstance(data.get("message"), dict) else None
            if isinstance(usage, dict) and content_nonempty and usage.get("input_tokens") == 0 and usage.get("output_tokens") == 0:
                yield Violation("message_start usage is 0/0 for a non-empty prompt and reply (clients keep input_tokens from message_start)", exchange.event_ptr(position, "/message/usage"), rule="zero")
        elif kind == "message_delta":
            usage = data.get("usage")
            if not isinstance(usage, dict) or not isinstance(usage.get("output_tokens"), int):
                yield Violation("message_delta has no usage.output_tokens (the SDK accumulator needs it)", exchange.event_ptr(position, "/usage"))
            elif content_nonempty and usage["output_tokens"] <= 0:
                yield Violation(f"message_delta usage.output_tokens is {usage['output_tokens']} for a non-empty reply", exchange.event_ptr(position, "/usage/output_tokens"), rule="zero")


def message_structure(message: Any) -> tuple[Any, Any, Any]:
    """What a client acts on: the block kinds (and tool names), stop_reason and stop_sequence."""
    blocks = []
    for block in content_blocks(message):
        kind = block.get("type")
        blocks.append((kind, block.get("name")) if kind == "tool_use" else (kind,))
    message = message if isinstance(message, dict) else {}
    return blocks, message.get("stop_reason"), message.get("stop_sequence")


def wording_difference(streamed: str, plain: str) -> str:
    from conformance.checks.openai_stream import wording_difference as difference

    return difference(streamed, plain)


def message_wording(message: Any) -> list[Any]:
    """What a non-deterministic model may vary: the texts, thinking and tool inputs."""
    out = []
    for block in content_blocks(message):
        kind = block.get("type")
        if kind == "text":
            out.append(block.get("text"))
        elif kind == "thinking":
            out.append(block.get("thinking"))
        elif kind == "tool_use":
            out.append(json.dumps(block.get("input"), sort_keys=True))
    return out


@check(cls=None, source=STREAM_SOURCE + " (the stream reassembles into the message a non-streamed request returns)",
       title="the reassembled stream has the structure of the non-streamed message (blocks, stop_reason, stop_sequence)",
       semantic="the same request streamed must deliver the same kind of answer: the content blocks, tool calls and stop_reason a client acts on",
       rules=[rule("wording", "the reassembled stream's wording equals the non-streamed message for a deterministic request", severity=Severity.WARNING,
                   evidence="a WARN: wording can differ between two generations of a model, even when it repeated itself once")])
def check_stream_matches_message(streamed: Exchange, plain: Exchange, compare_wording: bool = True) -> Iterator[Violation]:
    """Structure differences are FAILs; wording differences (only when ``compare_wording``: the
    target repeated its non-streamed reply word for word) are WARNs."""
    events = f"/exchanges/{streamed.index}/response/events"
    message = reassemble(streamed)
    got, expected = message_structure(message), message_structure(plain.body)
    labels = ("content blocks", "stop_reason", "stop_sequence")
    for label, a, b in zip(labels, got, expected):
        if a != b:
            yield Violation(f"streamed {label} {str(a)[:160]} differs from the non-streamed {str(b)[:160]}", events)
    if compare_wording and got == expected:
        for a, b in zip(message_wording(message), message_wording(plain.body)):
            if a != b:
                yield Violation(f"{wording_difference(str(a), str(b))} (wording only: a non-deterministic model can do this)",
                                events, rule="wording")
                break
