"""Auth headers (x-api-key, Authorization: Bearer) and anthropic-version handling."""

import pytest

from conformance.checks.anthropic import check_anthropic_error_shape, check_auth_scheme_accepted, check_version_header_handling
from conformance.checks.errors import check_error_row
from conformance.suites.anthropic_support import body, check_reply, send

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="auth")

SCHEMES = ["x-api-key", "bearer"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_auth_scheme(case, scheme):
    """a valid key sent as {scheme} is accepted where the profile documents that scheme"""
    if scheme not in (case.rule("auth", default=["x-api-key"]) or []):
        case.skip(f"profile {case.profile.name} does not document {scheme} auth")
    case.require_auth()
    exchange = send(case, body(case), auth=scheme)
    case.require(case.check(check_auth_scheme_accepted, exchange, scheme))
    check_reply(case, exchange, max_tokens=64)


def test_auth_version_header_missing(case):
    """a request without anthropic-version is answered as the profile documents (required: 400; optional: a reply)"""
    expectation = case.rule("version_header", default="required")
    source = case.rule("version_header_source", default=case.profile.name)
    exchange = send(case, body(case), headers={"anthropic-version": None})
    case.check(check_version_header_handling, exchange, expectation, source)
    if exchange.status == 200:
        check_reply(case, exchange, max_tokens=64)
    elif expectation == "required" and exchange.status and exchange.status >= 400:
        case.check(check_anthropic_error_shape, exchange, case.schemas, case.strictness)
        row = case.rule("errors", "missing_version", default=None)
        if row:
            case.check(check_error_row, exchange, "missing_version", row, f"{case.profile.name}:errors.missing_version", "/error/type", None)
