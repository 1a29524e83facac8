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

import re
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


# -- replies cut by the token limit ------------------------------------------------------------------
# The checks that judge a reply as complete (tool-call arguments and their schema, finish/stop
# reason expectations, tool_choice, JSON replies, a tool's streamed input). A reply that ended by the
# token limit cannot be held to them: their failures become inconclusive (WARN with the reason).
NEEDS_COMPLETE_REPLY = frozenset({
    "check_tool_call_arguments", "check_stream_tool_call_arguments", "check_stream_tool_calls_finish_reason",
    "check_finish_reason_value", "check_tool_choice_honoured", "check_json_reply",
    "check_anthropic_tool_use_input", "check_anthropic_stop_reason", "check_anthropic_tool_choice", "check_stream_tool_input",
    # the clients as referees: their helpers refuse a cut reply by design (openai's LengthFinishReasonError,
    # arguments that do not parse): that is the token limit speaking, not the server
    "check_openai_sdk", "check_anthropic_sdk", "check_node_clients",
})
from conformance.verdicts import CUT_BY_LIMIT  # noqa: E402 - the reason the verdict shows


def truncation(exchange: Exchange | None) -> str | None:
    """How the reply says it ended by the token limit ('finish_reason length', 'stop_reason
    max_tokens'), or None when it did not."""
    if exchange is None:
        return None
    bodies: list[Any] = [e.json for e in exchange.events or [] if isinstance(e.json, dict)] if exchange.is_sse else [exchange.body]
    for body in bodies:
        if not isinstance(body, dict):
            continue
        for choice in body.get("choices") or []:
            if isinstance(choice, dict) and choice.get("finish_reason") == "length":
                return "finish_reason length"
        for holder in (body, body.get("delta"), body.get("message")):
            if isinstance(holder, dict) and holder.get("stop_reason") == "max_tokens":
                return "stop_reason max_tokens"
    return None


def soften_truncated(check_name: str, findings: list[Finding], exchange: Exchange | None) -> list[Finding]:
    """A rule that needs a complete reply, on a reply cut by the token limit: its failures are
    inconclusive (WARN, "cut by the token limit"), in either reading."""
    if check_name not in NEEDS_COMPLETE_REPLY or not any(f.severity is Severity.ERROR for f in findings):
        return findings
    why = truncation(exchange)
    if why is None:
        return findings
    from dataclasses import replace

    return [replace(f, severity=Severity.WARNING, message=f"{CUT_BY_LIMIT} ({why}): {f.message}") if f.severity is Severity.ERROR else f
            for f in findings]


# -- sources: each finding cites the active profile's documents ------------------------------------
_DOCUMENT = re.compile(r"^(?P<name>[A-Za-z][A-Za-z ]*?)\s+\d{3}\b")
_RULE_NOTE = re.compile(r"\(rule: (?P<source>[^()]*(?:\([^()]*\)[^()]*)*)\)")


def vendor_documents() -> dict[str, set[str]]:
    """Citation name of each vendor document ('CrossModel', 'LLM Gateway', 'CryptGPT') → the
    profiles it belongs to: the profiles that name their documents."""
    from conformance import profiles

    out: dict[str, set[str]] = {}
    for profile in profiles.load_all():
        if profile.layers.get(profile.name, {}).get("documents"):
            match = _DOCUMENT.match(profile.profile_source())
            if match:
                out.setdefault(match["name"].strip(), set()).add(profile.name)
    return out


def cite(source: str, profile: Any) -> str:
    """``source`` as the active profile cites it: the citations of another profile's vendor document
    are dropped (a generic profile never cites CrossModel); when nothing is left, the profile's
    own base document."""
    if not source or profile is None:
        return source
    foreign = [name for name, owners in _vendors().items() if not owners & set(profile.chain)]
    if not any(name in source for name in foreign):
        return source
    kept: list[str] = []
    dropping = False
    for part in (p.strip() for p in source.split(";")):
        if any(part.startswith(name) for name in foreign):
            dropping = True
        elif not (dropping and re.match(r"^\d{3}\b", part)):  # '000 §…' continues the dropped document
            dropping = False
            kept.append(part)
    if kept:
        return "; ".join(kept)
    base = profile.chain[-1] if profile.chain else profile.name
    return profile.profile_source(base)


