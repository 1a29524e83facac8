"""openai-python calling the target: create, stream, the stream helper, a tool round trip, parse."""

import json

import pytest
from pydantic import BaseModel

from conformance.sdk import OPENAI
from conformance.sdk.lane import call, openai_client

pytestmark = [pytest.mark.conformance(protocol="openai", feature="clients"), pytest.mark.client_lane,
              pytest.mark.xdist_group("client_lane")]  # one worker imports the SDKs for live calls (with -n: --dist loadgroup)

ASK = [{"role": "user", "content": "Reply with exactly: Hello from the client lane"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


class CityInfo(BaseModel):
    city: str
    population: int


def test_client_openai_create(case):
    """openai-python chat.completions.create returns a completion with text"""
    client = openai_client(case)
    reply = call(case, OPENAI, "chat.completions.create", lambda: client.chat.completions.create(model=case.model, messages=ASK))
    text = reply.choices[0].message.content if reply and reply.choices else None
    if not isinstance(text, str) or not text:
        call(case, OPENAI, "chat.completions.create", lambda: _fail("choices[0].message.content is empty"))


def test_client_openai_stream(case):
    """openai-python chat.completions.create(stream=True) yields chunks and the stream helper a final completion"""
    client = openai_client(case)
    chunks = call(case, OPENAI, "chat.completions.create(stream)",
                  lambda: list(client.chat.completions.create(model=case.model, messages=ASK, stream=True)))
    text = "".join((c.choices[0].delta.content or "") for c in chunks or [] if c.choices)
    if not text:
        call(case, OPENAI, "chat.completions.create(stream)", lambda: _fail("the chunks carry no content"))

    def final():
        with client.chat.completions.stream(model=case.model, messages=ASK) as stream:
            return stream.get_final_completion()

    completion = call(case, OPENAI, "chat.completions.stream", final)
    if completion is not None and (completion.choices[0].message.content or "") != text:
        call(case, OPENAI, "chat.completions.stream",
             lambda: _fail(f"the helper's final content {completion.choices[0].message.content!r} differs from the chunks' {text!r}"))


def test_client_openai_tool_round_trip(case):
    """openai-python: a forced tool call, its result sent back, and a final reply"""
    client = openai_client(case)
    messages = [{"role": "user", "content": "Use get_weather for Paris"}]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    reply = call(case, OPENAI, "chat.completions.create",
                 lambda: client.chat.completions.create(model=case.model, messages=messages, tools=[WEATHER_TOOL], tool_choice=forced))
    calls = (reply.choices[0].message.tool_calls or []) if reply and reply.choices else []
    if not calls:
        case.inconclusive("the model did not call the forced tool, so the round trip cannot be exercised")
    tool_call = calls[0]
    arguments = call(case, OPENAI, "chat.completions.create", lambda: json.loads(tool_call.function.arguments))
    history = messages + [reply.choices[0].message.model_dump(exclude_none=True),
                          {"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps({"city": arguments.get("city"), "sky": "sunny"})}]
    final = call(case, OPENAI, "chat.completions.create",
                 lambda: client.chat.completions.create(model=case.model, messages=history, tools=[WEATHER_TOOL]))
    if final is not None and not (final.choices and (final.choices[0].message.content or final.choices[0].message.tool_calls)):
        call(case, OPENAI, "chat.completions.create", lambda: _fail("the reply to the tool result is empty"))


def test_client_openai_parse(case):
    """openai-python chat.completions.parse gives a Pydantic object for a json_schema response_format"""
    client = openai_client(case)
    messages = [{"role": "user", "content": "Give the city Paris and its population as JSON."}]
    parsed = call(case, OPENAI, "chat.completions.parse",
                  lambda: client.chat.completions.parse(model=case.model, messages=messages, response_format=CityInfo, max_completion_tokens=256),
                  optional=True)
    if parsed is not None and not isinstance(parsed.choices[0].message.parsed, CityInfo):
        if parsed.choices[0].finish_reason == "length":
            case.inconclusive("the reply was cut by the token cap, so it cannot be parsed")
        call(case, OPENAI, "chat.completions.parse", lambda: _fail(f"message.parsed is {parsed.choices[0].message.parsed!r}"))


def _fail(message: str):
    raise AssertionError(message)
