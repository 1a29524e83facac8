"""What a run spends and what a request may cost: tokens actually used (from each answer's
``usage``), requests sent (retries included), the output cap a request asks for, a tokenizer-free
estimate of its input tokens, and the cost when prices are configured.

Pure functions over request bodies and recorded exchanges (the dict form of results.json), so the
plugin, ``conformance plan`` and the report layer share them; nothing here sends anything.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

# A request that names no output cap (only error cases do: invalid JSON, a missing max_tokens) is
# counted as this many output tokens against --max-output-tokens until its usage is known.
UNCAPPED_OUTPUT_TOKENS = 1024
CHARS_PER_TOKEN = 4  # the tokenizer-free estimate: about 4 characters of English text per token
MEDIA_TOKENS = 85  # an image or audio part, counted like a low-detail image
ESTIMATE_NOTE = (
    f"input tokens estimated without a tokenizer: 1 token per {CHARS_PER_TOKEN} characters of the "
    f"request's text (messages, system prompt, tool definitions), {MEDIA_TOKENS} per image or audio part"
)
CAP_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


# -- what a request asks for -------------------------------------------------------------------
def output_cap(body: Any) -> int:
    """The most output tokens a request can cost: its cap (× n choices); 0 for a request that
    generates nothing (no JSON object, no messages); UNCAPPED_OUTPUT_TOKENS when it names no cap."""
    if not isinstance(body, dict) or "messages" not in body:
        return 0
    cap = next((body[k] for k in CAP_KEYS if isinstance(body.get(k), int) and not isinstance(body.get(k), bool)), None)
    if cap is None or cap < 0:
        cap = UNCAPPED_OUTPUT_TOKENS
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 128 else 1
    return cap * choices


def estimate_input_tokens(body: Any) -> int:
    """A tokenizer-free estimate of a request's input tokens (see ESTIMATE_NOTE)."""
    if not isinstance(body, dict):
        return 0
    chars = 0
    media = 0

    def walk(value: Any) -> None:
        nonlocal chars, media
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            kind = value.get("type")
            if kind in ("image_url", "image", "input_audio", "audio", "document"):
                media += 1
                return
            for key, item in value.items():
                if key in ("arguments", "input") and not isinstance(item, str):
                    chars += len(json.dumps(item, ensure_ascii=False))  # a tool call's input object, as sent
                elif key in ("text", "content", "arguments", "input", "thinking", "tool_calls", "function"):
                    walk(item)

    walk(body.get("messages"))
    walk(body.get("system"))
    if body.get("tools"):
        chars += len(json.dumps(body["tools"], ensure_ascii=False))
    return math.ceil(chars / CHARS_PER_TOKEN) + media * MEDIA_TOKENS


# -- what an answer used --------------------------------------------------------------------------
def usage_from(body: Any, events: Iterable[Any] = ()) -> tuple[int, int] | None:
    """(input tokens, output tokens) an answer reports in its ``usage`` (a JSON body, or a stream's
    events: OpenAI's include_usage chunk, Anthropic's message_start and message_delta); None when it
    reports none. Anthropic's cache reads and writes count as input."""
    found: list[Mapping[str, Any]] = []
    if isinstance(body, dict) and isinstance(body.get("usage"), dict):
        found.append(body["usage"])
    for event in events:
        if not isinstance(event, dict):
            continue
        if isinstance(event.get("usage"), dict):
            found.append(event["usage"])
        message = event.get("message")
        if isinstance(message, dict) and isinstance(message.get("usage"), dict):
            found.append(message["usage"])
    if not found:
        return None
    tokens_in = tokens_out = 0
    for usage in found:  # the largest figure of each kind (a stream repeats or completes them)
        tokens_in = max(tokens_in, _int(usage.get("prompt_tokens")) + _int(usage.get("input_tokens"))
                        + _int(usage.get("cache_creation_input_tokens")) + _int(usage.get("cache_read_input_tokens")))
        tokens_out = max(tokens_out, _int(usage.get("completion_tokens")) + _int(usage.get("output_tokens")))
    return tokens_in, tokens_out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def exchange_usage(exchange: Mapping[str, Any]) -> tuple[int, int] | None:
    """usage_from() for a recorded exchange (results.json form)."""
    response = exchange.get("response") or {}
    events = [e.get("json") for e in response.get("events") or [] if isinstance(e, dict)]
    return usage_from(response.get("body"), events)


