"""The SDK evidence: every named fault of the reference server, replayed through both SDKs.

For each fault, a fixed set of probe requests (plain, streamed, with tools, usage, errors, models)
is sent to the reference server in-process (Starlette's test client, no socket, no subprocess)
with the fault injected. Each exchange is judged with :func:`conformance.judge.judge` in both
readings and replayed through the official clients. The record says, per fault, what each SDK
did (breaks / tolerates) and which rules fired, with their compatible and strict severities.

:func:`disagreements` is the proof that the rules' severities are grounded in clients:
- a rule that is a FAIL in ``compatible`` without a semantic reason fires only where an SDK its
  ``breaks`` names really broke;
- a rule that names clients in ``breaks`` saw one of them break wherever it fired;
- an exchange an SDK broke on has a compatible FAIL from a rule other than the SDK check itself
  (so the suite says *why* the client broke), or the SDK check alone when no rule explains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.findings import Severity, Strictness
from conformance.sdk import BREAKS, Outcome

KEY = "sk-evidence-key"
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}
SDK_CHECKS = ("check_openai_sdk", "check_anthropic_sdk")

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ANTHROPIC_TOOL = {"name": "get_weather", "description": "Weather of a city",
                  "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = [{"role": "user", "content": "Reply with exactly: Hello there, friend of mine"}]
WEATHER = [{"role": "user", "content": "Use get_weather for Paris"}]


@dataclass(frozen=True)
class Probe:
    name: str
    protocol: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    bad_key: bool = False

    @property
    def stream(self) -> bool:
        return bool(self.body and self.body.get("stream"))


def probes(openai_model: str, anthropic_model: str) -> list[Probe]:
    om, am = openai_model, anthropic_model
    forced = {"type": "function", "function": {"name": "get_weather"}}
    return [
        Probe("chat", "openai", "POST", "/chat/completions", {"model": om, "messages": ASK}),
        Probe("chat_stream", "openai", "POST", "/chat/completions", {"model": om, "messages": ASK, "stream": True}),
        Probe("chat_stream_usage", "openai", "POST", "/chat/completions",
              {"model": om, "messages": ASK, "stream": True, "stream_options": {"include_usage": True}}),
        Probe("chat_tools", "openai", "POST", "/chat/completions", {"model": om, "messages": WEATHER, "tools": [TOOL], "tool_choice": forced}),
        Probe("chat_tools_stream", "openai", "POST", "/chat/completions",
              {"model": om, "messages": WEATHER, "tools": [TOOL], "tool_choice": forced, "stream": True}),
        Probe("chat_unknown_model", "openai", "POST", "/chat/completions", {"model": "no-such-model", "messages": ASK}),
        Probe("chat_bad_key", "openai", "POST", "/chat/completions", {"model": om, "messages": ASK}, bad_key=True),
        Probe("models", "openai", "GET", "/models"),
        Probe("model", "openai", "GET", f"/models/{om}"),
        Probe("message", "anthropic", "POST", "/messages", {"model": am, "max_tokens": 64, "messages": ASK}),
        Probe("message_stream", "anthropic", "POST", "/messages", {"model": am, "max_tokens": 64, "messages": ASK, "stream": True}),
        Probe("message_tool", "anthropic", "POST", "/messages",
              {"model": am, "max_tokens": 64, "messages": WEATHER, "tools": [ANTHROPIC_TOOL], "tool_choice": {"type": "tool", "name": "get_weather"}}),
        Probe("message_tool_stream", "anthropic", "POST", "/messages",
              {"model": am, "max_tokens": 64, "messages": WEATHER, "tools": [ANTHROPIC_TOOL],
               "tool_choice": {"type": "tool", "name": "get_weather"}, "stream": True}),
        Probe("message_unknown_model", "anthropic", "POST", "/messages", {"model": "no-such-model", "max_tokens": 64, "messages": ASK}),
        Probe("message_bad_key", "anthropic", "POST", "/messages", {"model": am, "max_tokens": 64, "messages": ASK}, bad_key=True),
    ]


@dataclass
class Fired:
    """One rule that fired on one exchange, with what the SDKs did on that exchange."""

    fault: str
    probe: str
    rule: str
    compatible: Severity
    strict: Severity
    broke: tuple[str, ...]  # clients that broke on the exchange (SDK checks' FAILs)
    message: str = ""


@dataclass
class FaultRecord:
    fault: str
    protocol: str
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)  # probe → outcomes
    fired: list[Fired] = field(default_factory=list)

    def broke(self, client: str) -> list[Outcome]:
        return [o for outs in self.outcomes.values() for o in outs if o.client == client and o.result == BREAKS]

    @property
    def sdk_outcome(self) -> dict[str, str]:
        from conformance.sdk import versions

        return {client: ("breaks" if self.broke(client) else "tolerates") for client in versions()}


class _Server:
    """The reference server in-process, one per profile set."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, ...], Any] = {}

    def transport(self, profiles: tuple[str, ...]) -> Any:
        from starlette.testclient import TestClient

        from conformance.reference.app import DEFAULT_PROFILES, ServerSettings, build_app
        from conformance.transport import Transport

        profiles = profiles or DEFAULT_PROFILES
        if profiles not in self._clients:
            app = build_app(ServerSettings(api_keys=frozenset({KEY}), profiles=profiles))
            self._clients[profiles] = Transport("http://reference.invalid/v1", client=TestClient(app, base_url="http://reference.invalid"))
        return self._clients[profiles]

    def close(self) -> None:
        for transport in self._clients.values():
            transport.close()


