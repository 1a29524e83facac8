"""Reasoning: every documented reasoning_effort value is accepted, and where the target returns
reasoning (reasoning_content, completion_tokens_details.reasoning_tokens) it has the documented shape."""

import pytest

from conformance.checks.openai_params import check_documented_value_accepted, check_reasoning_shape, check_stream_reasoning_shape
from conformance.suites.openai_support import HELLO, chat_body, check_reply, check_stream, send

pytestmark = [pytest.mark.conformance(protocol="openai", feature="reasoning"), pytest.mark.capability("reasoning")]

EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"]


@pytest.mark.parametrize("effort", EFFORTS)
def test_reasoning_effort_accepted(case, effort):
    """reasoning_effort {effort} is accepted"""
    documented = case.rule("params", "reasoning_effort", "values", default=None)
    if documented is None or effort not in documented:
        case.skip(f"profile {case.profile.name} does not document reasoning_effort {effort!r}")
    exchange = send(case, chat_body(case, HELLO, reasoning_effort=effort))
    case.require(case.check(check_documented_value_accepted, exchange, "reasoning_effort", effort))
    case.check(check_reasoning_shape, exchange)
    check_reply(case, exchange)


def test_reasoning_content_stream(case):
    """streamed reasoning deltas are strings, and the stream stays well-formed"""
    documented = case.rule("params", "reasoning_effort", "values", default=None) or []
    if "high" not in documented:
        case.skip(f"profile {case.profile.name} does not document reasoning_effort 'high'")
    exchange = send(case, chat_body(case, HELLO, reasoning_effort="high", stream=True))
    case.require(case.check(check_documented_value_accepted, exchange, "reasoning_effort", "high"))
    case.check(check_stream_reasoning_shape, exchange)
    check_stream(case, exchange)
