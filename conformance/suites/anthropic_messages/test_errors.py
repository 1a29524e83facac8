"""Every error row of the profile that can be triggered from outside: status, Anthropic shape, type."""

import pytest

from conformance.suites.anthropic_support import body, check_error, messages_path, send, version_headers

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="errors")

# How each scenario is provoked. Rows that cannot be provoked from outside (402, 429, 500, 502,
# 503) are listed in specs/coverage/crossmodel-anthropic.toml with the reason.
SCENARIOS = [
    "invalid_json",
    "invalid_messages",
    "missing_max_tokens",
    "system_role",
    "missing_api_key",
    "invalid_api_key",
    "model_not_found",
]
INVALID_KEY = "sk-ant-conformance-invalid-key-000000000000"


def provoke(case, scenario):
    request = body(case)
    if scenario == "invalid_json":
        return case.request("POST", messages_path(case), content=b'{"model": "x", "messages": [', headers=version_headers(case))
    if scenario == "invalid_messages":
        return send(case, {**request, "messages": []})
    if scenario == "missing_max_tokens":
        return send(case, {k: v for k, v in request.items() if k != "max_tokens"})
    if scenario == "system_role":
        messages = [{"role": "system", "content": "You are a terse assistant."}] + request["messages"]
        return send(case, {**request, "messages": messages})
    if scenario == "missing_api_key":
        return send(case, request, auth=None)
    if scenario == "invalid_api_key":
        return send(case, request, api_key=INVALID_KEY)
    if scenario == "model_not_found":
        return send(case, {**request, "model": "conformance-no-such-model"})
    raise AssertionError(f"no way to provoke {scenario}")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_error_row(case, scenario):
    """{scenario} is answered with the documented status and error type, in the Anthropic shape"""
    row = case.rule("errors", scenario)
    if not row:
        case.skip(f"profile {case.profile.name} documents no error row for {scenario}")
    if scenario in ("missing_api_key", "invalid_api_key"):
        case.require_auth()
    check_error(case, provoke(case, scenario), scenario, row)
