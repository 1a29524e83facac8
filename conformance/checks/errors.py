"""Checks of error responses: status, body shape and the profile's error table row."""

from __future__ import annotations

from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.checks.common import schema_violations
from conformance.findings import Severity, Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange


@check(cls="14", source="incompatibilities.md class 14; the profile's error table", title="the error has the documented HTTP status", hint="Map this error to the HTTP status the profile's error table documents.")
def check_error_status(exchange: Exchange, expected: int) -> Iterator[Violation]:
    if exchange.status != expected:
        yield Violation(f"status {exchange.status}, expected {expected}", f"/exchanges/{exchange.index}/response/status")


@check(cls="13", source="OpenAI OpenAPI 2.3.0 ErrorResponse; CrossModel 000 §Errors", title="the error body is {\"error\": {message, type, param, code}}", semantic="a documented error must be delivered where clients read it (exc.code, exc.type, error.message)", evidence="openai-python still raises the status's class, with code/type None (faults error_bare_string, error_unwrapped)",
       rules=[rule("code_type", "error.code is not a string or null", severity=Severity.ERROR, compatible=Severity.WARNING,
                   evidence="openai-python passes an integer code through as exc.code (APIError.__init__ constructs it leniently); both SDK replays tolerate it"),
              rule("not_object", "the error body is a JSON object")])
def check_error_shape(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness, schema: str = "openai/error") -> Iterator[Violation]:
    if exchange.status is not None and exchange.status < 400:
        return  # check_error_status reports a success status
    if not isinstance(exchange.body, dict):
        yield Violation(f"the error body is not a JSON object: {str(exchange.body)[:120]!r}", exchange.ptr(), rule="not_object")
        return
    code_pointer = exchange.ptr("/error/code")
    for violation in schema_violations(schemas, schema, strictness, exchange.body, exchange.ptr()):
        code = exchange.body.get("error", {}).get("code") if isinstance(exchange.body.get("error"), dict) else None
        if violation.pointer == code_pointer and isinstance(code, (int, float)) and not isinstance(code, bool):
            violation = violation._replace(rule="code_type")
        yield violation


@check(cls=None, source="the profile's error table", title="the error carries the documented type and code",
       rules=[
           rule("code", "the error carries the documented code"),
       ])
def check_error_row(exchange: Exchange, scenario: str, row: dict[str, Any], rule_id: str, type_path: str = "/error/type", code_path: str | None = "/error/code") -> Iterator[Violation]:
    if exchange.status is None or exchange.status < 400 or not isinstance(exchange.body, dict):
        return  # status and shape are judged by their own checks
    source = row.get("source", "")
    for field, path in (("type", type_path), ("code", code_path)):
        expected = row.get(field)
        if not expected or path is None:
            continue
        actual = _at(exchange.body, path)
        if actual != expected:
            yield Violation(f"{scenario}: error {field} is {actual!r}, the profile documents {expected!r} ({source})", exchange.ptr(path), cls=rule_id, rule="code" if field == "code" else None)


def _at(document: Any, path: str) -> Any:
    node = document
    for part in path.strip("/").split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


@check(
    cls="14",
    source="the profile's feature table (required features); DESIGN.md §What compatible means",
    title="a documented feature is not refused",
    semantic="the request asked for a feature the profile documents; a refusal means it was not delivered",
    rules=[
        rule("auth", "a valid, authenticated request is not refused with 401/403",
             semantic="the request carried the configured credentials; a 401/403 means nothing the request asked for was delivered"),
        rule("not_found", "a documented request is not answered 404",
             semantic="the endpoint and model are the configured ones; a 404 means the documented request was not served"),
    ],
)
def check_feature_refused(exchange: Exchange, reason: str, which: str | None = None) -> Iterator[Violation]:
    """Reports the refusal :func:`conformance.verdicts.classify_refusal` found (``which``: its rule)."""
    yield Violation(reason, f"/exchanges/{exchange.index}/response/status", rule=None if which == "documented" else which)
