"""The Node clients as referees: openai-node, the Anthropic TypeScript SDK and the AI SDK replay
the exchange's bytes through their own parsers (see :mod:`conformance.clients.node`).

Applied by judge() only where the clients are installed (``conformance clients install``); a
client that raises, or reads a different reply than the one the server sent (as we reassemble
it), is a finding naming the client, its version and the call that broke.
"""

from __future__ import annotations

from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.findings import Severity
from conformance.clients import BREAKS

NODE_CLIENTS = ("openai-node", "anthropic-node", "ai-sdk")
SOURCE = "openai-node, @anthropic-ai/sdk and the AI SDK (ai, @ai-sdk/openai-compatible, @ai-sdk/anthropic) as pinned in conformance/clients/node.py"


def _pointer(exchange: Any) -> str:
    if exchange is None:  # a live call of the client lane: the outcome is the evidence
        return ""
    return f"/exchanges/{exchange.index}/response/{'raw_sse' if exchange.is_sse else 'body'}"


OFFICIAL = ("openai-node", "anthropic-node")  # the official SDKs: a break is a FAIL in compatible
COMMON = ("ai-sdk",)  # common clients: a break is reported (readiness matrix, WARN), never a compatible FAIL


@check(
    cls=None,
    source=SOURCE,
    title="every official Node SDK reads the reply without an error",
    breaks=OFFICIAL,
    evidence="the official client itself raised while reading the recorded bytes through its own parser",
    rules=[
        rule("differs", "every official Node SDK reads the reply the server sent",
             breaks=OFFICIAL,
             evidence="the client returned another text, other tool calls or another finish reason than the server sent, as we reassemble it"),
        rule("common_client", "the AI SDK (a common client, not an official SDK) reads the reply",
             severity=Severity.WARNING,
             evidence="the AI SDK validates every event against its own schema and rejects what the official SDKs accept "
                      "(e.g. an unknown Anthropic event type): worth knowing, shown in the client-readiness matrix, but the "
                      "official SDKs decide what compatible means (DESIGN.md)"),
    ],
)
def check_node_clients(exchange: Any, outcomes: list[Any] | None = None) -> Iterator[Violation]:
    """``outcomes``: what the clients did (the live lane); default: replay the exchange's bytes."""
    if outcomes is None:
        from conformance import referee
        from conformance.clients.node import replay

        remote = referee.outcomes(exchange, referee.NODE) if exchange is not None else None  # the run's referee process
        outcomes = remote if remote is not None else replay(exchange)
        if exchange is not None:  # kept for the run's client-readiness matrix (no second replay)
            exchange.__dict__["_node_outcomes"] = outcomes
    from conformance.clients.node import DIFFERENCE_PREFIX

    for item in outcomes:
        if item.outcome != BREAKS:
            continue
        if item.client in COMMON:
            local = "common_client"
        else:
            local = "differs" if item.detail.startswith(DIFFERENCE_PREFIX) else None
        yield Violation(f"{item.client} {item.version} {item.feature}: {item.detail}", _pointer(exchange), rule=local)
