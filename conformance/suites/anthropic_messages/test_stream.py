"""Streamed Messages replies: named events, their order, block indexes, usage and reassembly."""

import pytest

from conformance.checks.anthropic_stream import check_stream_matches_message
from conformance.checks.errors import check_error_status
from conformance.checks.openai_stream import check_error_before_stream
from conformance.suites.anthropic_support import STORY, WEATHER_TOOL, body, check_error, check_reply, check_stream, send

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="streaming")


def test_stream_text(case):
    """a streamed reply is a well-formed named-event sequence without data: [DONE]"""
    check_stream(case, send(case, body(case, stream=True)), max_tokens=64)


def test_stream_free_text(case):
    """a streamed free-text reply is a well-formed named-event sequence"""
    check_stream(case, send(case, body(case, STORY, max_tokens=256, stream=True)), max_tokens=256)


def test_stream_max_tokens(case):
    """a streamed reply cut by max_tokens says stop_reason: max_tokens in message_delta"""
    message = check_stream(case, send(case, body(case, STORY, max_tokens=5, stream=True)), max_tokens=5)
    if message and message.get("stop_reason") != "max_tokens":
        case.inconclusive("the model finished within 5 tokens, so the cap was never hit")


@pytest.mark.capability("tools")
def test_stream_tool_use(case):
    """a streamed tool call arrives as input_json_delta pieces that concatenate to the input object"""
    request = body(case, "What is the weather in Paris?", stream=True, tools=[WEATHER_TOOL],
                   tool_choice={"type": "tool", "name": "get_weather"})
    check_stream(case, send(case, request))


@pytest.mark.capability("reasoning")
def test_stream_thinking(case):
    """a streamed reply with thinking enabled is a well-formed event sequence"""
    request = body(case, STORY, max_tokens=2048, stream=True, thinking={"type": "enabled", "budget_tokens": 1024})
    check_stream(case, send(case, request), max_tokens=2048)


def test_stream_matches_message(case):
    """the reassembled stream equals the non-streamed message for a deterministic request"""
    request = body(case, STORY, max_tokens=128, temperature=0, top_k=1)
    first = send(case, request)
    check_reply(case, first, max_tokens=128)
    second = send(case, request)
    check_reply(case, second, max_tokens=128)
    if first.body.get("content") != second.body.get("content"):
        case.inconclusive("the target is not deterministic for a temperature-0 request, so the stream cannot be compared")
    streamed = send(case, {**request, "stream": True})
    check_stream(case, streamed, max_tokens=128)
    case.check(check_stream_matches_message, streamed, first)


def test_stream_error_before_stream(case):
    """a streamed request for an unknown model gets an HTTP error in the Anthropic shape, not a 200 stream"""
    exchange = send(case, body(case, stream=True, model="conformance-no-such-model"))
    case.check(check_error_before_stream, exchange)
    row = case.rule("errors", "model_not_found", default=None)
    if row and not exchange.is_sse:
        check_error(case, exchange, "model_not_found", row)
    elif not exchange.is_sse:
        case.check(check_error_status, exchange, 404)
