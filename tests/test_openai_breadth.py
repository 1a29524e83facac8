"""Unit tests of the breadth checks (parameters, tools, logprobs) on hand-made exchanges."""

import json

from conformance.checks import evaluate
from conformance.checks.openai_logprobs import check_logprob_entries, check_logprobs_join_content, check_logprobs_present, check_top_logprobs
from conformance.checks.openai_params import check_json_reply, check_stop_honoured, check_token_cap_honoured
from conformance.checks.openai_tools import (
    check_stream_tool_call_header_once,
    check_stream_tool_call_index,
    check_stream_tool_call_arguments,
    check_tool_call_arguments,
    check_tool_choice_honoured,
)
from conformance.sse import parse
from conformance.exchange import Exchange

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def reply(message, finish="stop", logprobs=None, usage=None):
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "logprobs": logprobs, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    return Exchange(0, "POST", "u", {}, {}, status=200, body=body, is_json=True)


def stream(deltas):
    chunks = [{"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    raw = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    parser = parse(raw.encode())
    return Exchange(0, "POST", "u", {}, {}, status=200, headers={"content-type": "text/event-stream"},
                    events=parser.events, framing=parser.issues, raw_sse=raw, saw_done=True)


def fired(func, *args):
    return [f.message for f in evaluate(func, *args)]


def call(arguments, name="get_weather"):
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_tool_arguments_string_object_empty_and_schema():
    assert fired(check_tool_call_arguments, reply({"content": None, "tool_calls": [call('{"city": "Paris"}')]}), TOOLS) == []
    assert fired(check_tool_call_arguments, reply({"content": None, "tool_calls": [call({"city": "Paris"})]}), TOOLS)
    assert fired(check_tool_call_arguments, reply({"content": None, "tool_calls": [call("")]}), TOOLS)
    assert fired(check_tool_call_arguments, reply({"content": None, "tool_calls": [call('{"town": "Paris"}')]}), TOOLS)
    assert fired(check_tool_call_arguments, reply({"content": None, "tool_calls": [call("{}", name="other")]}), TOOLS)


def test_stream_tool_call_rules():
    good = stream([{"role": "assistant"},
                   {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
                   {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
                   {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}])
    for func, args in ((check_stream_tool_call_index, ()), (check_stream_tool_call_header_once, ()), (check_stream_tool_call_arguments, (TOOLS,))):
        assert fired(func, good, *args) == [], func
    no_index = stream([{"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}])
    assert fired(check_stream_tool_call_index, no_index)
    repeated = stream([{"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
                       {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "P"}'}}]}])
    assert fired(check_stream_tool_call_header_once, repeated)


def test_tool_choice_modes():
    with_call = reply({"content": None, "tool_calls": [call('{"city": "Paris"}')]}, "tool_calls")
    without = reply({"content": "Hi"})
    assert fired(check_tool_choice_honoured, with_call, "none")
    assert fired(check_tool_choice_honoured, without, "none") == []
    assert fired(check_tool_choice_honoured, without, "required")
    assert fired(check_tool_choice_honoured, with_call, "forced", "get_time")
    assert fired(check_tool_choice_honoured, with_call, "forced", "get_weather") == []


def entry(token, logprob, top):
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": top}


def test_logprobs_shapes():
    tops = [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}, {"token": "Ho", "logprob": -1.0, "bytes": [72, 111]}]
    good = reply({"content": "Hi"}, logprobs={"content": [entry("Hi", -0.1, tops)], "refusal": None})
    assert fired(check_logprobs_present, good) == []
    assert fired(check_logprob_entries, good) == []
    assert fired(check_top_logprobs, good, 2) == []
    assert fired(check_logprobs_join_content, good) == []
    assert fired(check_top_logprobs, good, 3)
    assert fired(check_top_logprobs, reply({"content": "Hi"}, logprobs={"content": [entry("Hi", -0.1, tops[::-1])]}), 2)
    assert fired(check_logprobs_present, reply({"content": "Hi"}))
    assert fired(check_logprobs_present, reply({"content": "Hi"}, logprobs={"tokens": ["Hi"], "token_logprobs": [-0.1]}))
    assert fired(check_logprob_entries, reply({"content": "Hi"}, logprobs={"content": [entry("Hi", 0.5, [])]}))
    bad_bytes = entry("Hi", -0.1, [])
    bad_bytes["bytes"] = [72]
    assert fired(check_logprob_entries, reply({"content": "Hi"}, logprobs={"content": [bad_bytes]}))
    assert fired(check_logprobs_join_content, reply({"content": "Hi there"}, logprobs={"content": [entry("Hi", -0.1, [])]}))


def test_parameter_effects():
    capped = reply({"content": "One two three four five six seven"}, usage={"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12})
    assert fired(check_token_cap_honoured, capped, 5, "max_tokens")
    assert [f.cls for f in evaluate(check_token_cap_honoured, capped, 5, "max_completion_tokens")] == ["20"]
    assert fired(check_token_cap_honoured, reply({"content": "One"}), 5, "max_tokens") == []
    assert fired(check_stop_honoured, reply({"content": "one two three"}), ["three"])
    assert fired(check_stop_honoured, reply({"content": "one two "}), ["three"]) == []
    schema = {"type": "object", "required": ["city"]}
    assert fired(check_json_reply, reply({"content": '{"city": "Paris"}'}), schema) == []
    assert fired(check_json_reply, reply({"content": "Paris is big."}), schema)
    assert fired(check_json_reply, reply({"content": '{"town": "Paris"}'}), schema)
    assert fired(check_json_reply, reply({"content": '{"ci'}, finish="length"), schema) == []
