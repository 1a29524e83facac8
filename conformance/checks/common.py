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


@check(cls="12", source="WHATWG HTML §9.2 Server-sent events; openai-python _streaming.py", title="the stream is well-framed Server-Sent Events",
       rules=[
           rule("line_without_field", "every line of the stream is an SSE field or a comment", cls="11"),
           rule("empty_data", "no event carries empty data (a keep-alive belongs in a comment)"),
           rule("unterminated_event", "the last event ends with a blank line", cls="12"),
           rule("data_after_done", "no event follows data: [DONE]", cls="7"),
           rule("not_json", "every data event of a JSON stream is JSON"),
       ])
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


@check(cls=None, source="RFC 9110 §8.3; upstream protocols answer JSON", title="a JSON response says application/json", hint='Send Content-Type: application/json with every JSON body, errors included.')
def check_json_content_type(exchange: Exchange) -> Iterator[Violation]:
    media = exchange.content_type.split(";")[0].strip().lower()
    if exchange.is_json and media != "application/json" and not media.endswith("+json"):
        yield Violation(f"JSON body served as {exchange.content_type or 'no content-type'}", exchange.header_ptr("content-type"))


@check(cls=None, source="the profile (the request is documented to succeed)", title="a documented request succeeds")
def check_success_status(exchange: Exchange) -> Iterator[Violation]:
    if exchange.status != 200:
        body = exchange.body if not exchange.is_sse else exchange.raw_sse
        yield Violation(f"status {exchange.status} for a documented request: {str(body)[:200]}", f"/exchanges/{exchange.index}/response/status")