def _models(profiles: tuple[str, ...]) -> tuple[str, str]:
    from conformance.reference.app import DEFAULT_PROFILES
    from conformance import profiles as profiles_mod

    names = list(profiles or DEFAULT_PROFILES)
    found = []
    for protocol, fallback in (("openai", "reference-chat"), ("anthropic", "reference-chat")):
        profile = profiles_mod.for_protocol(names, protocol)
        found.append((profile.get(protocol, "default_model") if profile is not None else None) or fallback)
    return found[0], found[1]


def send(transport: Any, probe: Probe, fault: str | None) -> Any:
    key = "sk-not-the-key" if probe.bad_key else KEY
    headers = {"authorization": f"Bearer {key}", "x-api-key": key}
    if probe.protocol == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    if fault:
        headers["x-conformance-fault"] = fault
    if probe.method == "GET":
        return transport.request("GET", probe.path, headers=headers)
    return transport.request("POST", probe.path, json=probe.body, headers=headers, stream=probe.stream,
                             expect_done=probe.stream and probe.protocol == "openai")


def record_fault(name: str | None, protocol: str | None = None, profiles: tuple[str, ...] = (), server: _Server | None = None) -> FaultRecord:
    """Run the probes of the fault's protocol with the fault injected (None: the clean server)."""
    from conformance.checks import RULES
    from conformance.judge import JudgeContext, facts_of, judge

    own = server is None
    server = server or _Server()
    try:
        transport = server.transport(profiles)
        openai_model, anthropic_model = _models(profiles)
        record = FaultRecord(name or "(clean)", protocol or "both")
        context = JudgeContext(profiles=list(profiles or ("crossmodel-openai", "crossmodel-anthropic")))
        strict = JudgeContext(profiles=context.profiles, strictness=Strictness.STRICT)
        for index, probe in enumerate(probes(openai_model, anthropic_model)):
            if protocol and probe.protocol != protocol:
                continue
            exchange = send(transport, probe, name)
            exchange.index = index
            findings = judge(exchange, context)
            strict_findings = judge(exchange, strict)
            record.outcomes[probe.name] = [o for outs in exchange.__dict__.get("_sdk_outcomes", {}).values() for o in outs]
            broke = tuple(sorted({o.client for o in record.outcomes[probe.name] if o.result == BREAKS}))
            worst: dict[str, list[Any]] = {}
            for reading, items in (("compatible", findings), ("strict", strict_findings)):
                for finding in items:
                    if finding.severity is Severity.INFO or finding.rule.endswith(".not_evaluated"):
                        continue
                    entry = worst.setdefault(finding.rule, [None, None, finding.message])
                    slot = 0 if reading == "compatible" else 1
                    if entry[slot] is None or _RANK[finding.severity] > _RANK[entry[slot]]:
                        entry[slot] = finding.severity
            for rule_id, (compatible, strict_severity, message) in worst.items():
                rule = RULES[rule_id]
                record.fired.append(Fired(record.fault, probe.name, rule.id, compatible or Severity.INFO, strict_severity or rule.strict, broke, message))
        return record
    finally:
        if own:
            server.close()


