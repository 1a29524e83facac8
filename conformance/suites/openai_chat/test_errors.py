"""Every error row of the profile that can be triggered from outside: status, shape, type, code."""

import pytest

from conformance.checks.common import check_json_content_type
from conformance.checks.errors import check_error_row, check_error_shape, check_error_status
from conformance.suites.openai_support import chat_body, chat_path

pytestmark = pytest.mark.conformance(protocol="openai", feature="errors")

# How each scenario is provoked. Rows that cannot be provoked from outside (402 balance, 429,
# 5xx) are listed in the profile's coverage table with the reason.
SCENARIOS = [
    "invalid_json",
    "invalid_messages",
    "unsupported_message_role",
    "unsupported_parameter",
    "tool_call_id_mismatch",
    "missing_api_key",
    "invalid_api_key",
    "model_not_found",
]
INVALID_KEY = "sk-conformance-invalid-key-000000000000"


def provoke(case, scenario):
    path = chat_path(case)
    body = chat_body(case)
    if scenario == "invalid_json":
        return case.request("POST", path, content=b'{"model": "x", "messages": [')
    if scenario == "invalid_messages":
        return case.post(path, {**body, "messages": []})
    if scenario == "unsupported_message_role":
        return case.post(path, {**body, "messages": [{"role": "narrator", "content": "Once upon a time."}]})
    if scenario == "unsupported_parameter":
        invalid = case.rule("params", "reasoning_effort", "invalid_example", default="extreme")
        return case.post(path, {**body, "reasoning_effort": invalid})
    if scenario == "tool_call_id_mismatch":
        messages = [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_conformance_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_conformance_does_not_exist", "content": "{\"temp_c\": 21}"},
        ]
        return case.post(path, {**body, "messages": messages})
    if scenario == "missing_api_key":
        return case.post(path, body, auth=None)
    if scenario == "invalid_api_key":
        return case.post(path, body, api_key=INVALID_KEY)
    if scenario == "model_not_found":
        return case.post(path, {**body, "model": "conformance-no-such-model"})
    raise AssertionError(f"no way to provoke {scenario}")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_error_row(case, scenario):
    """{scenario} is answered with the documented status, type and code"""
    row = case.rule("errors", scenario)
    if not row:
        case.skip(f"profile {case.profile.name} documents no error row for {scenario}")
    if scenario in ("missing_api_key", "invalid_api_key"):
        case.require_auth()
    exchange = provoke(case, scenario)
    case.check(check_error_status, exchange, int(row["status"]))
    case.check(check_error_shape, exchange, case.schemas, case.strictness)
    if exchange.status and exchange.status >= 400:
        case.check(check_json_content_type, exchange)
    case.check(check_error_row, exchange, scenario, row, f"{case.profile.name}:errors.{scenario}")
