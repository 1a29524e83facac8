"""Checks shared by both protocols: schema validation, SSE framing, HTTP basics."""

from __future__ import annotations

from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.findings import Severity, Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange

FRAMING_CLASS = {
    "line_without_field": "11",
    "missing_blank_line": "12",
    "empty_data": "12",
    "unterminated_event": "12",
    "data_after_done": "7",
}
FRAMING_RULES = ("line_without_field", "empty_data", "unterminated_event", "data_after_done")  # missing_blank_line: the main rule


def schema_violations(
    schemas: SchemaRegistry, name: str, strictness: Strictness, instance: Any, pointer: str
) -> Iterator[Violation]:
    """Violations of ``<protocol>/<reading>/<name>`` for an instance found at ``pointer``."""
    protocol, _, short = name.partition("/")
    for error in schemas.errors(f"{protocol}/{strictness.value}/{short}", instance):
        source = f" (rule: {error.source})" if error.source else ""
        yield Violation(error.message + source, pointer + error.pointer, cls=error.cls)


@check(cls="12", source="WHATWG HTML §9.2 Server-sent events; openai-python _streaming.py", title="the stream is well-framed Server-Sent Events", breaks=("openai-python",), evidence="openai-python passes an empty data: to json.loads (JSONDecodeError) and drops an unterminated event (faults keepalive_as_data, no_blank_lines)", rules=[rule("line_without_field", "a line outside SSE framing (no data:/event: field)", semantic="what is written outside SSE framing (a mid-stream error) never reaches any client: the reply is silently cut", cls="11"),
              rule("empty_data", "no event carries empty data (a keep-alive belongs in a comment)"),
              rule("unterminated_event", "the last event ends with a blank line", cls="12"),
              rule("data_after_done", "no event follows data: [DONE]", cls="7", severity=Severity.ERROR, compatible=Severity.WARNING,
                   evidence="openai-python stops reading at data: [DONE], so what follows is never seen (fault data_after_done: both SDK replays tolerate it)"),
              rule("not_json", "every data event of a JSON stream is JSON")])
def check_sse_framing(exchange: Exchange) -> Iterator[Violation]:
    for issue in exchange.framing:
        if issue.kind == "missing_done":
            continue  # protocol rule, judged by the protocol's own terminator check
        pointer = f"/exchanges/{exchange.index}/response/raw_sse"
        yield Violation(f"{issue.kind}: {issue.message} (offset {issue.offset})", pointer, cls=FRAMING_CLASS.get(issue.kind), rule=issue.kind if issue.kind in FRAMING_RULES else None)
    for position, event in enumerate(exchange.events or []):
        if event.json is None and event.json_error and not event.is_done and event.data.strip():
            already = any(i.event_index == position for i in exchange.framing)
            if not already:
                yield Violation(f"event data is not JSON ({event.json_error}): {event.data[:80]!r}", exchange.event_ptr(position), cls="12", rule="not_json")


@check(
    cls=None,
    source="WHATWG HTML §9.2; DESIGN.md (keep-alive comments are legal but risky)",
    title="keep-alive comments in a stream",
    severity=Severity.WARNING,
)
def check_sse_comments(exchange: Exchange) -> Iterator[Violation]:
    if exchange.comments:
        yield Violation(f"{len(exchange.comments)} comment line(s) (e.g. keep-alives) in the stream; legal, but some clients mishandle them",
                        f"/exchanges/{exchange.index}/response/raw_sse")


@check(cls=None, source="RFC 9110 §8.3; upstream protocols answer JSON", title="a JSON response says application/json",
       breaks=("openai-node",),
       evidence="both Python SDK replays parse a JSON body served as text/plain, but openai-node returns it as a string, so the reply is unusable (fault json_as_text_plain; tests/test_node_clients.py)", hint='Send Content-Type: application/json with every JSON body, errors included.')
def check_json_content_type(exchange: Exchange) -> Iterator[Violation]:
    media = exchange.content_type.split(";")[0].strip().lower()
    if exchange.is_json and media != "application/json" and not media.endswith("+json"):
        yield Violation(f"JSON body served as {exchange.content_type or 'no content-type'}", exchange.header_ptr("content-type"))


@check(cls=None, source="the profile (the request is documented to succeed)", title="a documented request succeeds")
def check_success_status(exchange: Exchange) -> Iterator[Violation]:
    if exchange.status != 200:
        body = exchange.body if not exchange.is_sse else exchange.raw_sse
        yield Violation(f"status {exchange.status} for a documented request: {str(body)[:200]}", f"/exchanges/{exchange.index}/response/status")


@check(
    cls=None,
    source="issue 18 (secrets in responses); OWASP ASVS V8.3 (sensitive data is not exposed in responses)",
    title="the response does not echo a credential",
    severity=Severity.WARNING,
    evidence="a server that repeats the key (in an error message, a header, a Location, a stream) hands it to every log, "
    "proxy and UI on the way; it was scrubbed from this report before anything was stored",
    rules=[
        rule(
            "unmasked",
            "a successful (2xx) body holds the API key unmasked",
            severity=Severity.ERROR,
            semantic="the credential stays secret: a successful reply that carries the key whole exposes it to everything "
            "that stores or shows replies (chat UIs, logs, caches)",
            evidence="the key was found whole, exactly as sent, in a 2xx response body",
        )
    ],
)
def check_credential_echo(exchange: Exchange) -> Iterator[Violation]:
    if not exchange.secret_echo:
        return
    pointer = f"/exchanges/{exchange.index}/response/secret_echo"
    where = ", ".join(exchange.secret_echo)
    if exchange.secret_echo_unmasked:
        yield Violation(f"status {exchange.status}: the response body holds the API key unmasked (also in: {where}); "
                        "scrubbed before recording", pointer, rule="unmasked")
    else:
        yield Violation(f"the response echoed a configured credential (whole, in pieces or encoded) in: {where}; "
                        "scrubbed before recording", pointer)
