"""Every documented request parameter is accepted (and, where observable, honoured)."""

import pytest

from conformance.suites.anthropic_support import body, check_reply, send

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="parameters")

# parameter → extra request fields (each documented in CrossModel 003 §Request parameters)
PARAMETERS = {
    "temperature": {"temperature": 0.2},
    "top_p": {"top_p": 0.9},
    "top_k": {"top_k": 40},
    "stop_sequences": {"stop_sequences": ["\n\nHuman:"]},
    "metadata": {"metadata": {"user_id": "conformance-user-1"}},
    "thinking_enabled": {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048},
    "thinking_disabled": {"thinking": {"type": "disabled"}},
    "thinking_adaptive": {"thinking": {"type": "adaptive"}, "max_tokens": 2048},
    "stream_false": {"stream": False},
}


@pytest.mark.parametrize("parameter", sorted(PARAMETERS))
def test_parameter_accepted(case, parameter):
    """the documented parameter {parameter} is accepted and the reply is well-formed"""
    extra = dict(PARAMETERS[parameter])
    max_tokens = extra.pop("max_tokens", 64)
    check_reply(case, send(case, body(case, max_tokens=max_tokens, **extra)), max_tokens=max_tokens)