def exchange_attempts(exchange: Mapping[str, Any]) -> int:
    """How many requests an exchange took: its tries, retries included."""
    attempts = (exchange.get("timings") or {}).get("attempts", 1)
    return int(attempts) if isinstance(attempts, (int, float)) and attempts >= 1 else 1


def request_model(exchange: Mapping[str, Any]) -> str | None:
    body = (exchange.get("request") or {}).get("body")
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


# -- cost -----------------------------------------------------------------------------------------
def cost_of(model: str | None, tokens_in: int, tokens_out: int, prices: Mapping[str, Mapping[str, float]] | None) -> float | None:
    """Cost of some tokens at ``prices`` (per model: input and output per million tokens); None
    when the model has no price."""
    price = (prices or {}).get(model or "")
    if not price:
        return None
    return tokens_in * float(price.get("input", 0)) / 1e6 + tokens_out * float(price.get("output", 0)) / 1e6


# -- spend of a case and of a run -----------------------------------------------------------------
def case_spend(exchanges: Iterable[Mapping[str, Any]], prices: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """What one case spent: requests sent (retries included), tokens the answers report, and their
    cost when every model it used has a price."""
    spend: dict[str, Any] = {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    cost: float | None = 0.0
    for exchange in exchanges:
        spend["requests"] += exchange_attempts(exchange)
        usage = exchange_usage(exchange)
        if usage is None:
            continue
        spend["input_tokens"] += usage[0]
        spend["output_tokens"] += usage[1]
        if prices:
            one = cost_of(request_model(exchange), usage[0], usage[1], prices)
            cost = None if one is None or cost is None else cost + one
    if prices and cost is not None:
        spend["cost"] = round(cost, 6)
    return spend


def run_spend(cases: Iterable[Mapping[str, Any]], limits: Mapping[str, Any] | None = None, priced: bool = False) -> dict[str, Any]:
    """The run's spend: totals, per protocol × feature, the cost when prices are configured
    (``priced``; None when a model used has no price), the budget (when one was set) and how many
    cases it skipped."""
    fields = ("requests", "input_tokens", "output_tokens")
    total: dict[str, Any] = {f: 0 for f in fields}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    skipped = 0
    for case in cases:
        spend = case.get("spend") or {}
        key = (str(case.get("protocol", "")), str(case.get("feature", "")))
        row = rows.setdefault(key, {"protocol": key[0], "feature": key[1], **{f: 0 for f in fields}})
        for group in (total, row):
            for f in fields:
                group[f] += int(spend.get(f, 0))
            if priced:
                unpriced = "cost" not in spend and (spend.get("input_tokens") or spend.get("output_tokens"))
                group["cost"] = None if unpriced or group.get("cost", 0.0) is None else group.get("cost", 0.0) + spend.get("cost", 0.0)
        if case.get("verdict") == "SKIP" and str(case.get("reason", "")).startswith("budget"):
            skipped += 1
    for group in [total, *rows.values()]:
        if group.get("cost") is not None:
            group["cost"] = round(group["cost"], 6)
    if priced:
        total.setdefault("cost", 0.0)
    out = {**total, "by_feature": [rows[k] for k in sorted(rows)]}
    budget = {k: v for k, v in (limits or {}).items() if v is not None}
    if budget:
        out["budget"] = budget
        out["skipped_for_budget"] = skipped
    return out


def spend_line(spend: Mapping[str, Any]) -> str:
    """``45 requests, 3,120 input + 1,850 output tokens, cost 0.0123`` (and the budget)."""
    text = f"{spend.get('requests', 0)} requests, {spend.get('input_tokens', 0):,} input + {spend.get('output_tokens', 0):,} output tokens"
    if "cost" in spend:
        text += f", cost {spend['cost']:.4f} at the configured prices" if spend["cost"] is not None else ", cost unknown (a model used has no price)"
    budget = spend.get("budget") or {}
    parts = [f"{budget['max_requests']} requests"] if "max_requests" in budget else []
    parts += [f"{budget['max_output_tokens']:,} output tokens"] if "max_output_tokens" in budget else []
    if parts:
        text += f"; budget {', '.join(parts)}"
        if spend.get("skipped_for_budget"):
            text += f", {spend['skipped_for_budget']} cases skipped for it"
    pacing = [f"{budget['rate_limit']:g} requests/s"] if "rate_limit" in budget else []
    pacing += [f"{budget['concurrency']} at once"] if "concurrency" in budget else []
    if pacing:
        text += f"; paced at {', '.join(pacing)}"
    return text
