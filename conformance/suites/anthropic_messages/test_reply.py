"""Basic, non-streamed Messages replies: the message object, its fields and stop_reason."""

import pytest

from conformance.checks.anthropic import check_anthropic_stop_sequence
from conformance.suites.anthropic_support import HELLO, STORY, body, check_reply, send

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="basic")


def test_reply_message(case):
    """a basic request gets a well-formed message with id, type, role, content, stop_reason and usage"""
    check_reply(case, send(case, body(case)), max_tokens=64)


def test_reply_system_string(case):
    """a system prompt given as a string is accepted"""
    check_reply(case, send(case, body(case, system="You are a terse assistant.")), max_tokens=64)


def test_reply_system_blocks(case):
    """a system prompt given as an array of text blocks is accepted"""
    system = [{"type": "text", "text": "You are a terse assistant."}, {"type": "text", "text": "Answer in one line."}]
    check_reply(case, send(case, body(case, system=system)), max_tokens=64)


def test_reply_multi_turn(case):
    """a conversation alternating user and assistant messages is accepted"""
    messages = [
        {"role": "user", "content": "Hello."},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": [{"type": "text", "text": HELLO}]},
    ]
    check_reply(case, send(case, body(case, messages=messages)), max_tokens=64)


def test_reply_stop_reason_max_tokens(case):
    """a reply cut by max_tokens says stop_reason: max_tokens and stays within the cap"""
    message = check_reply(case, send(case, body(case, STORY, max_tokens=5)), max_tokens=5)
    if message.get("stop_reason") != "max_tokens" and (message.get("usage") or {}).get("output_tokens", 0) < 5:
        case.inconclusive("the model finished within 5 tokens, so the cap was never hit")


def test_reply_stop_sequence(case):
    """a matched stop sequence ends the reply: stop_reason stop_sequence, and stop_sequence names it"""
    request = body(case, "Reply with exactly: one two three STOP four five", stop_sequences=["STOP"])
    exchange = send(case, request)
    message = check_reply(case, exchange, max_tokens=64)
    case.check(check_anthropic_stop_sequence, message, exchange.ptr(), ["STOP"])
    if message.get("stop_reason") != "stop_sequence":
        case.inconclusive("the model did not produce the stop sequence, so it could not be matched")
