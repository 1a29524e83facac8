"""GET /models and GET /models/{id}."""

import pytest

from conformance.checks.models import check_model_lookup, check_model_schema, check_models_list_schema

pytestmark = pytest.mark.conformance(protocol="openai", feature="models")


def models_path(case):
    return case.rule("models_path", default="/models")


def test_models_list(case):
    """GET /models answers {object: list, data: [model objects]}"""
    exchange = case.get(models_path(case))
    case.check(check_models_list_schema, exchange, case.schemas, case.strictness)


def test_model_lookup(case):
    """a model from the list can be looked up with GET /models/{id}"""
    listing = case.get(models_path(case))
    data = listing.body.get("data") if isinstance(listing.body, dict) else listing.body
    ids = [m.get("id") for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)] if isinstance(data, list) else []
    if not ids:
        case.inconclusive("GET /models listed no model ids to look up")
    model_id = case.model if case.model in ids else ids[0]
    exchange = case.get(f"{models_path(case)}/{model_id}")
    case.check(check_model_lookup, exchange, model_id)
    case.check(check_model_schema, exchange, case.schemas, case.strictness)
