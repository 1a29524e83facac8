"""Function tools: declarations, tool_choice, parallel calls, the round trip, and tool calls in
streams (index, one header per call, arguments that parse: classes 1, 2, 9, 15)."""

import pytest

from conformance.checks.openai_tools import (
    check_parallel_tool_calls_disabled,
    check_stream_tool_call_arguments,
    check_stream_tool_call_header_once,
    check_stream_tool_call_index,
    check_stream_tool_calls_finish_reason,
    check_tool_call_arguments,
    check_tool_choice_honoured,
    response_calls,
    streamed_calls,
)
from conformance.suites.openai_support import chat_body, check_reply, check_stream, refused_cleanly, send

pytestmark = [pytest.mark.conformance(protocol="openai", feature="tools"), pytest.mark.capability("tools")]

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
WEATHER_STRICT = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "description": "Get the current UTC time. Takes no arguments."}}
WEATHER_ASK = "What is the weather in Paris? Use the get_weather tool."
PARALLEL_ASK = "What is the weather in Paris and in Tokyo? Call get_weather once for each city, in parallel."
CLOCK_ASK = "What time is it? Use the get_time tool."

DECLARATIONS = {
    "with_parameters": ([WEATHER], WEATHER_ASK),
    "without_parameters": ([CLOCK], CLOCK_ASK),
    "strict": ([WEATHER_STRICT], WEATHER_ASK),
}


def tool_reply(case, exchange, tools):
    """A non-streamed reply to a request with tools: arguments first (class 15), then the reply."""
    case.expect_success(exchange)
    case.check(check_tool_call_arguments, exchange, tools)
    return check_reply(case, exchange)


def tool_stream(case, exchange, tools):
    case.expect_success(exchange)
    case.check(check_stream_tool_call_index, exchange)
    case.check(check_stream_tool_call_header_once, exchange)
    case.check(check_stream_tool_call_arguments, exchange, tools)
    case.check(check_stream_tool_calls_finish_reason, exchange)
    check_stream(case, exchange)


@pytest.mark.parametrize("name", list(DECLARATIONS))
def test_tool_call(case, name):
    """a tool declared {name} is called with JSON-string arguments that match its schema"""
    tools, ask = DECLARATIONS[name]
    exchange = send(case, chat_body(case, ask, tools=tools, tool_choice="auto"))
    tool_reply(case, exchange, tools)
    if not response_calls(exchange):
        case.inconclusive("the model answered without calling the tool under tool_choice auto")


@pytest.mark.parametrize("name", list(DECLARATIONS))
def test_tool_call_stream(case, name):
    """a streamed call of a tool declared {name} has indexed deltas, one header, and arguments that parse"""
    tools, ask = DECLARATIONS[name]
    exchange = send(case, chat_body(case, ask, tools=tools, tool_choice="auto", stream=True))
    tool_stream(case, exchange, tools)
    if not streamed_calls(exchange):
        case.inconclusive("the model streamed no tool call under tool_choice auto")


CHOICES = {
    "none": ("none", None, WEATHER_ASK),
    "required": ("required", None, "Reply with exactly: Hello from the conformance suite"),
    "forced": ({"type": "function", "function": {"name": "get_time"}}, "get_time", WEATHER_ASK),
    "auto": ("auto", None, WEATHER_ASK),
}


@pytest.mark.parametrize("mode", list(CHOICES))
def test_tool_choice(case, mode):
    """tool_choice {mode} is honoured"""
    choice, name, ask = CHOICES[mode]
    tools = [WEATHER, CLOCK]
    exchange = send(case, chat_body(case, ask, tools=tools, tool_choice=choice))
    refused_cleanly(case, exchange, f"tool_choice {mode}")
    tool_reply(case, exchange, tools)
    kind = "forced" if isinstance(choice, dict) else mode
    if kind != "auto":
        case.check(check_tool_choice_honoured, exchange, kind, name)


@pytest.mark.parametrize("mode", ["none", "required", "forced"])
def test_tool_choice_stream(case, mode):
    """tool_choice {mode} is honoured in a stream"""
    choice, name, ask = CHOICES[mode]
    tools = [WEATHER, CLOCK]
    exchange = send(case, chat_body(case, ask, tools=tools, tool_choice=choice, stream=True))
    refused_cleanly(case, exchange, f"tool_choice {mode} (stream)")
    tool_stream(case, exchange, tools)
    calls = [(c["pointer"], c["name"]) for c in streamed_calls(exchange).values()]
    case.check(check_tool_choice_honoured, exchange, "forced" if isinstance(choice, dict) else mode, name, calls)


def test_parallel_tool_calls(case):
    """parallel tool calls each carry a distinct id and valid arguments"""
    exchange = send(case, chat_body(case, PARALLEL_ASK, tools=[WEATHER], parallel_tool_calls=True))
    tool_reply(case, exchange, [WEATHER])
    if len(response_calls(exchange)) < 2:
        cut = case.truncated(exchange)
        case.inconclusive(f"cut by the token limit ({cut}) before a second call" if cut else "the model did not issue parallel calls (optional behaviour)")


def test_parallel_tool_calls_stream(case):
    """streamed parallel tool calls are told apart by index"""
    exchange = send(case, chat_body(case, PARALLEL_ASK, tools=[WEATHER], parallel_tool_calls=True, stream=True))
    tool_stream(case, exchange, [WEATHER])
    if len(streamed_calls(exchange)) < 2:
        cut = case.truncated(exchange)
        case.inconclusive(f"cut by the token limit ({cut}) before a second call" if cut else "the model did not stream parallel calls (optional behaviour)")


def test_parallel_tool_calls_disabled(case):
    """parallel_tool_calls: false gives at most one tool call"""
    exchange = send(case, chat_body(case, PARALLEL_ASK, tools=[WEATHER], parallel_tool_calls=False))
    refused_cleanly(case, exchange, "parallel_tool_calls false")
    tool_reply(case, exchange, [WEATHER])
    case.check(check_parallel_tool_calls_disabled, exchange)


def test_tool_round_trip(case):
    """the full round trip (call, tool result with tool_call_id, final answer) works"""
    first = send(case, chat_body(case, WEATHER_ASK, tools=[WEATHER], tool_choice="required"))
    tool_reply(case, first, [WEATHER])
    calls = response_calls(first)
    case.check(check_tool_choice_honoured, first, "required")
    if not calls:
        return
    if case.truncated(first):
        case.inconclusive(f"cut by the token limit ({case.truncated(first)}): the tool call is incomplete, so no round trip")
    message = first.body["choices"][0]["message"]
    history = chat_body(case, WEATHER_ASK)["messages"] + [
        {"role": "assistant", "content": message.get("content"), "tool_calls": message["tool_calls"]}]
    for _, call in calls:
        history.append({"role": "tool", "tool_call_id": call["id"], "content": "{\"temp_c\": 21, \"sky\": \"clear\"}"})
    second = send(case, {**chat_body(case, tools=[WEATHER]), "messages": history})
    tool_reply(case, second, [WEATHER])
