"""Checks of streamed OpenAI chat completions (``chat.completion.chunk`` event sequences)."""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.checks.common import schema_violations
from conformance.checks.openai_chat import FINISH_REASONS
from conformance.findings import Severity, Strictness
from conformance.schemas import SchemaRegistry
from conformance.exchange import Exchange, Rows

STREAM_SOURCE = "CrossModel 000 §Streaming response; openai-python lib/streaming/_deltas.py"


def _memo(exchange: Exchange, name: str, compute: Any) -> Any:
    """Computed once per events list of an exchange: every stream check walks the same chunks,
    and a stream may have a million of them."""
    events = exchange.events or []
    cached = exchange.__dict__.get(name)
    if cached is not None and cached[0] is events and cached[1] == len(events):
        return cached[2]
    value = compute(exchange)
    exchange.__dict__[name] = (events, len(events), value)
    return value


def is_annotation(chunk: Any) -> bool:
    """An event that is not a completion chunk but an annotation of the stream, such as Azure's
    prompt-filter results (id "", object "", created 0, choices []). openai-python's stream helper
    skips exactly these (lib/streaming/chat/_completions.py, _is_valid_chat_completion_chunk_weak:
    object must be 'chat.completion.chunk'); a plain loop over chunk.choices does nothing with them."""
    return isinstance(chunk, dict) and chunk.get("object") != "chat.completion.chunk" and not chunk.get("choices")


def chunks(exchange: Exchange) -> Rows:
    """(event position, chunk) for every completion chunk: JSON objects that are neither errors nor
    annotations (:func:`is_annotation`)."""
    return _memo(exchange, "_stream_chunks", _chunks)


def _chunks(exchange: Exchange) -> Rows:
    positions, values = [], []
    for position, event in exchange.json_events():
        value = event.json
        if type(value) is dict:  # what follows is `not is_annotation(value)`, inline: this runs once per event
            keep = "error" not in value and (value.get("object") == "chat.completion.chunk" or bool(value.get("choices")))
        else:
            keep = isinstance(value, dict) and "error" not in value and not is_annotation(value)
        if keep:
            positions.append(position)
            values.append(value)
    return Rows(positions, values)


def choice_entries(exchange: Exchange) -> Rows:
    """(event position, position in choices, choice) for every choice of every chunk."""
    return _memo(exchange, "_stream_choices", _choice_entries)


def _choice_entries(exchange: Exchange) -> Rows:
    positions: list[int] = []
    ks: list[int] = []
    entries: list[dict[str, Any]] = []
    for position, chunk in chunks(exchange):
        choices = chunk.get("choices")
        if type(choices) is list and len(choices) == 1 and type(choices[0]) is dict:  # the usual chunk
            positions.append(position)
            ks.append(0)
            entries.append(choices[0])
            continue
        for k, choice in enumerate(choices if isinstance(choices, list) else []):
            if isinstance(choice, dict):
                positions.append(position)
                ks.append(k)
                entries.append(choice)
    return Rows(positions, ks, entries)


def streamed_text(exchange: Exchange, field: str = "content") -> dict[int, str]:
    """The concatenated delta text per choice index."""
    pieces: dict[int, list[str]] = {}  # joined once: repeated concatenation is quadratic on long streams
    for _, _, choice in choice_entries(exchange):
        delta = choice.get("delta")
        piece = delta.get(field) if isinstance(delta, dict) else None
        if isinstance(piece, str):
            pieces.setdefault(choice.get("index", 0), []).append(piece)
    texts = {index: "".join(parts) for index, parts in pieces.items()}
    return texts


@check(cls=None, source="CrossModel 000 §Streaming response (returns text/event-stream)", title="a stream is served as text/event-stream", hint='Answer stream: true with Content-Type: text/event-stream.', compatible=Severity.WARNING, evidence="openai-python reads a stream as SSE whatever its content-type (fault stream_wrong_content_type)")
def check_stream_content_type(exchange: Exchange) -> Iterator[Violation]:
    media = exchange.content_type.split(";")[0].strip().lower()
    if media != "text/event-stream":
        yield Violation(f"streamed response served as {exchange.content_type or 'no content-type'!r}", exchange.header_ptr("content-type"))


