"""Checks of rules a vendor profile adds to the upstream protocol: extension fields with their
declared schemas, the default model, and routing metadata (``specs/profiles/*.toml``)."""

from __future__ import annotations

import re
from typing import Any, Iterator

from jsonschema import Draft202012Validator

from conformance.checks import Violation, check, rule
from conformance.findings import Severity
from conformance.exchange import Exchange


def resolve(document: Any, location: str) -> list[tuple[str, Any]]:
    """(pointer, value) for every match of a JSON pointer whose ``*`` parts mean every array item."""
    found: list[tuple[str, Any]] = [("", document)]
    for part in location.strip("/").split("/"):
        following = []
        for pointer, node in found:
            if part == "*" and isinstance(node, list):
                following += [(f"{pointer}/{i}", item) for i, item in enumerate(node)]
            elif isinstance(node, dict) and part in node:
                following.append((f"{pointer}/{part}", node[part]))
        found = following
    return found


def _parents(document: Any, location: str) -> list[str]:
    """Pointers of the objects that would hold the field (for 'required' extension fields)."""
    parent = location.rsplit("/", 1)[0]
    return [p for p, node in resolve(document, parent or "/")] if parent else [""]


@check(cls=None, source="the profile's extensions (vendor document §Response)", title="vendor extension fields match their documented schemas",
       rules=[
           rule("missing", "an extension field the profile documents as always present is present"),
       ])
def check_extension_fields(exchange: Exchange, extensions: dict[str, dict[str, Any]], rule_prefix: str) -> Iterator[Violation]:
    body = exchange.body
    if not isinstance(body, dict):
        return
    for name, ext in sorted(extensions.items()):
        if not isinstance(ext, dict):
            continue
        location, source = ext["location"], ext.get("source", "")
        matches = resolve(body, location)
        if not matches and ext.get("required"):
            for parent in _parents(body, location) or [""]:
                yield Violation(f"{location} is missing; the profile documents it as always present ({source})", exchange.ptr(parent), cls=f"{rule_prefix}.{name}", rule="missing")
        validator = Draft202012Validator(ext["schema"])
        for pointer, value in matches:
            for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
                inner = "".join(f"/{p}" for p in error.absolute_path)
                yield Violation(f"{pointer}{inner}: {error.message} ({source})", exchange.ptr(pointer + inner), cls=f"{rule_prefix}.{name}")


@check(cls=None, source="the profile's default_model (e.g. CryptGPT 004 §Request Body: model defaults to gemma-4-26b)", title="a request without model is served by the documented default model")
def check_default_model(exchange: Exchange, default_model: str) -> Iterator[Violation]:
    body = exchange.body
    if not isinstance(body, dict) or exchange.status != 200:
        return
    model = body.get("model")
    if not isinstance(model, str) or not (model == default_model or model.startswith(default_model + "-") or model.endswith("/" + default_model)):
        yield Violation(f"the request named no model; the reply says model {model!r}, the documented default is {default_model!r}", exchange.ptr("/model"))


@check(cls=None, source="the profile's routing (e.g. LLM Gateway 002: model auto; routing and provider information)", title="an auto-routed reply says which model and provider served it",
       rules=[
           rule("requested", "the routing metadata names the requested model"),
           rule("used", "the routing metadata names the concrete model that served the request"),
           rule("model_disagrees", "the reply's model agrees with the routing metadata"),
           rule("provider", "the routing metadata names the provider"),
       ])
def check_routing_metadata(exchange: Exchange, routing: dict[str, Any]) -> Iterator[Violation]:
    body = exchange.body
    if not isinstance(body, dict) or exchange.status != 200:
        return
    auto = routing["auto_model"]
    path = routing["metadata_path"]
    found = resolve(body, path)
    if not found or not isinstance(found[0][1], dict):
        yield Violation(f"model {auto!r} was routed, but the reply has no routing metadata object at {path}", exchange.ptr(path))
        return
    metadata = found[0][1]
    requested, used = routing.get("requested_field"), routing.get("used_field")
    if requested and metadata.get(requested) != auto:
        yield Violation(f"{path}/{requested} is {metadata.get(requested)!r}, expected the requested model {auto!r}", exchange.ptr(f"{path}/{requested}"), rule="requested")
    if used:
        value = metadata.get(used)
        if not isinstance(value, str) or not value or value == auto:
            yield Violation(f"{path}/{used} is {value!r}: it must name the concrete model that served the request", exchange.ptr(f"{path}/{used}"), rule="used")
        elif body.get("model") not in (value, auto) and not str(body.get("model", "")).endswith(value.split("/")[-1]):
            yield Violation(f"the reply's model {body.get('model')!r} disagrees with {path}/{used} {value!r}", exchange.ptr("/model"), rule="model_disagrees")
    provider = routing.get("provider_field")
    if provider and not isinstance(metadata.get(provider), str):
        yield Violation(f"{path}/{provider} is {metadata.get(provider)!r}: it must name the provider that served the request", exchange.ptr(f"{path}/{provider}"), rule="provider")


@check(cls=None, source="the profile's model_id_format (e.g. CryptGPT 004 §Example; LLM Gateway 002 §Request Body model)",
       title="listed model ids follow the documented id format", severity=Severity.WARNING)
def check_model_id_format(exchange: Exchange, pattern: str, source: str) -> Iterator[Violation]:
    body = exchange.body
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return  # the list's shape is judged by check_models_list_schema
    regex = re.compile(pattern)
    for i, model in enumerate(data):
        model_id = model.get("id") if isinstance(model, dict) else None
        if isinstance(model_id, str) and not regex.search(model_id):
            yield Violation(f"model id {model_id!r} does not follow the documented format {pattern} ({source})", exchange.ptr(f"/data/{i}/id"))
