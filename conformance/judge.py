"""judge(exchange, context) → findings: every applicable rule, for any exchange.

The one place that decides which rules apply to a recorded exchange, whatever produced it: a
suite's own request, the validating proxy relaying an application's traffic, or an offline
recording (HAR, raw capture, JSONL, a saved results.json). Rules are chosen by what the exchange
is (endpoint, protocol, stream or not, success or error) and by what its request asked for
(n, stop, max tokens, tools, tool_choice, include_usage, logprobs, response_format, …), so a
request-driven semantic rule ("n honoured", "stop honoured") applies wherever the request asked.

Suites call the same :func:`judge` for their exchanges and add only what is specific to their
case (the expectation of this request: it must succeed, it must be refused with 400, …).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from conformance.exchange import Exchange
from conformance.findings import Finding, Severity, Strictness

from conformance.facts import (  # noqa: F401 - the public names of judge()
    CHAT,
    MESSAGES,
    MODEL,
    MODELS,
    OTHER,
    PROTOCOL_OF,
    Applicable,
    Facts,
    JudgeContext,
    endpoint_of,
    facts_of,
)


_TABLE: list[Applicable] | None = None


def table() -> list[Applicable]:
    """Every rule judge() can apply, built once (imports every check module)."""
    global _TABLE
    if _TABLE is None:
        from conformance import judge_table

        _TABLE = judge_table.build()
    return _TABLE


def applicable(exchange: Exchange, context: JudgeContext, facts: Facts | None = None) -> list[tuple[Applicable, tuple[Any, ...]]]:
    """The checks that apply to this exchange, with their arguments, in table order."""
    facts = facts or facts_of(exchange, context.paths())
    out = []
    for entry in table():
        if entry.name in context.disabled:
            continue
        try:
            if not entry.when(facts, exchange, context):
                continue
            args = entry.args(facts, exchange, context)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a malformed request: the rule cannot tell what was asked, so it does not apply
        if args is not None:
            out.append((entry, args))
    return out


def judge(exchange: Exchange, context: JudgeContext) -> list[Finding]:
    """Every finding of every applicable rule for one exchange. Never raises for a broken
    exchange: a check that cannot evaluate it reports that as a warning, never as a FAIL."""
    findings: list[Finding] = []
    for entry, args in applicable(exchange, context):
        findings.extend(run_check(entry.check, args, context.strictness, exchange))
    return findings


def run_check(check: Callable[..., Iterable[Any]], args: tuple[Any, ...], strictness: Strictness, exchange: Exchange | None = None) -> list[Finding]:
    """Evaluate one check; a check that crashes on a hostile exchange yields a warning finding."""
    from conformance.checks import evaluate, info_of

    try:
        return evaluate(check, *args, strictness=strictness)
    except RecursionError:
        reason = "the response is nested too deeply to evaluate"
    except Exception as exc:  # noqa: BLE001 - a hostile body must never crash a run
        reason = f"{type(exc).__name__}: {exc}"
    info = info_of(check)
    pointer = f"/exchanges/{exchange.index}/response" if exchange is not None else ""
    return [Finding(info.name, None, Severity.WARNING, f"the check could not evaluate this exchange ({reason[:200]})", pointer, info.source, rule=f"{info.rule_prefix}.not_evaluated")]