def record_all(names: list[str] | None = None) -> list[FaultRecord]:
    from conformance.reference.faults import FAULTS

    server = _Server()
    try:
        out = [record_fault(None, server=server)]
        for name in names or sorted(FAULTS):
            fault = FAULTS[name]
            out.append(record_fault(name, fault.protocol, fault.profiles, server=server))
        return out
    finally:
        server.close()


def disagreements(records: list[FaultRecord]) -> list[str]:
    """Where a rule's compatible severity disagrees with what the SDKs did (empty: they agree)."""
    from conformance.checks import RULES, REGISTRY

    problems: list[str] = []
    from conformance.clients import REFEREE_CHECKS

    referees = set(SDK_CHECKS) | set(REFEREE_CHECKS)  # the Node clients judge with their own fault table
    sdk_rules = {r.id for name in referees if name in REGISTRY for r in REGISTRY[name].rules.values()}
    for record in records:
        for fired in record.fired:
            rule = RULES[fired.rule]
            if rule.id in sdk_rules:
                continue
            if fired.compatible is Severity.ERROR and not rule.semantic:
                if not rule.breaks:
                    problems.append(f"{record.fault}/{fired.probe}: {rule.id} is a compatible FAIL with neither 'breaks' nor 'semantic' "
                                    f"(SDKs that broke here: {', '.join(fired.broke) or 'none'})")
                elif not set(rule.breaks) & set(fired.broke):
                    problems.append(f"{record.fault}/{fired.probe}: {rule.id} says {', '.join(rule.breaks)} breaks, but it tolerated the exchange")
        for probe, outcomes in record.outcomes.items():
            broke = {o.client for o in outcomes if o.result == BREAKS}
            if not broke:
                continue
            explained = [f for f in record.fired if f.probe == probe and f.compatible is Severity.ERROR]
            if not any(set(RULES[f.rule].breaks) & broke for f in explained):
                rules = sorted({f.rule for f in record.fired if f.probe == probe and f.rule not in sdk_rules})
                problems.append(f"{record.fault}/{probe}: {', '.join(sorted(broke))} broke but no compatible-FAIL rule names it "
                                f"(rules fired: {', '.join(rules) or 'none'})")
    return problems


# -- the named legal variations the issue calls false alarms: recorded bytes, replayed -------------
def _sse(events: list[tuple[str | None, Any]], done: bool) -> bytes:
    import json

    out = []
    for name, data in events:
        out.append((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None, created: int | None = None) -> dict[str, Any]:
    import time

    created = created or int(time.time())
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": created, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _tool_delta(index: int, **part: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **part}]}


def tolerance_exchanges() -> dict[str, Any]:
    """Each named legal variation as the exchange a client would have received."""
    from conformance.exchange import record

    chat_request = {"model": "m", "messages": ASK, "stream": True}
    tools_request = {"model": "m", "messages": WEATHER, "tools": [TOOL], "stream": True}
    message_request = {"model": "m", "max_tokens": 64, "messages": WEATHER, "tools": [ANTHROPIC_TOOL], "stream": True}
    sse = [("content-type", "text/event-stream")]
    fn = {"type": "function"}
    repeated_type = _sse([
        (None, _chunk({"role": "assistant", "content": None})),
        (None, _chunk(_tool_delta(0, id="call_1", **fn, function={"name": "get_weather", "arguments": ""}))),
        (None, _chunk(_tool_delta(0, **fn, function={"arguments": "{\"city\":"}))),
        (None, _chunk(_tool_delta(0, **fn, function={"arguments": " \"Paris\"}"}))),
        (None, _chunk({}, "tool_calls")),
    ], True)
    import time

    now = int(time.time())
    varying_created = _sse([
        (None, _chunk({"role": "assistant", "content": ""}, created=now + 0)),
        (None, _chunk({"content": "Hello"}, created=now + 1)),
        (None, _chunk({"content": " there"}, created=now + 2)),
        (None, _chunk({}, "stop", created=now + 3)),
    ], True)
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    no_input = _sse([
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Paris\"}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"}),
    ], False)
    integer_code = b'{"error": {"message": "The model does not exist", "type": "invalid_request_error", "param": null, "code": 404}}'
    url_chat, url_msg = "http://target.invalid/v1/chat/completions", "http://target.invalid/v1/messages"
    return {
        "repeated_tool_call_type": record(method="POST", url=url_chat, request_headers={}, request_body=tools_request, status=200, headers=sse, body=repeated_type),
        "varying_created": record(method="POST", url=url_chat, request_headers={}, request_body=chat_request, status=200, headers=sse, body=varying_created),
        "tool_use_start_without_input": record(method="POST", url=url_msg, request_headers={}, request_body=message_request, status=200, headers=sse, body=no_input),
        "integer_error_code": record(method="POST", url=url_chat, request_headers={}, request_body={"model": "nope", "messages": ASK}, status=404,
                                     headers=[("content-type", "application/json")], body=integer_code),
    }