@check(cls="7", source=STREAM_SOURCE + " (the stream ends with data: [DONE])", title="the stream ends with data: [DONE]", hint='Write "data: [DONE]\\n\\n" after the last chunk of every stream, also when the stream ends early.', compatible=Severity.WARNING, evidence="openai-python ends the stream when the connection closes, with or without data: [DONE] (fault no_done)",
       rules=[
           rule("events_after", "no event follows data: [DONE]"),
       ])
def check_stream_done_terminator(exchange: Exchange) -> Iterator[Violation]:
    events = exchange.events or []
    if not exchange.saw_done:
        yield Violation("the stream closed without 'data: [DONE]'", f"/exchanges/{exchange.index}/response/events")
        return
    last = next(i for i in range(len(events) - 1, -1, -1) if events[i].is_done)  # the last [DONE]
    if last != len(events) - 1:
        yield Violation(f"{len(events) - 1 - last} event(s) after 'data: [DONE]'", f"/exchanges/{exchange.index}/response/events/{last + 1}", rule="events_after")


@check(cls=None, source="OpenAI OpenAPI 2.3.0 CreateChatCompletionStreamResponse", title="every chunk validates against the chunk schema", compatible=Severity.WARNING, evidence="the SDKs construct their models without validating (replayed faults: both tolerate it); what breaks a client is reported by the SDK checks")
def check_chat_chunk_schema(exchange: Exchange, schemas: SchemaRegistry, strictness: Strictness) -> Iterator[Violation]:
    compatible = strictness is Strictness.COMPATIBLE
    name = f"openai/{strictness.value}/chat_chunk"
    known_valid = schemas.known_valid
    for position, event in exchange.json_events():
        value = event.json
        if isinstance(value, dict) and "error" in value:
            continue
        if compatible and is_annotation(value):
            continue  # the letter of the spec says every event is a chunk; the SDK skips annotations
        if known_valid(name, value):
            continue  # the same shape validated already (schema_violations would find nothing)
        yield from schema_violations(schemas, "openai/chat_chunk", strictness, value, exchange.event_ptr(position))


@check(cls="4", source=STREAM_SOURCE + " (first delta carries role: assistant)", title="the first delta of each choice carries the assistant role", breaks=("openai-node",), evidence="openai-python tolerates a first delta without role, but openai-node's stream helper (finalChatCompletion) throws 'missing role for choice 0' (fault first_delta_no_role)")
def check_stream_first_delta_role(exchange: Exchange) -> Iterator[Violation]:
    seen: set[Any] = set()
    for position, k, choice in choice_entries(exchange):
        index = choice.get("index")
        if index in seen:
            continue
        seen.add(index)
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        if delta.get("role") != "assistant":
            yield Violation(f"the first delta of choice {index} has role {delta.get('role')!r}, not 'assistant'", exchange.event_ptr(position, f"/choices/{k}/delta"))


@check(cls="3", source=STREAM_SOURCE + " (the SDK concatenates a repeated role: 'assistantassistant')", title="only the first delta carries the role", hint='Send delta.role = "assistant" in the first chunk of each choice only; later deltas carry content alone.', breaks=("openai-python",), evidence="openai-python concatenates a repeated role: the final message says role 'assistantassistant' (fault repeat_role)")
def check_stream_role_first_only(exchange: Exchange) -> Iterator[Violation]:
    seen: set[Any] = set()
    for position, k, choice in choice_entries(exchange):
        index = choice.get("index")
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        if index in seen and "role" in delta and delta["role"] is not None:
            yield Violation(f"a later delta of choice {index} repeats role {delta['role']!r}", exchange.event_ptr(position, f"/choices/{k}/delta/role"))
            return
        seen.add(index)


