"""Checks of tool calls: arguments, tool_choice, parallel calls, and tool-call stream deltas."""

from __future__ import annotations

import json
from typing import Any, Iterator

import jsonschema

from conformance.checks import Violation, check, rule
from conformance.checks.openai_chat import FINISH_REASONS
from conformance.checks.openai_stream import STREAM_SOURCE, choice_entries, streamed_calls  # noqa: F401 - streamed_calls is used here and by callers
from conformance.findings import Severity
from conformance.exchange import Exchange

TOOLS_000 = "CrossModel 000 §Function tools"
ARGUMENT_RULES = [  # the main rule: the arguments parse as JSON
    rule("undeclared_name", "a tool call names a declared tool"),
    rule("not_string", "function.arguments is a string of JSON text"),
    rule("not_object", "function.arguments is a JSON object"),
    rule("schema", "function.arguments match the declared parameters"),
]


def declared(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """name -> parameters schema (None for a tool without parameters)."""
    out = {}
    for tool in tools:
        function = tool.get("function") or {}
        out[function.get("name")] = function.get("parameters")
    return out


def response_calls(exchange: Exchange) -> list[tuple[str, dict[str, Any]]]:
    """(pointer, tool call) for every tool call of every choice of a non-streamed reply."""
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    out = []
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        message = choice.get("message") if isinstance(choice, dict) else None
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for k, call in enumerate(calls if isinstance(calls, list) else []):
            out.append((exchange.ptr(f"/choices/{position}/message/tool_calls/{k}"), call))
    return out


def _judge_arguments(name: Any, arguments: Any, tools: dict[str, Any], pointer: str) -> Iterator[Violation]:
    if name not in tools:
        yield Violation(f"tool call names {name!r}, which was not declared ({', '.join(map(str, tools))})", pointer + "/function/name", rule="undeclared_name")
    if not isinstance(arguments, str):
        yield Violation(f"function.arguments is a {type(arguments).__name__}, not a JSON string (clients json-decode it)", pointer + "/function/arguments", rule="not_string")
        return
    try:
        value = json.loads(arguments)
    except ValueError as exc:
        yield Violation(f"function.arguments does not parse as JSON ({exc}): {arguments[:80]!r}", pointer + "/function/arguments")
        return
    if not isinstance(value, dict):
        yield Violation(f"function.arguments is JSON but not an object: {arguments[:80]!r}", pointer + "/function/arguments", rule="not_object")
        return
    schema = tools.get(name)
    if isinstance(schema, dict):
        for error in jsonschema.Draft202012Validator(schema).iter_errors(value):
            yield Violation(f"function.arguments do not match the declared parameters: {error.message}", pointer + "/function/arguments", rule="schema")
            break


@check(cls="15", source=TOOLS_000 + "; OpenAI OpenAPI 2.3.0 ChatCompletionMessageToolCall (arguments: JSON text); incompatibilities.md class 15",
       title="tool call arguments are a JSON string that validates against the declared schema", breaks=("openai-python",), semantic="the tool call the request asked for must carry arguments for the declared schema", evidence="client code json.loads(arguments): an object raises TypeError (fault tool_arguments_object)",
       rules=[*ARGUMENT_RULES, rule("duplicate_id", "tool call ids are unique within a reply")])
def check_tool_call_arguments(exchange: Exchange, tools: list[dict[str, Any]]) -> Iterator[Violation]:
    known = declared(tools)
    ids = set()
    for pointer, call in response_calls(exchange):
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if call.get("id") in ids:
            yield Violation(f"tool call id {call.get('id')!r} is used twice in one reply", pointer + "/id", cls=None, rule="duplicate_id")
        ids.add(call.get("id"))
        yield from _judge_arguments(function.get("name"), function.get("arguments"), known, pointer)


@check(cls="15", source=TOOLS_000 + "; openai-python lib/streaming/_deltas.py (arguments are concatenated); incompatibilities.md class 15",
       title="streamed tool call arguments concatenate to JSON that validates against the declared schema", breaks=("openai-python",), semantic="the tool call the request asked for must carry arguments for the declared schema", evidence="the stream helper's final arguments are not JSON text (fault tool_arguments_object, stream_tool_call_header_repeated)",
       rules=ARGUMENT_RULES)
def check_stream_tool_call_arguments(exchange: Exchange, tools: list[dict[str, Any]]) -> Iterator[Violation]:
    known = declared(tools)
    for key, call in streamed_calls(exchange).items():
        if call.get("not_string"):
            yield Violation(f"a delta of tool call {key[1]} carries arguments that are not a string", call["pointer"], rule="not_string")
            continue
        yield from _judge_arguments(call["name"], call["arguments"], known, call["pointer"])


@check(cls="1", source=STREAM_SOURCE + " (a tool-call delta without index raises); incompatibilities.md class 1", title="every streamed tool-call delta carries its index", breaks=("openai-python",), evidence="ChatCompletionStreamState indexes tool calls by index: TypeError without it (fault stream_tool_call_no_index)")
def check_stream_tool_call_index(exchange: Exchange) -> Iterator[Violation]:
    for position, k, choice in choice_entries(exchange):
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        for j, part in enumerate(delta.get("tool_calls") or []):
            if not isinstance(part, dict) or isinstance(part.get("index"), bool) or not isinstance(part.get("index"), int):
                yield Violation(f"a tool-call delta has no integer index: {json.dumps(part)[:100]}", exchange.event_ptr(position, f"/choices/{k}/delta/tool_calls/{j}"))
                return


@check(cls="2", source=STREAM_SOURCE + " (the SDK concatenates id, type and name); incompatibilities.md class 2",
       title="a streamed tool call carries id, type and name on its first delta only", breaks=("openai-python",), evidence="accumulate_delta concatenates a repeated id and name (call_1call_1); it replaces a repeated type (fault stream_tool_call_header_repeated)", rules=[rule("missing_header", "the first delta of a tool call carries id, type and name"),
              rule("type_repeated", "a later tool-call delta repeats type: function", severity=Severity.ERROR, compatible=Severity.WARNING, evidence="openai-python replaces type rather than concatenating it (lib/streaming/_deltas.py accumulate_delta); both SDK replays tolerate it")])
def check_stream_tool_call_header_once(exchange: Exchange) -> Iterator[Violation]:
    seen: set[tuple[Any, Any]] = set()
    for position, k, choice in choice_entries(exchange):
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        for j, part in enumerate(delta.get("tool_calls") or []):
            if not isinstance(part, dict) or not isinstance(part.get("index"), int):
                continue  # judged by check_stream_tool_call_index
            key = (choice.get("index"), part["index"])
            function = part.get("function") if isinstance(part.get("function"), dict) else {}
            pointer = exchange.event_ptr(position, f"/choices/{k}/delta/tool_calls/{j}")
            header = {"id": part.get("id"), "type": part.get("type"), "function.name": function.get("name")}
            if key not in seen:
                seen.add(key)
                missing = [f for f, v in header.items() if not v]
                if missing:
                    yield Violation(f"the first delta of tool call {part['index']} lacks {', '.join(missing)}", pointer, rule="missing_header")
                continue
            repeated = [f for f, v in header.items() if v]
            if repeated:
                if repeated == ["type"]:
                    yield Violation(f"a later delta of tool call {part['index']} repeats type (clients replace it)", pointer, rule="type_repeated")
                else:
                    yield Violation(f"a later delta of tool call {part['index']} repeats {', '.join(repeated)} (clients concatenate them)", pointer)
                return


@check(cls="9", source="OpenAI OpenAPI 2.3.0 finish_reason (tool_calls); incompatibilities.md class 9", title="a stream with tool calls finishes with tool_calls", compatible=Severity.WARNING, evidence="openai-python keeps the finish_reason it is sent (fault tool_calls_finish_stop)",
       rules=[
           rule("stop", "a stream with tool calls does not finish with stop", severity=Severity.WARNING),
       ])
def check_stream_tool_calls_finish_reason(exchange: Exchange) -> Iterator[Violation]:
    with_calls = {key[0] for key in streamed_calls(exchange)}
    for position, k, choice in choice_entries(exchange):
        reason = choice.get("finish_reason")
        if reason not in FINISH_REASONS or choice.get("index") not in with_calls:
            continue  # a missing or unknown finish_reason is judged by check_stream_finish_reason
        pointer = exchange.event_ptr(position, f"/choices/{k}/finish_reason")
        if reason == "stop":
            yield Violation("finish_reason is 'stop' although the stream carried tool calls", pointer, Severity.WARNING, rule="stop")
        elif reason not in ("tool_calls", "function_call"):
            yield Violation(f"finish_reason is {reason!r} although the stream carried tool calls", pointer)


@check(cls=None, source=TOOLS_000 + " (tool_choice: auto, none, required, or a named function); 001 §Body", title="tool_choice is honoured",
       semantic="the request forced a tool call (required, a named function) or forbade one (none); the reply, streamed or not, is the proof it was ignored",
       rules=[
           rule("none_called", "tool_choice none gives no tool call", semantic="tool_choice none asked for no tool call"),
           rule("forced_no_call", "a forced function gives a tool call", semantic="tool_choice named the function to call"),
           rule("forced_other", "a forced function is the function called", semantic="tool_choice named the function to call"),
       ])
def check_tool_choice_honoured(exchange: Exchange, mode: str, name: str | None = None, calls: list[tuple[str, str]] | None = None) -> Iterator[Violation]:
    """``calls``: (pointer, name) of the reply's tool calls (computed from the exchange when omitted)."""
    if calls is None:
        calls = [(p, (c.get("function") or {}).get("name")) for p, c in response_calls(exchange) if isinstance(c, dict)]
    where = f"/exchanges/{exchange.index}/response"
    if mode == "none" and calls:
        yield Violation(f"tool_choice 'none' but the reply calls {calls[0][1]!r}", calls[0][0], rule="none_called")
    elif mode == "required" and not calls:
        yield Violation("tool_choice 'required' but the reply holds no tool call", where)
    elif mode == "forced":
        if not calls:
            yield Violation(f"tool_choice forces {name!r} but the reply holds no tool call", where, rule="forced_no_call")
        for pointer, called in calls:
            if called != name:
                yield Violation(f"tool_choice forces {name!r} but the reply calls {called!r}", pointer, rule="forced_other")
                break


@check(cls=None, source="CrossModel 000 §Extended parameters (parallel_tool_calls)", title="parallel_tool_calls: false gives at most one tool call")
def check_parallel_tool_calls_disabled(exchange: Exchange) -> Iterator[Violation]:
    calls = response_calls(exchange)
    if len(calls) > 1:
        yield Violation(f"parallel_tool_calls is false but the reply holds {len(calls)} tool calls", calls[1][0])