def record_tolerances() -> list[FaultRecord]:
    """The named legal variations, judged in both readings and replayed through both SDKs."""
    from conformance.checks import RULES
    from conformance.judge import JudgeContext, judge

    context = JudgeContext(profiles=["openai", "anthropic"])
    strict = JudgeContext(profiles=context.profiles, strictness=Strictness.STRICT)
    out = []
    for name, exchange in tolerance_exchanges().items():
        record = FaultRecord(f"tolerance:{name}", "openai" if "/chat/" in exchange.url else "anthropic")
        findings, strict_findings = judge(exchange, context), judge(exchange, strict)
        outcomes = [o for outs in exchange.__dict__.get("_sdk_outcomes", {}).values() for o in outs]
        record.outcomes[name] = outcomes
        broke = tuple(sorted({o.client for o in outcomes if o.result == BREAKS}))
        worst: dict[str, list[Any]] = {}
        for slot, items in ((0, findings), (1, strict_findings)):
            for finding in items:
                if finding.severity is Severity.INFO or finding.rule.endswith(".not_evaluated"):
                    continue
                entry = worst.setdefault(finding.rule, [None, None, finding.message])
                if entry[slot] is None or _RANK[finding.severity] > _RANK[entry[slot]]:
                    entry[slot] = finding.severity
        for rule_id, (compatible, strict_severity, message) in worst.items():
            record.fired.append(Fired(record.fault, name, rule_id, compatible or Severity.INFO, strict_severity or RULES[rule_id].strict, broke, message))
        out.append(record)
    return out


# -- the table -----------------------------------------------------------------------------------------
def render_table(records: list[FaultRecord]) -> str:
    """fault × SDK outcome × rule × severity, one line per rule that fired."""
    label = {Severity.ERROR: "FAIL", Severity.WARNING: "WARN", Severity.INFO: "INFO"}
    from conformance.checks import RULES

    lines = [f"{'fault':44} {'openai-python':14} {'anthropic-python':17} {'rule':52} {'compatible':10} strict  evidence"]
    for record in records:
        outcome = record.sdk_outcome
        first = True
        rules: dict[str, Fired] = {}
        for fired in record.fired:
            if fired.rule not in rules or _RANK[fired.compatible] > _RANK[rules[fired.rule].compatible]:
                rules[fired.rule] = fired
        rows = sorted(rules.values(), key=lambda f: f.rule) or [None]
        for fired in rows:
            head = f"{record.fault:44} {outcome.get('openai-python', '-'):14} {outcome.get('anthropic-python', '-'):17}" if first else " " * 77
            first = False
            if fired is None:
                lines.append(f"{head} {'(no rule fires on these probes)':52}")
                continue
            rule = RULES[fired.rule]
            why = (f"breaks {', '.join(rule.breaks)}" if rule.breaks else "") + (" / semantic" if rule.semantic else "")
            lines.append(f"{head} {fired.rule:52} {label[fired.compatible]:10} {label[fired.strict]:6}  {why or 'tolerated'}")
        said = set()
        for probe, outcomes in record.outcomes.items():
            for o in outcomes:
                if o.result == BREAKS and (o.client, o.feature) not in said:
                    said.add((o.client, o.feature))
                    lines.append(f"{'':44}   {o.client} {o.version} {o.feature} on {probe}: {o.detail[:140]}")
    problems = disagreements(records)
    lines.append("")
    lines.append(f"{len(records)} recordings; severities {'agree with' if not problems else 'DISAGREE with'} the SDKs" + (":" if problems else "."))
    lines.extend(f"  {p}" for p in problems)
    return "\n".join(lines)


def command_evidence(args: Any) -> int:
    from conformance.errors import ConfigError
    from conformance.reference.faults import FAULTS

    names = list(getattr(args, "fault", None) or [])
    for name in names:
        if name not in FAULTS:
            raise ConfigError(f"unknown fault '{name}' (see 'conformance faults')")
    records = record_all(names or None) + ([] if names else record_tolerances())
    print(render_table(records))
    return 0 if not disagreements(records) else 1
