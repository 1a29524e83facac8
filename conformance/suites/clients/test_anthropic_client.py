"""anthropic-python calling the target: messages.create, the stream helper, a tool-use round trip."""

import pytest

from conformance.sdk import ANTHROPIC
from conformance.sdk.lane import anthropic_client, call

pytestmark = [pytest.mark.conformance(protocol="anthropic", feature="clients"), pytest.mark.client_lane,
              pytest.mark.xdist_group("client_lane")]  # one worker imports the SDKs for live calls (with -n: --dist loadgroup)

ASK = [{"role": "user", "content": "Reply with exactly: Hello from the client lane"}]
WEATHER_TOOL = {"name": "get_weather", "description": "The weather of a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_client_anthropic_create(case):
    """anthropic-python messages.create returns a message with text"""
    client = anthropic_client(case)
    message = call(case, ANTHROPIC, "messages.create", lambda: client.messages.create(model=case.model, max_tokens=64, messages=ASK))
    if message is not None and not any(getattr(b, "type", None) == "text" and b.text for b in message.content):
        call(case, ANTHROPIC, "messages.create", lambda: _fail("the message has no text block"))


def test_client_anthropic_stream(case):
    """anthropic-python messages.create(stream=True) yields events and messages.stream a final message"""
    client = anthropic_client(case)
    events = call(case, ANTHROPIC, "messages.create(stream)",
                  lambda: list(client.messages.create(model=case.model, max_tokens=64, messages=ASK, stream=True)))
    text = "".join(e.delta.text for e in events or [] if e.type == "content_block_delta" and e.delta.type == "text_delta")

    def final():
        with client.messages.stream(model=case.model, max_tokens=64, messages=ASK) as stream:
            return stream.get_final_message()

    message = call(case, ANTHROPIC, "messages.stream", final)
    if message is not None:
        got = "".join(b.text for b in message.content if b.type == "text")
        if not got or got != text:
            call(case, ANTHROPIC, "messages.stream", lambda: _fail(f"the final message's text {got!r} differs from the events' {text!r}"))


def test_client_anthropic_tool_round_trip(case):
    """anthropic-python: a forced tool_use, its tool_result sent back, and a final reply"""
    client = anthropic_client(case)
    messages = [{"role": "user", "content": "Use get_weather for Paris"}]
    reply = call(case, ANTHROPIC, "messages.create",
                 lambda: client.messages.create(model=case.model, max_tokens=128, messages=messages, tools=[WEATHER_TOOL],
                                                tool_choice={"type": "tool", "name": "get_weather"}))
    uses = [b for b in (reply.content if reply is not None else []) if b.type == "tool_use"]
    if not uses:
        case.inconclusive("the model did not call the forced tool, so the round trip cannot be exercised")
    history = messages + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny, 21 degrees"}]}]
    final = call(case, ANTHROPIC, "messages.create",
                 lambda: client.messages.create(model=case.model, max_tokens=128, messages=history, tools=[WEATHER_TOOL]))
    if final is not None and not final.content:
        call(case, ANTHROPIC, "messages.create", lambda: _fail("the reply to the tool result is empty"))


def _fail(message: str):
    raise AssertionError(message)
