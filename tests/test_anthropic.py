"""Unit tests of the Anthropic checks: each stays silent on a clean exchange and fires on a broken one."""

from __future__ import annotations

import json

import pytest

from conformance.checks import evaluate
from conformance.checks.anthropic import (
    check_anthropic_error_shape,
    check_anthropic_stop_reason,
    check_anthropic_stop_sequence,
    check_anthropic_tool_choice,
)
from conformance.checks.anthropic_stream import (
    check_stream_block_indexes,
    check_stream_event_names,
    check_stream_event_order,
    check_stream_no_done,
    check_stream_tool_input,
    check_stream_usage,
    reassemble,
)
from conformance.findings import Strictness
from conformance.schemas import registry
from conformance.sse import parse
from conformance.exchange import Exchange

MESSAGE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
    "content": [{"type": "text", "text": "Hello there"}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
}


def events_for(message, *, names=True, done=False, index_shift=0, drop_stop=False):
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    out = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]
    for index, block in enumerate(message["content"]):
        index += index_shift
        if block["type"] == "text":
            head, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": block["text"][:5]}, {"type": "text_delta", "text": block["text"][5:]}]
        else:
            raw = json.dumps(block["input"])
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": raw[:4]}, {"type": "input_json_delta", "partial_json": raw[4:]}]
        out.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": head}))
        out += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        if not drop_stop:
            out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None}, "usage": {"output_tokens": 7}}))
    out.append(("message_stop", {"type": "message_stop"}))
    raw = "".join((f"event: {n}\n" if names else "") + f"data: {json.dumps(d)}\n\n" for n, d in out)
    if done:
        raw += "data: [DONE]\n\n"
    parser = parse(raw.encode())
    return Exchange(0, "POST", "http://x/v1/messages", {}, {}, status=200, headers={"content-type": "text/event-stream"},
                    events=parser.events, framing=parser.issues, raw_sse=raw)


def fired(func, *args, **kwargs):
    return [f.message for f in evaluate(func, *args, **kwargs)]


def test_clean_stream_passes_every_sequence_check():
    exchange = events_for(MESSAGE)
    for func in (check_stream_event_names, check_stream_no_done, check_stream_event_order, check_stream_block_indexes, check_stream_tool_input):
        assert fired(func, exchange) == [], func
    assert fired(check_stream_usage, exchange) == []
    rebuilt = reassemble(exchange)
    assert rebuilt["content"] == MESSAGE["content"]
    assert rebuilt["stop_reason"] == "tool_use"


@pytest.mark.parametrize("broken, func", [
    ({"names": False}, check_stream_event_names),
    ({"done": True}, check_stream_no_done),
    ({"index_shift": 1}, check_stream_block_indexes),
    ({"drop_stop": True}, check_stream_event_order),
])
def test_broken_stream_is_caught(broken, func):
    assert fired(func, events_for(MESSAGE, **broken))


def test_stop_reason_semantics():
    assert fired(check_anthropic_stop_reason, MESSAGE, "") == []
    assert fired(check_anthropic_stop_reason, {**MESSAGE, "stop_reason": "end_turn"}, "")
    capped = {**MESSAGE, "content": [{"type": "text", "text": "a b c d e"}], "stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 5}}
    assert fired(check_anthropic_stop_reason, capped, "", 5)
    assert fired(check_anthropic_stop_reason, {**capped, "stop_reason": "max_tokens"}, "", 5) == []


def test_stop_sequence_and_tool_choice():
    stopped = {**MESSAGE, "content": [{"type": "text", "text": "one two "}], "stop_reason": "stop_sequence", "stop_sequence": "STOP"}
    assert fired(check_anthropic_stop_sequence, stopped, "", ["STOP"]) == []
    assert fired(check_anthropic_stop_sequence, {**stopped, "stop_sequence": None}, "", ["STOP"])
    assert fired(check_anthropic_stop_sequence, {**stopped, "content": [{"type": "text", "text": "one STOP two"}], "stop_reason": "end_turn", "stop_sequence": None}, "", ["STOP"])
    text_only = {**MESSAGE, "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"}
    assert fired(check_anthropic_tool_choice, text_only, "", {"type": "any"}, ["get_weather"])
    assert fired(check_anthropic_tool_choice, MESSAGE, "", {"type": "any"}, ["get_weather"]) == []


def test_error_shape_anthropic_versus_openai():
    schemas = registry()
    good = Exchange(0, "POST", "u", {}, {}, status=401, body={"type": "error", "error": {"type": "authentication_error", "message": "no"}}, is_json=True)
    bad = Exchange(0, "POST", "u", {}, {}, status=401, body={"error": {"message": "no", "type": "authentication_error", "param": None, "code": "x"}}, is_json=True)
    for strictness in Strictness:
        assert fired(check_anthropic_error_shape, good, schemas, strictness, strictness=strictness) == []
        assert fired(check_anthropic_error_shape, bad, schemas, strictness, strictness=strictness)