@check(cls="8", source=STREAM_SOURCE + " (finish_reason once per choice, on its last chunk)", title="each choice ends with exactly one finish_reason", hint='Set finish_reason on the last chunk of each choice, exactly once (null on every other chunk).', compatible=Severity.WARNING, evidence="openai-python tolerates a missing, empty or repeated finish_reason (faults no_finish_reason, empty_finish_reason, finish_reason_twice)",
       rules=[
           rule("missing", "every choice of a stream ends with a non-empty finish_reason", compatible=Severity.ERROR, breaks=("openai-node",),
                evidence="openai-python tolerates it, but openai-node's stream helper (finalChatCompletion) throws 'missing finish_reason for choice 0' "
                         "on an absent or empty finish_reason (faults no_finish_reason, empty_finish_reason)"),
           rule("repeated", "a choice receives its finish_reason once"),
           rule("unknown", "a streamed finish_reason is one of the documented values"),
           rule("content_after", "no content follows a choice's finish_reason"),
       ])
def check_stream_finish_reason(exchange: Exchange) -> Iterator[Violation]:
    by_index: dict[Any, list[tuple[int, int, dict[str, Any]]]] = {}
    for entry in choice_entries(exchange):
        by_index.setdefault(entry[2].get("index"), []).append(entry)
    if not by_index:
        yield Violation("the stream carried no choice at all", f"/exchanges/{exchange.index}/response/events", rule="missing")
    for index, entries in by_index.items():
        finals = [(p, k, c) for p, k, c in entries if c.get("finish_reason") is not None]
        if not finals:
            yield Violation(f"choice {index} never received a finish_reason", exchange.event_ptr(entries[-1][0], f"/choices/{entries[-1][1]}"), rule="missing")
            continue
        if len(finals) > 1:
            yield Violation(f"choice {index} received finish_reason {len(finals)} times", exchange.event_ptr(finals[1][0], f"/choices/{finals[1][1]}/finish_reason"), rule="repeated")
        position, k, choice = finals[0]
        reason = choice.get("finish_reason")
        if reason == "":
            yield Violation(f"choice {index} ends with an empty finish_reason", exchange.event_ptr(position, f"/choices/{k}/finish_reason"), rule="missing")
        elif reason not in FINISH_REASONS:
            yield Violation(f"finish_reason {reason!r} is not one of {', '.join(FINISH_REASONS)}", exchange.event_ptr(position, f"/choices/{k}/finish_reason"), rule="unknown")
        later = [(p, kk, c) for p, kk, c in entries if p > finals[-1][0] and _has_payload(c)]
        if later:
            yield Violation(f"choice {index} received content after its finish_reason", exchange.event_ptr(later[0][0], f"/choices/{later[0][1]}/delta"), rule="content_after")


