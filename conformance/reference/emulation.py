"""Vendor emulation of the reference server, read from the emulated profile (never its name).

What a profile can make the OpenAI endpoint do, beyond the upstream protocol:
- extension request parameters (``params.<name>.extension = true``): type and value checks;
- routing (``routing``): ``model: auto`` picks a candidate, honouring ``free_models_only`` and
  ``no_reasoning``, and the reply says which model served it;
- extension response fields (``extensions.<name>``): each field's ``example`` is written at its
  ``location``; strings may name ``{model}``, ``{requested_model}``, ``{requested_provider}``,
  ``{provider}`` and ``{underlying_model}``;
- error codes for rows that document none (``emulation.undocumented_error_code``).

Named faults implemented here (declared in ``faults_openai.py``): ``extension_field_wrong_type``,
``routing_metadata_missing``, ``default_model_other``, ``param_bounds_clamped``,
``x_api_key_refused``, ``model_ids_off_format``, ``routing_requested_model_wrong``, ``routing_used_model_auto``,
``routing_model_disagrees``, ``routing_no_provider``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from conformance.reference.context import RequestContext

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def auth_schemes(ctx: RequestContext) -> list[str]:
    schemes = list(ctx.emulated("auth", default=["bearer"]) or ["bearer"])
    if ctx.fault("x_api_key_refused"):
        schemes = [s for s in schemes if s != "x-api-key"]
    return schemes


def listed_models(ctx: RequestContext, ids: list[str]) -> list[str]:
    """The ids GET /models lists (a fault adds one outside the documented id format)."""
    if ctx.fault("model_ids_off_format"):
        return [*ids, "Vendor Prefixed/Model Name"]
    return ids


def undocumented_error_code(ctx: RequestContext, scenario: str) -> str | None:
    """error.code for a row without a documented code: the scenario's name, or null."""
    return None if ctx.emulated("emulation", "undocumented_error_code", default="scenario") == "null" else scenario


def prepare(ctx: RequestContext, body: dict[str, Any], model: str) -> str:
    """Check the profile's extension parameters, apply routing; return the model that serves the request."""
    from conformance.reference.context import ApiError

    state = {"requested_model": model, "model_omitted": "model" not in body}
    for name, rule in (ctx.emulated("params", default={}) or {}).items():
        if isinstance(rule, dict) and rule.get("extension") and name in body:
            _check_extension_param(name, rule, body[name], ApiError, ctx)
    if ctx.fault("param_bounds_clamped"):
        for name, rule in (ctx.emulated("params", default={}) or {}).items():
            value = body.get(name)
            if isinstance(rule, dict) and rule.get("check_bounds") and isinstance(value, (int, float)) and not isinstance(value, bool):
                body[name] = min(max(value, rule.get("min", value)), rule.get("max", value))
    routing = ctx.emulated("routing", default=None)
    used = model
    provider = model.split("/", 1)[0] if "/" in model else None
    state["requested_provider"] = provider
    if routing and model == routing.get("auto_model"):
        candidates = [c for c in routing.get("candidates", [])
                      if not (body.get("free_models_only") is True and not c.get("free"))
                      and not (body.get("no_reasoning") is True and c.get("reasoning"))]
        if not candidates:
            raise ApiError("model_not_found", "No model matches the routing constraints (free_models_only, no_reasoning).", "model")
        used, provider = candidates[0]["id"], candidates[0]["provider"]
    if provider is None:
        for candidate in (routing or {}).get("candidates", []):
            if candidate.get("id") == used:
                provider = candidate.get("provider")
    state.update(model=used, provider=provider or "reference", underlying_model=used.split("/", 1)[-1])
    ctx.emulation_state = state  # type: ignore[attr-defined]
    return used


def _check_extension_param(name: str, rule: dict[str, Any], value: Any, ApiError: type, ctx: RequestContext) -> None:
    kind = rule.get("type")
    types = {"boolean": (bool,), "string": (str,), "object": (dict,), "array": (list,), "integer": (int,), "number": (int, float)}
    if kind in types and (not isinstance(value, types[kind]) or (kind in ("integer", "number") and isinstance(value, bool))):
        raise ApiError("unsupported_parameter", f"'{name}' must be of type {kind}.", name)
    allowed = rule.get("values")
    if allowed is None:
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        ident = item.get("id") if isinstance(item, dict) else item
        if ident not in allowed:
            raise ApiError("unsupported_parameter", f"'{name}' value {ident!r} is not one of {', '.join(map(str, allowed))}.", name)


def decorate(ctx: RequestContext, completion: dict[str, Any]) -> dict[str, Any]:
    """Add the profile's extension fields to a non-streamed reply."""
    state = getattr(ctx, "emulation_state", None) or {}
    values = {
        "model": state.get("model", completion.get("model")),
        "requested_model": state.get("requested_model", completion.get("model")),
        "requested_provider": state.get("requested_provider"),
        "provider": state.get("provider", "reference"),
        "underlying_model": state.get("underlying_model", completion.get("model")),
    }
    routing = ctx.emulated("routing", default=None)
    metadata_path = routing.get("metadata_path") if routing else None
    for name, ext in (ctx.emulated("extensions", default={}) or {}).items():
        if not isinstance(ext, dict) or "example" not in ext:
            continue
        if ctx.fault("routing_metadata_missing") and ext.get("location") == metadata_path:
            continue
        value = _fill(copy.deepcopy(ext["example"]), values)
        if ctx.fault("extension_field_wrong_type") and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        _put(completion, ext["location"], value)
    metadata = completion.get("metadata") if metadata_path == "/metadata" and isinstance(completion.get("metadata"), dict) else None
    if metadata is not None and routing and state.get("requested_model") == routing.get("auto_model"):
        if ctx.fault("routing_requested_model_wrong"):
            metadata[routing.get("requested_field", "requested_model")] = values["model"]
        if ctx.fault("routing_used_model_auto"):
            metadata[routing.get("used_field", "used_model")] = routing.get("auto_model")
        if ctx.fault("routing_model_disagrees"):
            completion["model"] = "another-provider/another-model"
        if ctx.fault("routing_no_provider"):
            metadata.pop(routing.get("provider_field", "used_provider"), None)
    if ctx.fault("default_model_other") and state.get("model_omitted"):
        completion["model"] = "conformance-other-model"
    return completion


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _put(document: Any, location: str, value: Any) -> None:
    """Set ``value`` at a JSON pointer whose ``*`` parts mean every array item (parents must exist)."""
    parts = location.strip("/").split("/")
    nodes = [document]
    for part in parts[:-1]:
        following = []
        for node in nodes:
            if part == "*" and isinstance(node, list):
                following += node
            elif isinstance(node, dict) and isinstance(node.get(part), (dict, list)):
                following.append(node[part])
        nodes = following
    for node in nodes:
        if isinstance(node, dict):
            node[parts[-1]] = copy.deepcopy(value)
