"""Rules a vendor profile adds to the upstream protocol, read from the profile (never its name):
auth schemes, the default model, documented limits, extension parameters, extension response
fields and routing. Each case skips when the selected profile does not declare its rule.

Parametrization is the union over every profile in ``specs/profiles``, so case ids are stable
whichever profile is selected (the coverage tables name them).
"""

from __future__ import annotations

import pytest

from conformance import profiles
from conformance.checks.errors import check_error_row, check_error_shape, check_error_status
from conformance.checks.openai_params import check_out_of_range_rejected
from conformance.checks.profile_rules import check_default_model, check_extension_fields, check_model_id_format, check_routing_metadata
from conformance.suites.openai_support import chat_body, check_reply, check_reply_or_unsupported, send

pytestmark = pytest.mark.conformance(protocol="openai", feature="profile")

try:  # bounds the generic parameter suite already checks
    from conformance.suites.openai_chat.test_parameters import BOUNDED as GENERIC_BOUNDED
except ImportError:  # pragma: no cover
    GENERIC_BOUNDED = []


def _union(*keys: str, where=lambda rule: True) -> list[str]:
    names: list[str] = []
    for profile in profiles.load_all():
        table = profile.get("openai", *keys, default={}) or {}
        for name, rule in table.items():
            if isinstance(rule, dict) and where(rule) and name not in names:
                names.append(name)
    return sorted(names)


AUTH_SCHEMES = ["bearer", "x-api-key"]
BOUNDED = [n for n in _union("params", where=lambda r: r.get("check_bounds") and r.get("type") == "integer") if n not in GENERIC_BOUNDED]
EXTENSION_PARAMS = _union("params", where=lambda r: r.get("extension"))


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
def test_auth_scheme_accepted(case, scheme):
    """a request authenticated with {scheme} gets a reply"""
    if scheme not in (case.rule("auth", default=["bearer"]) or []):
        case.skip(f"profile {case.profile.name} does not document {scheme} authentication")
    case.require_auth()
    check_reply(case, send_with(case, chat_body(case), auth=scheme))


def send_with(case, body, **kwargs):
    return case.post(case.rule("chat_path", default="/chat/completions"), body, **kwargs)


def test_default_model_when_omitted(case):
    """a request without model is served by the documented default model"""
    if case.rule("model_required", default=True):
        case.skip(f"profile {case.profile.name} requires model")
    default = case.rule("default_model")
    body = chat_body(case)
    del body["model"]
    exchange = send(case, body)
    check_reply(case, exchange)
    case.check(check_default_model, exchange, default)


@pytest.mark.parametrize("which", ["min", "max", "below", "above"])
@pytest.mark.parametrize("name", BOUNDED)
def test_documented_integer_bound(case, name, which):
    """{name} at its documented bound is accepted, one step beyond it is rejected ({which})"""
    rule = case.rule("params", name, default={}) or {}
    if not rule.get("check_bounds"):
        case.skip(f"profile {case.profile.name} documents no range for {name}")
    bound = rule.get("min" if which in ("min", "below") else "max")
    if bound is None:
        case.skip(f"profile {case.profile.name} documents no {'min' if which in ('min', 'below') else 'max'} for {name}")
    value = int(bound) + {"below": -1, "above": 1}.get(which, 0)
    body = chat_body(case)
    body.pop("max_completion_tokens", None)  # the bound under test must be the only token cap
    if name not in ("max_tokens", "max_completion_tokens"):
        body["max_tokens"] = 16
    body[name] = value
    exchange = send(case, body)
    if which in ("min", "max"):
        check_reply_or_unsupported(case, exchange, f"{name}={value}", value if name == "n" else None)
        return
    case.check(check_out_of_range_rejected, exchange, name, value)
    if exchange.status is not None and exchange.status >= 400:
        row = case.rule("errors", "invalid_parameter") or case.rule("errors", "unsupported_parameter") or {"status": 400, "type": "invalid_request_error"}
        case.check(check_error_status, exchange, int(row["status"]))
        case.check(check_error_shape, exchange, case.schemas, case.strictness)
        case.check(check_error_row, exchange, f"{name}={value}", row, f"{case.profile.name}:params.{name}")


@pytest.mark.parametrize("name", EXTENSION_PARAMS)
def test_extension_param_accepted(case, name):
    """the vendor parameter {name} with a documented value gets a well-formed reply"""
    rule = case.rule("params", name, default={}) or {}
    if not rule.get("extension"):
        case.skip(f"profile {case.profile.name} does not document {name}")
    value = rule["example"] if "example" in rule else (rule.get("values") or [False])[0]
    exchange = send(case, chat_body(case, **{name: value}))
    check_reply_or_unsupported(case, exchange, f"{name}={value!r}")
    check_extensions(case, exchange)


def check_extensions(case, exchange):
    extensions = case.rule("extensions", default={}) or {}
    if extensions:
        case.check(check_extension_fields, exchange, extensions, f"{case.profile.name}:extensions")


def test_extension_fields(case):
    """the vendor's extension fields in a reply match their documented schemas"""
    if not case.rule("extensions"):
        case.skip(f"profile {case.profile.name} documents no extension fields")
    exchange = send(case, chat_body(case))
    check_reply(case, exchange)
    check_extensions(case, exchange)


@pytest.mark.parametrize("constraint", ["none", "free_models_only", "no_reasoning"])
def test_auto_routing(case, constraint):
    """model auto is routed to a concrete model, and the reply says which ({constraint})"""
    routing = case.rule("routing")
    if not routing:
        case.skip(f"profile {case.profile.name} documents no automatic routing")
    extra = {} if constraint == "none" else {constraint: True}
    if constraint != "none" and not case.rule("params", constraint, "extension"):
        case.skip(f"profile {case.profile.name} does not document {constraint}")
    exchange = send(case, chat_body(case, model=routing["auto_model"], **extra))
    check_reply(case, exchange)
    case.check(check_routing_metadata, exchange, routing)
    check_extensions(case, exchange)


def test_model_ids_follow_the_documented_format(case):
    """the models GET /models lists follow the documented model id format"""
    pattern = case.rule("model_id_format")
    if not pattern:
        case.skip(f"profile {case.profile.name} documents no model id format")
    exchange = case.get(case.rule("models_path", default="/models"))
    case.check(check_model_id_format, exchange, pattern, case.source("model_id_format"))
