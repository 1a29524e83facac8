"""Checks of ``GET /models`` and ``GET /models/{id}``."""

from __future__ import annotations

from typing import Iterator

from conformance.findings import Severity
from conformance.checks import Violation, check, rule
from conformance.checks.common import schema_violations
from conformance.findings import Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange


@check(cls="21", source="OpenAI OpenAPI 2.3.0 ListModelsResponse; incompatibilities.md class 21", title="the models list is {object: list, data: [model]}", compatible=Severity.WARNING, evidence="the SDKs construct their models without validating (replayed faults: both tolerate it); what breaks a client is reported by the SDK checks",
       rules=[
           rule("status", "GET /models succeeds", compatible=Severity.ERROR,
                semantic="the documented model list was asked for and not served (client.models.list() raises on a non-2xx answer)"),
       ])
def check_models_list_schema(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    if exchange.status != 200:
        yield Violation(f"GET /models answered {exchange.status}", f"/exchanges/{exchange.index}/response/status", rule="status")
        return
    yield from schema_violations(schemas, "openai/models_list", strictness, exchange.body, exchange.ptr())


@check(cls="21", source="OpenAI OpenAPI 2.3.0 Model", title="a model object has id, object: model, created and owned_by", compatible=Severity.WARNING, evidence="the SDKs construct their models without validating (replayed faults: both tolerate it); what breaks a client is reported by the SDK checks")
def check_model_schema(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    if exchange.status == 200:
        yield from schema_violations(schemas, "openai/model", strictness, exchange.body, exchange.ptr())


@check(cls=None, source="CrossModel compatibility page (/v1/models lists models and looks one up); OpenAI OpenAPI /models/{model}", title="a listed model can be looked up by id",
       rules=[
           rule("wrong_id", "looking a model up returns that model"),
       ])
def check_model_lookup(exchange: Exchange, model_id: str) -> Iterator[Violation]:
    if exchange.status != 200:
        yield Violation(f"GET /models/{model_id} answered {exchange.status} for a model the list contains", f"/exchanges/{exchange.index}/response/status")
    elif not isinstance(exchange.body, dict) or exchange.body.get("id") != model_id:
        got = exchange.body.get("id") if isinstance(exchange.body, dict) else exchange.body
        yield Violation(f"GET /models/{model_id} returned id {got!r}", exchange.ptr("/id"), rule="wrong_id")
