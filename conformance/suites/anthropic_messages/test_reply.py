"""Basic, non-streamed Messages replies: the message object, its fields and stop_reason."""

import pytest

from conformance.checks.anthropic import reply_text
from conformance.checks.probes import check_stop_reported
from conformance.suites.anthropic_support import HELLO, STORY, body, check_reply, check_stream, send
from conformance.suites.probe_support import stop_sequences_from

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


def _stop_sequence_probe(case, stream=False):
    """A control request without stop_sequences, then the probe with a stop sequence taken from the
    control's own reply: a reply that still holds it proves stop_sequences was ignored (judge()'s
    stop-sequence rule, which also checks stop_reason and stop_sequence). Inconclusive only when
    the control gives nothing usable."""
    request = body(case, STORY, max_tokens=128)
    control = send(case, request)
    message = check_reply(case, control, max_tokens=128)
    stops = stop_sequences_from(reply_text(message))
    if not stops:
        case.inconclusive("the control reply (without stop_sequences) holds no word to use as a stop sequence")
    probe = {**request, "stop_sequences": stops, **({"stream": True} if stream else {})}
    exchange = send(case, probe)
    reply = check_stream(case, exchange, max_tokens=128) if stream else check_reply(case, exchange, max_tokens=128)
    if isinstance(reply, dict):
        pointer = f"/exchanges/{exchange.index}/response/events" if stream else exchange.ptr("/stop_reason")
        case.check(check_stop_reported, reply_text(reply), reply.get("stop_reason"), "stop_sequence", reply_text(message), stops, pointer)


def test_reply_stop_sequence(case):
    """a stop sequence taken from a control reply ends the reply: stop_reason stop_sequence, and stop_sequence names it"""
    _stop_sequence_probe(case)


def test_reply_stop_sequence_stream(case):
    """a stop sequence taken from a control reply ends the streamed reply before the sequence"""
    _stop_sequence_probe(case, stream=True)
