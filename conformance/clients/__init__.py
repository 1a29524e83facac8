"""Real clients as referees: what each client library makes of an exchange.

Each lane (``node`` here: openai-node, the Anthropic TypeScript SDK, the AI SDK; the Python SDKs
in their own module) exposes the same interface::

    replay(exchange) -> list[ClientOutcome]

feeding the recorded response bytes to every client of the lane through the client's own
parser and accumulator, and comparing what the client reads with our reassembly of the reply.
An exchange a lane does not apply to (an error status, another endpoint) gives ``[]``; a lane
that cannot run (its runtime or packages missing) gives outcomes "not exercised" with the reason,
never a failure.

The client-readiness matrix of results.json is a list of :meth:`ClientOutcome.to_dict` rows
(``client_readiness: [{client, version, feature, outcome, detail}]``), one per client, version
and feature, aggregated over every exchange of the run by :func:`aggregate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

WORKS = "works"
BREAKS = "breaks"
NOT_EXERCISED = "not exercised"
OUTCOMES = (WORKS, BREAKS, NOT_EXERCISED)

# Checks whose findings come from real clients replaying an exchange. They are the referee of the
# rules, not rules proven by a fault of their own: the self-test's "only the named checks fire"
# leaves them out (their own fault table is tests/test_node_clients.py and `conformance clients faults`).
REFEREE_CHECKS: set[str] = {"check_node_clients", "check_openai_sdk", "check_anthropic_sdk", "check_client_call"}  # + conformance.sdk


CLIENT_OUTCOMES = "_clients"  # a case record's outcomes of the client lanes (see readiness); never in results.json
CLIENTS_ENV = "CONFORMANCE_CLIENTS"  # the client lanes asked for live calls ("node"), comma separated
LANES = {"node": "openai-node, @anthropic-ai/sdk and the AI SDK, installed by 'conformance clients install'"}


def asked_lanes() -> set[str]:
    """The client lanes asked for (``conformance run --clients node``)."""
    import os

    return {part.strip() for part in os.environ.get(CLIENTS_ENV, "").split(",") if part.strip()}


@dataclass(frozen=True)
class ClientOutcome:
    """What one client made of one exchange (or of a whole run, once aggregated)."""

    client: str  # "openai-node", "anthropic-node", "ai-sdk", "openai-python", ...
    version: str  # the client's version ("6.30.1"; the AI SDK names its provider too)
    feature: str  # what was exercised: "chat.completions.create stream", "streamText anthropic", ...
    outcome: str  # works | breaks | not exercised
    detail: str = ""  # the exception, the difference from our reassembly, or why not exercised

    def to_dict(self) -> dict[str, Any]:
        return {"client": self.client, "version": self.version, "feature": self.feature, "outcome": self.outcome, "detail": self.detail}


def _field(item: Any, name: str, *fallbacks: str) -> str:
    for key in (name, *fallbacks):
        value = item.get(key) if isinstance(item, dict) else getattr(item, key, None)
        if value is not None:
            return str(value)
    return ""


def aggregate(outcomes: Iterable[Any]) -> list[dict[str, Any]]:
    """The readiness matrix: one row per (client, version, feature). A feature breaks when it
    broke on any exchange (the first detail is kept, with how many exchanges broke); it works
    when it worked on at least one and never broke; otherwise it was not exercised.

    Takes :class:`ClientOutcome` rows or anything shaped like them (an ``outcome``, or a
    ``result`` as conformance.sdk names it; "not_exercised" is read as "not exercised")."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in outcomes:
        client, version, feature = _field(item, "client"), _field(item, "version"), _field(item, "feature")
        outcome = _field(item, "outcome", "result").replace("_", " ")
        detail = _field(item, "detail")
        key = (client, version, feature)
        row = rows.setdefault(key, {"client": client, "version": version, "feature": feature,
                                    "outcome": NOT_EXERCISED, "detail": "", "_broke": 0, "_worked": 0})
        if outcome == BREAKS:
            row["_broke"] += 1
            if row["outcome"] != BREAKS:
                row["outcome"], row["detail"] = BREAKS, detail
        elif outcome == WORKS:
            row["_worked"] += 1
            if row["outcome"] == NOT_EXERCISED:
                row["outcome"], row["detail"] = WORKS, ""
        elif row["outcome"] == NOT_EXERCISED and not row["detail"]:
            row["detail"] = detail
    out = []
    for row in rows.values():
        broke, worked = row.pop("_broke"), row.pop("_worked")
        if row["outcome"] == BREAKS:
            row["detail"] = f"{row['detail']} (broke on {broke} of {broke + worked} exchanges)"
        elif row["outcome"] == WORKS:
            row["detail"] = f"worked on {worked} exchange{'s' if worked != 1 else ''}"
        out.append(row)
    return sorted(out, key=lambda r: (r["client"], r["feature"]))


