"""Named tolerances of the reference server: legal variations, the mirror image of faults.

A fault breaks exactly one rule and proves that the rule can fire; a tolerance is something real
servers do and the official SDKs accept, and proves that the suite stays silent on it. A tolerance
is switched on for the whole server (``conformance serve --tolerance NAME``, ``conformance run
--tolerance NAME``) or for one request (header ``x-conformance-tolerance: NAME[,NAME...]``); several
combine. Each declares:

- ``risky``: the rules that may WARN in the compatible reading (legal, but a client could
  mishandle it); a rule id, or a check's prefix covering all its rules (``stream_constant_fields``
  covers ``stream_constant_fields.created``). Nothing may FAIL in the compatible reading.
- ``strict_rules``: the rules the strict reading (the letter of the spec) is expected to FAIL,
  matched the same way; exactly these, no other.
- ``select``: a pytest ``-k`` expression choosing the cases that exercise it (the proof runs each
  tolerance alone on these, and all compatible tolerances together on the whole suite).
- ``evidence``: why it is legal — what the official SDKs do with it (read in their code).
- ``conflicts``: tolerances that must not be combined with it (together they break a client, or
  both rewrite the same thing); ``alone``: never in the combined proof run (it only slows it).
- ``profiles``: the profiles its own proof runs under (when the variation is legal only where the
  profile leaves something open, e.g. an error code it does not document).

The transformations live in :mod:`conformance.reference.tolerate` (an ASGI layer over the
conformant server, so the endpoints stay conformant by construction).
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE_HEADER = "x-conformance-tolerance"


@dataclass(frozen=True)
class Tolerance:
    name: str
    protocol: str  # openai | anthropic | both
    description: str
    evidence: str
    risky: tuple[str, ...] = ()
    strict_rules: tuple[str, ...] = ()
    select: str = ""
    conflicts: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()  # profiles its proof runs under (default: the embedded defaults)
    alone: bool = False  # never part of the combined proof run (it slows every case down)

    def covers(self, rule: str, names: tuple[str, ...]) -> bool:
        return any(rule == n or rule.startswith(n + ".") for n in names)


TOLERANCES: dict[str, Tolerance] = {}


def tolerance(name: str, protocol: str, description: str, evidence: str, *, risky=(), strict_rules=(), select: str = "", conflicts=(), profiles=(),
              alone: bool = False) -> Tolerance:
    if name in TOLERANCES:
        raise RuntimeError(f"tolerance {name!r} declared twice")
    item = Tolerance(name, protocol, description, evidence, tuple(risky), tuple(strict_rules), select, tuple(conflicts), tuple(profiles), alone)
    TOLERANCES[name] = item
    return item


def active_tolerances(server: frozenset[str], header_value: str | None) -> frozenset[str]:
    requested = {part.strip() for part in (header_value or "").split(",") if part.strip()}
    return server | requested


def check_names(names) -> None:
    """Refuse an unknown tolerance, or two that cannot be combined (one line, exit 2)."""
    from conformance.errors import ConfigError

    for name in names:
        if name not in TOLERANCES:
            raise ConfigError(f"unknown tolerance '{name}' (see 'conformance tolerances')")
    for name in names:
        clash = [other for other in TOLERANCES[name].conflicts if other in names]
        if clash:
            raise ConfigError(f"tolerances '{name}' and '{clash[0]}' cannot be combined (together they break a client; see 'conformance tolerances')")


def compatible_set() -> list[str]:
    """The tolerances that can all be switched on together (the first of each conflicting pair)."""
    chosen: list[str] = []
    for name in sorted(TOLERANCES):
        if TOLERANCES[name].alone:
            continue
        if not any(name in TOLERANCES[c].conflicts or c in TOLERANCES[name].conflicts for c in chosen):
            chosen.append(name)
    return chosen


OPENAI_STREAM = "openai_chat and stream"
SSE = "test_stream"  # the stream modules of both protocols
BODIES = "basic or error or models or test_reply or stream_free_text or test_stream_include_usage"  # every kind of JSON body, a stream of each protocol
ANTHROPIC_STREAM = "anthropic_messages and stream"
OPENAI_SDK = "openai-python"
ANTHROPIC_SDK = "anthropic-python"

# -- Server-Sent Events framing (both protocols) ------------------------------------------------------
tolerance("sse_comments", "both", "':' comment lines (keep-alives) before, between and inside events",
          "WHATWG SSE: a line starting with ':' is ignored; openai-python/anthropic-python SSEDecoder.decode return None for it",
          risky=("sse_comments",), strict_rules=(), select=SSE, conflicts=("sse_event_ids",))
tolerance("sse_unknown_fields", "both", "lines with unknown field names ('x-vendor: 1') inside events",
          "WHATWG SSE: a field with an unknown name is ignored; the SDK decoders drop it",
          select=SSE)
tolerance("sse_event_ids", "both", "'id:' and 'retry:' lines on every data event",
          "WHATWG SSE fields; the SDK decoders keep them on the event and parse only data. "
          "Not with standalone comment blocks: openai-python keeps last_event_id and then dispatches an empty event",
          select=SSE, conflicts=("sse_comments",))
tolerance("sse_crlf", "both", "CRLF line endings in the stream",
          "WHATWG SSE: CRLF, LF and CR all end a line; _SSELineDecoder splits on all three",
          select=SSE)
tolerance("sse_no_space", "both", "'data:{...}' without the optional space after the colon",
          "WHATWG SSE: one space after the colon is optional; SSEDecoder.decode strips it only when present",
          select=SSE)
tolerance("sse_multiline_data", "both", "each event's JSON pretty-printed over several 'data:' lines",
          "WHATWG SSE: data lines are joined with '\\n'; the SDK decoders do the same and json.loads the result",
          select=SSE)

# -- OpenAI chat completions ------------------------------------------------------------------------
tolerance("prompt_filter_chunk", "openai", "an Azure-style first chunk: id '', object '', created 0, choices [] and prompt_filter_results",
          "openai-python lib/streaming/chat/_completions.py _is_valid_chat_completion_chunk_weak skips chunks whose object is not "
          "'chat.completion.chunk' (comment: Azure OpenAI asynchronous filter); a loop over chunk.choices does nothing",
          strict_rules=("chat_chunk_schema",), select=OPENAI_STREAM)
tolerance("tool_call_type_repeated", "openai", "type: 'function' repeated on every streamed tool-call delta",
          "openai-python lib/streaming/_deltas.py accumulate_delta overwrites 'type' (and 'index') instead of concatenating",
          risky=("stream_tool_call_header_once",), strict_rules=("stream_tool_call_header_once",), select="openai_chat and stream and tool")
tolerance("created_ticks", "openai", "every chunk stamped with the server clock, which ticks a second per chunk",
          "openai-python keeps the first chunk's created in the snapshot and ignores the others",
          risky=("stream_constant_fields",), strict_rules=("stream_constant_fields",), select=OPENAI_STREAM)
tolerance("created_clock", "openai", "every chunk stamped with the server clock when it is sent (seconds cross a boundary mid-stream on a busy server)",
          "openai-python keeps the first chunk's created; a clock-stamped stream is legal whatever the load, so it is never a finding",
          select=OPENAI_STREAM, conflicts=("created_ticks",))
tolerance("slow_stream", "both", "each event written 40 ms after the previous one, as by a loaded server",
          "timing is not part of either protocol; the SDKs read events as they come",
          select="openai_chat and test_stream and not tool and not logprobs", alone=True)
tolerance("omit_nullables", "openai", "null-valued optional keys omitted: logprobs, refusal, finish_reason on non-final chunks, system_fingerprint, service_tier",
          "openai-python models declare these Optional with default None: an absent key reads as None",
          strict_rules=("chat_chunk_schema", "chat_response_schema"), select="openai_chat and (basic or test_stream or logprobs)")
tolerance("usage_with_last_choice", "openai", "with include_usage, usage rides on the last chunk that still carries its choice (no separate usage chunk)",
          "openai-python ChatCompletionStreamState sets snapshot.usage from every chunk, whatever its choices",
          risky=("stream_include_usage",), strict_rules=("stream_include_usage",), select="include_usage")
tolerance("openai_error_code_int", "openai", "error bodies with an integer 'code' (the status) where the profile documents no code, and no 'param'",
          "openai-python APIError.__init__ reads code and param from the error mapping with .get and keeps whatever it finds",
          risky=("error_shape",), strict_rules=("error_shape",), select="openai_chat and error", profiles=("openai", "anthropic"))
tolerance("stream_obfuscation", "openai", "an 'obfuscation' padding string on every chunk",
          "OpenAI sends it on streams; openai-python _convert_initial_chunk_into_snapshot pops 'obfuscation'",
          select=OPENAI_STREAM)

# -- both protocols: JSON bodies ----------------------------------------------------------------------
tolerance("extra_fields", "both", "an unknown extra field in every object of every body and event",
          "the SDK models are built with construct (no validation) and keep unknown fields as extras",
          select=BODIES)
tolerance("reversed_keys", "both", "every object's keys in reverse order",
          "JSON objects are unordered (RFC 8259 §4); the SDKs read keys by name",
          select=BODIES)
tolerance("gzip_json", "both", "JSON bodies gzip-compressed (content-encoding: gzip)",
          "httpx (under both SDKs) sends accept-encoding: gzip and decodes the body",
          select=BODIES)
tolerance("chunked_json", "both", "JSON bodies sent in several pieces with chunked transfer encoding (no content-length)",
          "HTTP/1.1 chunked transfer coding; httpx reassembles it",
          select=BODIES)
tolerance("usage_details", "both", "usage with every details object (and a detail the SDK does not know)",
          "openai-python CompletionUsage / anthropic-python Usage declare the details Optional and keep extras",
          select=BODIES)

# -- Anthropic messages -----------------------------------------------------------------------------
tolerance("anthropic_ping_anywhere", "anthropic", "ping events before message_start and between all events",
          "anthropic-python _streaming.py Stream.__stream__: `if sse.event == \"ping\": continue`",
          select=ANTHROPIC_STREAM)
tolerance("anthropic_tool_start_no_input", "anthropic", "a tool_use content_block_start without its 'input: {}'",
          "anthropic-python lib/streaming/_messages.py builds the input from the input_json_delta buffer, not from the start block",
          risky=("stream_event_schema", "stream_tool_input"), strict_rules=("stream_event_schema",), select="anthropic_messages and stream and tool")
tolerance("anthropic_any_version", "anthropic", "any date-shaped anthropic-version accepted (a request without one: as the profile documents)",
          "anthropic-python always sends its own version; the server answering an unknown date is the server's call",
          select="anthropic_messages and version")
tolerance("anthropic_unknown_event", "anthropic", "an event type the client does not know ('vendor_heartbeat') between events",
          "Anthropic API versioning: new event types may be added and clients should ignore them; anthropic-python yields it "
          "and MessageStream's accumulate_event leaves the snapshot unchanged",
          select=ANTHROPIC_STREAM)

# -- the model ------------------------------------------------------------------------------------
tolerance("verbose_model", "both", "a verbose model: ~200 tokens of notes in every tool call's arguments (a small token budget cuts the call: finish_reason length / stop_reason max_tokens)",
          "a reply cut by the token limit is legal; what it leaves incomplete is inconclusive, never a FAIL",
          select="tool_call or tool_use or tool_round_trip")