def _has_payload(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    return isinstance(delta, dict) and any(delta.get(k) for k in ("content", "tool_calls", "reasoning_content", "refusal"))


@check(cls="10", source=STREAM_SOURCE + " (every chunk has the same id, created and model)", title="id, created and model stay constant within a stream", compatible=Severity.WARNING, evidence="openai-python keeps the first chunk's id, created and model and tolerates a change (fault changing_created, changing_chunk_id, changing_model)",
       rules=[
           rule("created", "created stays constant within a stream"),
           rule("model", "model stays constant within a stream"),
       ])
def check_stream_constant_fields(exchange: Exchange) -> Iterator[Violation]:
    items = chunks(exchange)
    if not items:
        return
    first = items[0][1]
    for field in ("id", "created", "model"):
        if field == "created" and _clock_stamped(exchange, [c.get("created") for _, c in items]):
            continue
        for position, chunk in islice(items, 1, None):
            if field in chunk and field in first and chunk[field] != first[field]:
                yield Violation(f"chunk {field} changed from {first[field]!r} to {chunk[field]!r}", exchange.event_ptr(position, f"/{field}"), rule=None if field == "id" else field)
                break


def _clock_stamped(exchange: Exchange, values: list[Any]) -> bool:
    """True when the created values are what a server stamping each chunk with its clock sends
    while the stream lasts: never decreasing, spanning no more seconds than the exchange took (+1
    for the second boundary). Whether such a stream crosses a second boundary depends on timing
    and load, so it is never a finding: the verdict must not depend on the machine's load."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or values != sorted(values):
        return False
    return values[-1] - values[0] <= (exchange.timings.get("total_s") or 0.0) + 1


@check(cls="6", source="CrossModel 000 §Streaming response (include_usage: a final chunk with empty choices and usage)", title="include_usage gives one final usage chunk with choices: []",
       semantic="stream_options.include_usage asked for one final usage chunk with choices: []",
       rules=[rule("not_last", "the usage chunk is the last chunk"),
              rule("several", "only one chunk carries usage"),
              rule("with_choices", "the usage chunk still carries a choice", severity=Severity.ERROR, compatible=Severity.WARNING, cls="5",
                   evidence="openai-python's stream helper takes snapshot.usage from every chunk whatever its choices "
                            "(lib/streaming/chat/_completions.py _accumulate_chunk); the usage asked for is delivered")])
def check_stream_include_usage(exchange: Exchange) -> Iterator[Violation]:
    items = chunks(exchange)
    with_usage = [(p, c) for p, c in items if c.get("usage") is not None]
    events_ptr = f"/exchanges/{exchange.index}/response/events"
    if not with_usage:
        yield Violation("stream_options.include_usage was set but no chunk carried usage", events_ptr)
        return
    last_position, last_chunk = items[-1]
    if with_usage[-1][0] != last_position:
        yield Violation("the usage chunk is not the last chunk before [DONE]", exchange.event_ptr(with_usage[-1][0], "/usage"), rule="not_last")
    if len(with_usage) > 1:
        yield Violation(f"{len(with_usage)} chunks carry usage; only the final chunk may", exchange.event_ptr(with_usage[0][0], "/usage"), rule="several")
    position, chunk = with_usage[-1]
    if chunk.get("choices") != []:
        yield Violation("the usage chunk does not have 'choices': [] (clients index choices[0] of every other chunk)", exchange.event_ptr(position, "/choices"), rule="with_choices")


@check(cls="5", source="CrossModel 000 §Streaming response (usage only with include_usage)", title="no usage in a stream that did not ask for it", compatible=Severity.WARNING, evidence="openai-python tolerates usage it did not ask for (fault usage_when_not_asked)")
def check_stream_no_unrequested_usage(exchange: Exchange) -> Iterator[Violation]:
    for position, chunk in chunks(exchange):
        if chunk.get("usage") is not None:
            yield Violation("a chunk carries usage although stream_options.include_usage was not set", exchange.event_ptr(position, "/usage"))
            return


@check(cls="6", source="CrossModel 000 §Request parameters (stream_options supports include_usage)", title="stream_options is accepted")
def check_stream_options_accepted(exchange: Exchange) -> Iterator[Violation]:
    if exchange.status != 200:
        yield Violation(f"a streamed request with stream_options.include_usage was answered {exchange.status}", f"/exchanges/{exchange.index}/response/status")


def streamed_calls(exchange: Exchange) -> dict[tuple[Any, Any], dict[str, Any]]:
    """(choice index, call index) -> the call assembled from its deltas, the way the SDK does."""
    calls: dict[tuple[Any, Any], dict[str, Any]] = {}
    for position, k, choice in choice_entries(exchange):
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        for part in delta.get("tool_calls") or []:
            if not isinstance(part, dict) or not isinstance(part.get("index"), int):
                continue
            call = calls.setdefault((choice.get("index"), part["index"]), {"id": "", "name": "", "arguments": "", "pointer": exchange.event_ptr(position, f"/choices/{k}/delta/tool_calls")})
            function = part.get("function") if isinstance(part.get("function"), dict) else {}
            call["id"] += part.get("id") or ""
            call["name"] += function.get("name") or ""
            arguments = function.get("arguments")
            call["arguments"] += arguments if isinstance(arguments, str) else ""
            if arguments is not None and not isinstance(arguments, str):
                call["not_string"] = True
    return calls


def reply_structure(exchange: Exchange) -> dict[Any, tuple[Any, ...]]:
    """choice index → (kind, tool names, finish_reason) of a reply or a stream: what a client
    branches on, as opposed to the wording a non-deterministic model may vary."""
    out: dict[Any, tuple[Any, ...]] = {}
    if exchange.is_sse:
        calls: dict[Any, list[str]] = {}
        for (index, _), call in streamed_calls(exchange).items():
            calls.setdefault(index, []).append(call.get("name"))
        finishes: dict[Any, Any] = {}
        for _, _, choice in choice_entries(exchange):
            finishes.setdefault(choice.get("index"), None)
            if choice.get("finish_reason") is not None:
                finishes[choice.get("index")] = choice["finish_reason"]
        for index, finish in finishes.items():
            names = tuple(calls.get(index, ()))
            out[index] = ("tool_calls" if names else "text", names, finish)
        return out
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        names = tuple((c.get("function") or {}).get("name") for c in message.get("tool_calls") or [] if isinstance(c, dict))
        out[choice.get("index", position)] = ("tool_calls" if names else "text", names, choice.get("finish_reason"))
    return out


def reply_wording(exchange: Exchange) -> dict[Any, str]:
    """choice index → the reply's text (streamed deltas concatenated)."""
    if exchange.is_sse:
        return streamed_text(exchange)
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    return {(c or {}).get("index", k): (((c or {}).get("message") or {}).get("content") or "")
            for k, c in enumerate(choices if isinstance(choices, list) else []) if isinstance(c, dict)}


def wording_difference(streamed: str, plain: str) -> str:
    """Where two texts part: 'streamed '…x' but non-streamed '…y'' around the first difference."""
    at = next((k for k, (a, b) in enumerate(zip(streamed, plain)) if a != b), min(len(streamed), len(plain)))
    start = max(0, at - 30)
    lead = "…" if start else ""
    return f"streamed {lead + streamed[start:at + 50]!r} but non-streamed {lead + plain[start:at + 50]!r} (from character {at})"


@check(cls=None, source="CrossModel 000 §Streaming response (concatenate every delta.content to rebuild the reply)",
       title="the streamed reply has the structure of the non-streamed one (choices, tool calls, finish_reason)",
       semantic="the same request streamed must deliver the same kind of answer: the choices, tool calls and finish_reason a client acts on",
       rules=[rule("wording", "the streamed reply's wording equals the non-streamed one for a deterministic request", severity=Severity.WARNING,
                   evidence="a WARN: wording can differ between two generations of a model, even when it repeated itself once")])
def check_stream_matches_nonstream(streamed: Exchange, plain: Exchange, compare_wording: bool = True) -> Iterator[Violation]:
    """Structure differences are FAILs; wording differences (only when ``compare_wording``: the
    target repeated its non-streamed reply word for word) are WARNs."""
    events = f"/exchanges/{streamed.index}/response/events"
    got, expected = reply_structure(streamed), reply_structure(plain)
    if set(got) != set(expected):
        yield Violation(f"the stream carried choices {sorted(got, key=str)}, the non-streamed reply {sorted(expected, key=str)}", events)
        return
    for index in sorted(expected, key=str):
        if got[index] != expected[index]:
            labels = ("kind", "tool calls", "finish_reason")
            diffs = [f"{label} {a!r} vs {b!r}" for label, a, b in zip(labels, got[index], expected[index]) if a != b]
            yield Violation(f"choice {index}: the stream differs from the non-streamed reply in structure: {'; '.join(diffs)} (streamed vs not)", events)
    if not compare_wording:
        return
    texts, plain_texts = reply_wording(streamed), reply_wording(plain)
    for index, expected_text in plain_texts.items():
        got_text = texts.get(index, "")
        if got_text != expected_text:
            yield Violation(f"choice {index}: {wording_difference(got_text, expected_text)} "
                            "(wording only: a non-deterministic model can do this)", events, rule="wording")


@check(cls="11", source="incompatibilities.md class 11; OpenAI errors are answered before the stream starts", title="an error before the stream is an HTTP error, not a 200 stream", hint='Validate the request before starting the stream and answer a 4xx JSON error instead of a 200 stream.',
       rules=[
           rule("as_stream", "an error answer is a JSON body, not an event stream"),
       ])
def check_error_before_stream(exchange: Exchange) -> Iterator[Violation]:
    if exchange.status == 200:
        yield Violation("a request that cannot succeed was answered 200 (as an event stream)", f"/exchanges/{exchange.index}/response/status")
    elif exchange.is_sse:
        yield Violation(f"the error (status {exchange.status}) was sent as an event stream instead of a JSON body", exchange.header_ptr("content-type"), rule="as_stream")
