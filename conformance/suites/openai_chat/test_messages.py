"""The message object: every documented role, name, and content as a string, a block array, null
(assistant with tool calls only) and "" (class 16)."""

import pytest

from conformance.checks.openai_params import check_history_accepted
from conformance.suites.openai_support import HELLO, chat_body, check_reply, send


def documented(case, messages):
    """Skip when the profile does not document a role or content form the conversation uses."""
    roles = case.rule("roles", default=["system", "developer", "user", "assistant", "tool"]) or []
    for message in messages:
        if message["role"] not in roles:
            case.skip(f"profile {case.profile.name} does not document the {message['role']} role")
        if isinstance(message.get("content"), list) and case.rule("string_content_only", default=False):
            case.skip(f"profile {case.profile.name} documents string content only")

pytestmark = pytest.mark.conformance(protocol="openai", feature="messages")

CALL = {"id": "call_conformance_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

# Conversations every documented role and message field must be accepted in.
HISTORIES = {
    "system": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": HELLO}],
    "developer": [{"role": "developer", "content": "You are terse."}, {"role": "user", "content": HELLO}],
    "user": [{"role": "user", "content": HELLO}],
    "assistant": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": HELLO}],
    "tool": [{"role": "user", "content": "What is the weather in Paris?"},
             {"role": "assistant", "content": None, "tool_calls": [CALL]},
             {"role": "tool", "tool_call_id": "call_conformance_1", "content": "{\"temp_c\": 21}"}],
    "name": [{"role": "system", "content": "You are terse."}, {"role": "user", "name": "alice", "content": HELLO}],
    "content_string": [{"role": "user", "content": HELLO}],
    "content_blocks": [{"role": "user", "content": [{"type": "text", "text": HELLO}]}],
    "content_blocks_system": [{"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
                              {"role": "user", "content": HELLO}],
}


@pytest.mark.parametrize("name", list(HISTORIES))
def test_message_accepted(case, name):
    """a conversation using {name} gets a well-formed reply"""
    documented(case, HISTORIES[name])
    body = chat_body(case)
    body["messages"] = HISTORIES[name]
    if name == "tool":
        body["tools"] = [WEATHER_TOOL]
    check_reply(case, send(case, body))


# Class 16: history messages clients really send.
CLASS_16 = {
    "null_assistant_content": ("an assistant message with content null and tool calls", [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_conformance_1", "content": "{\"temp_c\": 21}"},
        {"role": "user", "content": HELLO}]),
    "absent_assistant_content": ("an assistant message without content and with tool calls", [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_conformance_1", "content": "{\"temp_c\": 21}"},
        {"role": "user", "content": HELLO}]),
    "empty_assistant_content": ("an assistant message with content \"\"", [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}, {"role": "user", "content": HELLO}]),
    "empty_system_content": ("a system message with content \"\"", [
        {"role": "system", "content": ""}, {"role": "user", "content": HELLO}]),
}


@pytest.mark.parametrize("name", list(CLASS_16))
def test_history_content_accepted(case, name):
    """a history with {name} is accepted"""
    what, messages = CLASS_16[name]
    documented(case, messages)
    body = chat_body(case)
    body["messages"] = messages
    body["tools"] = [WEATHER_TOOL]
    exchange = send(case, body)
    case.require(case.check(check_history_accepted, exchange, what))
    check_reply(case, exchange)