def cited(findings: list[Finding], profile: Any) -> list[Finding]:
    """Findings whose source (and any '(rule: …)' note in the message) cite the active profile."""
    from dataclasses import replace

    out = []
    for f in findings:
        message = _RULE_NOTE.sub(lambda m: f"(rule: {cite(m['source'], profile)})", f.message) if "(rule: " in f.message else f.message
        source = cite(f.source, profile)
        out.append(f if (source, message) == (f.source, f.message) else replace(f, source=source, message=message))
    return out


_VENDORS: dict[str, set[str]] | None = None


def _vendors() -> dict[str, set[str]]:
    global _VENDORS
    if _VENDORS is None:
        _VENDORS = vendor_documents()
    return _VENDORS


def judge(exchange: Exchange, context: JudgeContext) -> list[Finding]:
    """Every finding of every applicable rule for one exchange. Never raises for a broken
    exchange: a check that cannot evaluate it reports that as a warning, never as a FAIL."""
    findings: list[Finding] = []
    if exchange.error_kind == "too_large":
        return findings  # read only in part (past a memory limit): no rule can be judged on it
    facts = facts_of(exchange, context.paths())
    findings = run_checks(exchange, applicable(exchange, context, facts), context.strictness)
    return cited(findings, context.profile(facts.protocol))


def run_checks(exchange: Exchange, entries: list[tuple[Applicable, tuple[Any, ...]]], strictness: Strictness) -> list[Finding]:
    """The findings of these applicable checks on one exchange: the referee process gets the
    exchange first (it replays while the others run), and a long stream is judged with automatic
    garbage collection paused. Shared by judge() and a suite case's judge."""
    prefetch_referees(exchange, entries)
    findings: list[Finding] = []
    with gc_paused_for(exchange):
        for entry, args in entries:
            findings.extend(run_check(entry.check, args, strictness, exchange))
    return findings


LONG_STREAM = 5_000  # events: judged with automatic garbage collection paused


def gc_paused_for(exchange: Exchange) -> Any:
    """A long stream's rules walk its events several times and build their rows (lists of every
    chunk, every choice): automatic collections meanwhile walk every live object again and again,
    about 40% of judging a 200,000-event stream (conformance bench). Paused for that CPU-bound
    step only; short exchanges are judged as they are."""
    import contextlib

    from conformance.exchange import _gc_paused

    return _gc_paused() if len(exchange.events or ()) > LONG_STREAM else contextlib.nullcontext()


REFEREE_LANES = {"check_openai_sdk": "openai-python", "check_anthropic_sdk": "anthropic-python", "check_node_clients": None}


def prefetch_referees(exchange: Exchange, entries: list[tuple[Applicable, tuple[Any, ...]]]) -> None:
    """When the run has a referee process (conformance.referee), send it the exchange for the
    referee checks that apply, before the other checks run: it replays while they do."""
    import os

    from conformance.referee import REFEREE_ENV

    if not os.environ.get(REFEREE_ENV):
        return
    python: list[str] = []
    node, endpoint = False, ""
    for entry, args in entries:
        if entry.name not in REFEREE_LANES:
            continue
        client = REFEREE_LANES[entry.name]
        if client is None:
            node = True
        else:
            python.append(client)
            endpoint = args[1]
    from conformance import referee

    referee.prefetch(exchange, endpoint, python, node)


def run_check(check: Callable[..., Iterable[Any]], args: tuple[Any, ...], strictness: Strictness, exchange: Exchange | None = None) -> list[Finding]:
    """Evaluate one check; a check that crashes on a hostile exchange yields a warning finding."""
    from conformance.checks import evaluate, info_of

    try:
        return soften_truncated(info_of(check).name, evaluate(check, *args, strictness=strictness), exchange)
    except RecursionError:
        reason = "the response is nested too deeply to evaluate"
    except Exception as exc:  # noqa: BLE001 - a hostile body must never crash a run
        reason = f"{type(exc).__name__}: {exc}"
    info = info_of(check)
    pointer = f"/exchanges/{exchange.index}/response" if exchange is not None else ""
    return [Finding(info.name, None, Severity.WARNING, f"the check could not evaluate this exchange ({reason[:200]})", pointer, info.source, rule=f"{info.rule_prefix}.not_evaluated")]
