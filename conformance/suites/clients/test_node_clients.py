"""Live calls through the Node clients (openai-node, @anthropic-ai/sdk, the AI SDK): a plain call,
a stream and a forced tool call through each client's own code path. The exchanges the clients
make are recorded and judged like the suite's own; a client that raises or reads nothing usable
is a finding naming the client and its version. Without Node or its clients: SKIP with the reason.
"""

import pytest

from conformance.checks.node_clients import check_node_clients
from conformance.clients import NOT_EXERCISED
from conformance.clients.node import LIVE_KINDS, live


def _live(case, protocol: str, kind: str) -> None:
    outcomes, exchanges = live(protocol, kind, case.target.base_url or "", case.session.api_key or "", case.model, dict(case.target.headers),
                               timeout_s=case.target.limits.total_s)
    for exchange in exchanges:  # what the clients sent and got: judged like the suite's own exchanges
        exchange.index = case.transport.on_exchange(exchange)
        case.judge(exchange)
    exercised = [o for o in outcomes if o.outcome != NOT_EXERCISED]
    if not exercised:
        case.skip(f"the Node clients were not exercised: {outcomes[0].detail if outcomes else 'no client applies'}")
    case.check(check_node_clients, None, outcomes)


@pytest.mark.conformance(protocol="openai", feature="clients")
@pytest.mark.parametrize("kind", LIVE_KINDS)
def test_node_clients_openai(case, kind):
    """the Node clients complete a {kind} chat completion"""
    _live(case, "openai", kind)


@pytest.mark.conformance(protocol="anthropic", feature="clients")
@pytest.mark.parametrize("kind", LIVE_KINDS)
def test_node_clients_anthropic(case, kind):
    """the Node clients complete a {kind} message"""
    _live(case, "anthropic", kind)
