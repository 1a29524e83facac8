"""Function tools: tool_use replies, tool_choice modes and the full round trip."""

import pytest

from conformance.checks.anthropic import check_anthropic_tool_choice, check_anthropic_tool_use_input, tool_uses
from conformance.suites.anthropic_support import TIME_TOOL, WEATHER_TOOL, body, check_reply, send

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="tools")

TOOLS = [WEATHER_TOOL, TIME_TOOL]
SCHEMAS = {t["name"]: t["input_schema"] for t in TOOLS}
ASK = "What is the weather in Paris? Use the get_weather tool."
NEUTRAL = "Reply with exactly: no tool needed"

# tool_choice → (prompt, whether the exchange proves the choice was honoured)
CHOICES = {
    "auto": ({"type": "auto"}, ASK),
    "any": ({"type": "any"}, NEUTRAL),
    "tool": ({"type": "tool", "name": "get_time"}, ASK),
    "none": ({"type": "none"}, ASK),
}


@pytest.mark.capability("tools")
def test_tool_use_reply(case):
    """a reply that calls a tool holds a tool_use block with an input object and says stop_reason: tool_use"""
    exchange = send(case, body(case, ASK, tools=TOOLS))
    message = check_reply(case, exchange)
    case.check(check_anthropic_tool_use_input, message, exchange.ptr(), SCHEMAS)
    if not tool_uses(message):
        case.inconclusive("the model answered without calling the tool")


@pytest.mark.capability("tools")
@pytest.mark.parametrize("mode", sorted(CHOICES))
def test_tool_choice(case, mode):
    """tool_choice {mode} is honoured"""
    choice, prompt = CHOICES[mode]
    exchange = send(case, body(case, prompt, tools=TOOLS, tool_choice=choice))
    message = check_reply(case, exchange)
    case.check(check_anthropic_tool_use_input, message, exchange.ptr(), SCHEMAS)
    case.check(check_anthropic_tool_choice, message, exchange.ptr(), choice, list(SCHEMAS))
    if mode == "auto" and not tool_uses(message):
        case.inconclusive("with tool_choice auto the model chose not to call the tool")


@pytest.mark.capability("tools")
def test_tool_round_trip(case):
    """the full tool round trip: tool_use, then tool_result, then a final text reply"""
    first = send(case, body(case, ASK, tools=TOOLS, tool_choice={"type": "tool", "name": "get_weather"}))
    message = check_reply(case, first)
    calls = tool_uses(message)
    if not calls:
        case.inconclusive("the model did not call the forced tool")
    if case.truncated(first):
        case.inconclusive(f"cut by the token limit ({case.truncated(first)}): the tool call is incomplete, so no round trip")
    messages = [
        {"role": "user", "content": ASK},
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c.get("id"), "content": "{\"temp_c\": 21, \"sky\": \"clear\"}"} for c in calls]},
    ]
    second = send(case, body(case, tools=TOOLS, messages=messages))
    final = check_reply(case, second)
    if tool_uses(final):
        case.inconclusive("the model called a tool again instead of answering")
