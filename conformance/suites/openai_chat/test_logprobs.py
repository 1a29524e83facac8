"""Token logprobs (class 17): the chat shape, logprob <= 0, bytes, top_logprobs length and order,
tokens that join to the content; streamed and not; logprobs without top_logprobs."""

import pytest

from conformance.checks.openai_logprobs import (
    check_logprob_entries,
    check_logprobs_accepted,
    check_logprobs_join_content,
    check_logprobs_present,
    check_top_logprobs,
)
from conformance.suites.openai_support import chat_body, check_reply, check_stream, refused_cleanly, send

pytestmark = [pytest.mark.conformance(protocol="openai", feature="logprobs"), pytest.mark.capability("logprobs")]

PROBE = "Reply with exactly: Hello there, conformance suite"
VARIANTS = {"top_logprobs_2": 2, "top_logprobs_5": 5, "without_top_logprobs": None}


def _body(case, top, stream=False):
    extra = {"logprobs": True}
    if top is not None:
        extra["top_logprobs"] = top
    if stream:
        extra["stream"] = True
    return chat_body(case, PROBE, **extra)


def _judge(case, exchange, top):
    case.check(check_logprobs_present, exchange)
    case.check(check_logprob_entries, exchange)
    case.check(check_top_logprobs, exchange, top or 0)
    case.check(check_logprobs_join_content, exchange)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_logprobs(case, variant):
    """logprobs with {variant} come back in the chat shape, sorted and of the requested length"""
    top = VARIANTS[variant]
    exchange = send(case, _body(case, top))
    if top is None:
        case.require(case.check(check_logprobs_accepted, exchange))
    else:
        refused_cleanly(case, exchange, "logprobs")
    _judge(case, exchange, top)
    check_reply(case, exchange)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_logprobs_stream(case, variant):
    """streamed logprobs with {variant} come back per chunk in the chat shape"""
    top = VARIANTS[variant]
    exchange = send(case, _body(case, top, stream=True))
    if top is None:
        case.require(case.check(check_logprobs_accepted, exchange))
    else:
        refused_cleanly(case, exchange, "logprobs (stream)")
    _judge(case, exchange, top)
    check_stream(case, exchange)