def exchange_from_dict(data: dict[str, Any], index: int = 0) -> Any:
    """An :class:`~conformance.exchange.Exchange` again from its results.json form, read the way
    ``conformance check results.json`` reads it (conformance.capture); None when it cannot be."""
    from conformance.capture import Entry, exchange_of
    from conformance.capture.jsonl import entry_of
    from conformance.redact import Redactor

    entry = entry_of(f"exchange {index}", data, None)
    return exchange_of(entry, Redactor(), index) if isinstance(entry, Entry) else None


def readiness(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The client-readiness matrix of a run: every recorded exchange of every case replayed through
    each client lane that is installed (the Node clients in one batch; the official Python SDKs
    when conformance.sdk is there), aggregated per client, version and feature. Lanes that
    cannot run give "not exercised" rows with the reason.

    A case record may carry what the lanes already made of its exchanges while it was judged
    (``_clients``: {exchange index: {"node": [...], "python": [...]}}, see
    conformance.plugin.outcome): those outcomes are used as they are, and only the exchanges a
    lane did not see are replayed (from their results.json form)."""
    from conformance.clients import node

    stored: list[Any] = []
    replay_node: list[Any] = []
    replay_python: list[Any] = []
    for case in cases:
        carried = case.get(CLIENT_OUTCOMES) or {}
        for i, data in enumerate(case.get("exchanges") or []):
            ran = carried.get(str(i)) or {}
            stored += [*ran.get("node", []), *ran.get("python", [])]
            if "node" in ran and "python" in ran:
                continue
            exchange = exchange_from_dict(data, i)
            if exchange is None:
                continue
            exchange.__dict__["_run_order"] = len(replay_node) + len(replay_python)
            if "node" not in ran:
                replay_node.append(exchange)
            if "python" not in ran:
                replay_python.append(exchange)
    outcomes: list[Any] = list(stored)
    remote, replay_node, replay_python = _through_referee(replay_node, replay_python)
    outcomes += remote
    try:
        for items in node.replay_many(replay_node):
            outcomes += items
    except Exception as exc:  # noqa: BLE001 - a referee lane must never break the report
        outcomes.append(ClientOutcome("node", "?", "replay", NOT_EXERCISED, f"the Node replay failed: {type(exc).__name__}: {exc}"))
    current = node.status()
    if not outcomes and not current.available:  # say why, even when no exchange applied
        outcomes += [ClientOutcome(c, current.client_version(c), "replay", NOT_EXERCISED, current.reason) for c in node.CLIENTS]
    if replay_python:
        outcomes += _python_lane(replay_python)
    return aggregate(outcomes)


def _through_referee(node_lane: list[Any], python_lane: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """Replay through the run's referee process (conformance.referee) when there is one, so that
    this process imports no client and starts no Node: (outcomes, what is left for the node lane,
    what is left for the Python lane), the leftovers being what the referee did not answer.
    Both lists are in the run's order (a lane's outcomes keep that order)."""
    from conformance import referee
    from conformance.facts import endpoint_of
    from conformance.sdk import ANTHROPIC, OPENAI

    if not referee.available():
        return [], node_lane, python_lane
    node_ids, python_ids = {id(x) for x in node_lane}, {id(x) for x in python_lane}
    todo = sorted({id(x): x for x in [*node_lane, *python_lane]}.values(), key=lambda x: x.__dict__["_run_order"])
    out: list[Any] = []
    left_node: list[Any] = []
    left_python: list[Any] = []
    window = 16  # requests in flight: the socket buffers never fill up on either side
    for start in range(0, len(todo), window):
        batch = todo[start:start + window]
        for x in batch:
            clients = [OPENAI, ANTHROPIC] if id(x) in python_ids else []
            referee.prefetch(x, endpoint_of(x.method, x.url), clients, id(x) in node_ids)
        for x in batch:
            if id(x) in node_ids:
                got = referee.outcomes(x, referee.NODE)
                if got is None:
                    left_node.append(x)
                else:
                    out += got
            if id(x) in python_ids:
                answers = [referee.outcomes(x, referee.PYTHON, client) for client in (OPENAI, ANTHROPIC)]
                if any(a is None for a in answers):
                    left_python.append(x)
                else:
                    out += [o for a in answers for o in a]
    return out, left_node, left_python


def _python_lane(exchanges: list[Any]) -> list[Any]:
    """The official Python SDKs' outcomes, when their referee lane (conformance.sdk) is present."""
    try:
        from conformance.sdk.replay import replay
    except ImportError:
        return []
    from conformance.facts import endpoint_of

    out: list[Any] = []
    for exchange in exchanges:
        try:
            out += replay(exchange, endpoint_of(exchange.method, exchange.url))
        except Exception:  # noqa: BLE001 - a referee lane must never break the report
            continue
    return out
