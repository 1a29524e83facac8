"""Which clients break on which fault: representative requests sent to the reference server with
a named fault (``x-conformance-fault``), their exchanges replayed through a client lane.

Used by the tests (tests/test_node_clients.py) and by ``conformance clients faults`` to show the
fault × client table: the evidence behind each rule's ``breaks``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from conformance.clients import ClientOutcome
from conformance.exchange import Exchange

OPENAI_MODEL = "deepseek/deepseek-v4-pro"
ANTHROPIC_MODEL = "anthropic/claude-sonnet-4.6"
_WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

# (label, path, body): the calls an application makes most (plain, stream, tools, tools streamed)
REQUESTS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "openai": [
        ("plain", "/chat/completions", {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
        ("stream", "/chat/completions", {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64, "stream": True}),
        ("stream usage", "/chat/completions", {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64, "stream": True,
                                              "stream_options": {"include_usage": True}}),
        ("tools", "/chat/completions", {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "What is the weather in Paris?"}], "max_tokens": 128,
                                        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": _WEATHER}}],
                                        "tool_choice": "required"}),
        ("tools stream", "/chat/completions", {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "What is the weather in Paris?"}], "max_tokens": 128,
                                               "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": _WEATHER}}],
                                               "tool_choice": "required", "stream": True}),
    ],
    "anthropic": [
        ("plain", "/messages", {"model": ANTHROPIC_MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}),
        ("stream", "/messages", {"model": ANTHROPIC_MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64, "stream": True}),
        ("tools", "/messages", {"model": ANTHROPIC_MODEL, "messages": [{"role": "user", "content": "What is the weather in Paris?"}], "max_tokens": 128,
                                "tools": [{"name": "get_weather", "description": "Weather of a city", "input_schema": _WEATHER}], "tool_choice": {"type": "any"}}),
        ("tools stream", "/messages", {"model": ANTHROPIC_MODEL, "messages": [{"role": "user", "content": "What is the weather in Paris?"}], "max_tokens": 128,
                                       "tools": [{"name": "get_weather", "description": "Weather of a city", "input_schema": _WEATHER}], "tool_choice": {"type": "any"},
                                       "stream": True}),
    ],
}


def record_exchanges(base_url: str, api_key: str, protocol: str, fault: str | None) -> list[tuple[str, Exchange]]:
    """Send every representative request of ``protocol`` with ``fault`` injected; (label, exchange)."""
    from conformance.redact import Redactor
    from conformance.transport import Transport

    auth = {"authorization": f"Bearer {api_key}"} if protocol == "openai" else {"x-api-key": api_key, "anthropic-version": "2023-06-01"}
    if fault:
        auth["x-conformance-fault"] = fault
    transport = Transport(base_url, redactor=Redactor([api_key]))
    try:
        out = []
        for label, path, body in REQUESTS[protocol]:
            stream = body.get("stream") is True
            exchange = transport.request("POST", path, json=body, headers=auth, stream=stream, expect_done=stream and protocol == "openai")
            out.append((label, exchange))
        return out
    finally:
        transport.close()


def fault_table(base_url: str, api_key: str, faults: Iterable[tuple[str | None, str]],
                replay_many: Callable[[list[Exchange]], list[list[ClientOutcome]]]) -> dict[str | None, list[tuple[str, ClientOutcome]]]:
    """{fault: [(request label, outcome), ...]} for each (fault, protocol); ``None`` is the clean server."""
    recorded: list[tuple[str | None, str, Exchange]] = []
    for fault, protocol in faults:
        recorded += [(fault, label, x) for label, x in record_exchanges(base_url, api_key, protocol, fault)]
    outcomes = replay_many([x for _, _, x in recorded])
    table: dict[str | None, list[tuple[str, ClientOutcome]]] = {}
    for (fault, label, _), items in zip(recorded, outcomes):
        table.setdefault(fault, []).extend((label, item) for item in items)
    return table


def breaking(rows: list[tuple[str, ClientOutcome]]) -> set[str]:
    """The clients that broke on at least one request."""
    return {item.client for _, item in rows if item.outcome == "breaks"}
