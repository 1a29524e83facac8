"""The official SDKs as referees (see :mod:`conformance.sdk`): each exchange's recorded bytes go
through openai-python or anthropic-python, with no second request, and what the client does is
judged. A client that raises, or whose final object differs from what the server sent, is a FAIL
in both readings: that is what "compatible" means. What the default client tolerates but a
strictly validating one rejects is a WARN in compatible and a FAIL in strict.
"""

from __future__ import annotations

from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.exchange import Exchange
from conformance.findings import Severity
from conformance.sdk import ANTHROPIC, BREAKS, OPENAI, WORKS, Outcome

W, E = Severity.WARNING, Severity.ERROR
OPENAI_SOURCE = "openai-python (_response.py, _streaming.py, lib/streaming/chat/_completions.py ChatCompletionStreamState)"
ANTHROPIC_SOURCE = "anthropic-python (_response.py, _streaming.py, lib/streaming/_messages.py accumulate_event)"


def _rules(client: str, what: str) -> list[Any]:
    return [
        rule("differs", f"{client}'s {what} differs from what the server sent (content, tool calls, finish/stop reason, usage)",
             breaks=(client,), evidence="the client's final object is not the reply the server sent: a caller reads wrong content, tool calls or usage"),
        rule("error_class", f"{client} raises no APIStatusError (or none at all) for an HTTP error",
             breaks=(client,), evidence="a caller's except clause for the status's exception class does not catch it"),
        rule("error_unreadable", f"{client}'s exception carries no readable error message and type",
             severity=E, compatible=W, evidence=f"{client} still raises the status's exception class; only exc.message/type/code lose the detail"),
        rule("strict_validation", f"{client}'s own models reject the body when validating strictly",
             severity=Severity.INFO, compatible=Severity.INFO,
             evidence=f"recorded, never a verdict: the default {client} client constructs its models without validation and tolerates it; "
                                               "a client created with _strict_response_validation=True raises APIResponseValidationError"),
    ]


def _violations(outcomes: list[Outcome]) -> Iterator[Violation]:
    seen: set[tuple[str, str]] = set()
    for outcome in outcomes:
        local = None
        if outcome.result == BREAKS:
            local = {"exception": None, "difference": "differs", "wrong_class": "error_class"}.get(outcome.kind)
        elif outcome.result == WORKS and outcome.kind in ("unreadable", "strict_validation"):
            local = {"unreadable": "error_unreadable"}.get(outcome.kind, outcome.kind)
        else:
            continue
        key = (local or "", outcome.feature)
        if key in seen:
            continue
        seen.add(key)
        yield Violation(f"{outcome.label} {outcome.feature}: {outcome.detail}", outcome.pointer, rule=local)


def outcomes_of(exchange: Exchange, endpoint: str, client: str) -> list[Outcome]:
    """The client's outcomes for the exchange (replayed once per exchange and client)."""
    from conformance.sdk.replay import replay

    from conformance import referee

    cache = exchange.__dict__.setdefault("_sdk_outcomes", {})
    if client not in cache:
        remote = referee.outcomes(exchange, referee.PYTHON, client)  # the run's referee process, when it has them
        cache[client] = remote if remote is not None else replay(exchange, endpoint, client)
    return cache[client]


@check(cls=None, source=OPENAI_SOURCE, title="openai-python reads the response without raising",
       breaks=(OPENAI,), evidence="the recorded bytes replayed through openai-python's own client raise, or give values client code cannot use",
       rules=_rules(OPENAI, "stream helper's final completion"))
def check_openai_sdk(exchange: Exchange, endpoint: str) -> Iterator[Violation]:
    yield from _violations(outcomes_of(exchange, endpoint, OPENAI))


@check(cls=None, source=ANTHROPIC_SOURCE, title="anthropic-python reads the response without raising",
       breaks=(ANTHROPIC,), evidence="the recorded bytes replayed through anthropic-python's own client raise, or give values client code cannot use",
       rules=_rules(ANTHROPIC, "messages.stream final message"))
def check_anthropic_sdk(exchange: Exchange, endpoint: str) -> Iterator[Violation]:
    yield from _violations(outcomes_of(exchange, endpoint, ANTHROPIC))


@check(cls=None, source="the official SDK clients (the client lane: conformance/suites/clients)", title="the official client's own call succeeds",
       breaks=(OPENAI, ANTHROPIC), evidence="the client lane calls the target through the SDK itself (retries off, default headers): the call raised")
def check_client_call(client: str, version: str, feature: str, error: str | None) -> Iterator[Violation]:
    if error:
        yield Violation(f"{client} {version} {feature}: {error}")
