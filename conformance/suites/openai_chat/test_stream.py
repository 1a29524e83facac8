"""Streamed chat completions: chunk sequence, framing, terminator and usage."""

import pytest

from conformance.checks.errors import check_error_shape
from conformance.checks.openai_stream import check_error_before_stream, check_stream_matches_nonstream, check_stream_options_accepted
from conformance.suites.openai_support import chat_body, check_reply, check_stream, send

pytestmark = pytest.mark.conformance(protocol="openai", feature="streaming")

STORY = "Tell me a short story about a river."


def test_stream_chunk_sequence(case):
    """a streamed reply is a well-formed chunk sequence ending in [DONE]"""
    check_stream(case, send(case, chat_body(case, stream=True)))


def test_stream_free_text_chunk_sequence(case):
    """a streamed free-text reply is a well-formed chunk sequence"""
    check_stream(case, send(case, chat_body(case, STORY, stream=True)))


def test_stream_include_usage(case):
    """include_usage adds exactly one final usage chunk with choices: []"""
    exchange = send(case, chat_body(case, stream=True, stream_options={"include_usage": True}))
    case.require(case.check(check_stream_options_accepted, exchange))
    check_stream(case, exchange, include_usage=True)


def test_stream_matches_nonstream(case):
    """the streamed reply equals the non-streamed reply for a seeded deterministic request"""
    body = chat_body(case, STORY, seed=1234, temperature=0)
    first = send(case, body)
    check_reply(case, first)
    second = send(case, body)
    check_reply(case, second)
    contents = [[(c.get("message") or {}).get("content") for c in e.body["choices"]] for e in (first, second)]
    if contents[0] != contents[1]:
        case.inconclusive("the target is not deterministic for a seeded temperature-0 request, so the stream cannot be compared")
    streamed = send(case, {**body, "stream": True})
    check_stream(case, streamed)
    case.check(check_stream_matches_nonstream, streamed, first)


def test_stream_error_before_stream(case):
    """a streamed request for an unknown model gets an HTTP error, not a 200 stream"""
    exchange = send(case, chat_body(case, stream=True, model="conformance-no-such-model"))
    case.check(check_error_before_stream, exchange)
    if not exchange.is_sse:
        case.check(check_error_shape, exchange, case.schemas, case.strictness)
