"""The project's own JSON Schemas for Anthropic Messages (specs/schemas/anthropic/).

Every schema must be a valid 2020-12 schema, resolvable from one registry of all the
project's schemas keyed by $id (no network), and must accept the documented examples and
reject one example per important rule, in both readings (compatible and strict).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS_ROOT = Path(__file__).resolve().parent.parent / "specs" / "schemas"
ANTHROPIC_ROOT = SCHEMAS_ROOT / "anthropic"
BASE_ID = "https://conformance.local/schemas/anthropic"
READINGS = ("compatible", "strict")
NAMES = (
    "messages_request",
    "message",
    "error",
    "stream_event",
    "event_message_start",
    "event_content_block_start",
    "event_content_block_delta",
    "event_content_block_stop",
    "event_message_delta",
    "event_message_stop",
    "event_ping",
    "event_error",
)
OUR_FILES = [ANTHROPIC_ROOT / reading / f"{name}.json" for reading in READINGS for name in NAMES]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _build_registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS_ROOT.rglob("*.json")):
        try:
            contents = _load(path)
        except ValueError:
            if ANTHROPIC_ROOT in path.parents:
                raise
            continue  # another protocol's file, not ours to assert about
        if not isinstance(contents, dict) or "$id" not in contents:
            continue
        resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


REGISTRY = _build_registry()


def validator(reading: str, name: str) -> Draft202012Validator:
    schema = REGISTRY.contents(f"{BASE_ID}/{reading}/{name}.json")
    return Draft202012Validator(schema, registry=REGISTRY)


def errors(reading: str, name: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator(reading, name).iter_errors(instance)
    ]


# --------------------------------------------------------------------------- the files


@pytest.mark.parametrize("path", OUR_FILES, ids=lambda p: f"{p.parent.name}/{p.name} exists and is a valid 2020-12 schema")
def test_schema_file_is_valid_2020_12(path: Path) -> None:
    assert path.is_file(), f"missing {path}"
    schema = _load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    reading = path.parent.name
    assert schema["$id"] == f"{BASE_ID}/{reading}/{path.name}"
    assert schema.get("title") and schema.get("description")


def test_every_anthropic_schema_file_is_one_of_ours() -> None:
    found = sorted(ANTHROPIC_ROOT.rglob("*.json"))
    assert found == sorted(OUR_FILES)


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize("path", OUR_FILES, ids=lambda p: f"every $ref of {p.parent.name}/{p.name} resolves in the registry")
def test_every_ref_resolves(path: Path) -> None:
    schema = _load(path)
    resolver = REGISTRY.resolver(base_uri=schema["$id"])
    for ref in _refs(schema):
        resolver.lookup(ref)  # raises if unresolvable


@pytest.mark.parametrize("path", OUR_FILES, ids=lambda p: f"every x-class in {p.parent.name}/{p.name} names a class of incompatibilities.md")
def test_x_class_values_are_known_classes(path: Path) -> None:
    def walk(node: Any):
        if isinstance(node, dict):
            if "x-class" in node:
                yield node["x-class"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for value in walk(_load(path)):
        assert isinstance(value, str) and value.isdigit() and 1 <= int(value) <= 27, value


# --------------------------------------------------------------------------- examples

# CrossModel 003 §Response
RESPONSE_003 = {
    "id": "msg_abc123",
    "type": "message",
    "role": "assistant",
    "model": "anthropic/claude-sonnet-4.6",
    "content": [{"type": "text", "text": "Hello! How can I help?"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 18,
        "output_tokens": 14,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}

# CrossModel 003 §Errors
ERROR_003 = {"type": "error", "error": {"type": "authentication_error", "message": "Missing API key."}}

TOOL_USE_RESPONSE = {
    "id": "msg_01Tool",
    "type": "message",
    "role": "assistant",
    "model": "anthropic/claude-sonnet-4.6",
    "content": [
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": "sig=="},
        {"type": "text", "text": "Let me check.", "citations": None},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 120,
        "output_tokens": 40,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
        "service_tier": "standard",
    },
}


def _message_start(**overrides: Any) -> dict[str, Any]:
    message = {
        "id": "msg_01Stream",
        "type": "message",
        "role": "assistant",
        "model": "anthropic/claude-sonnet-4.6",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    message.update(overrides)
    return {"type": "message_start", "message": message}


TEXT_STREAM = [
    _message_start(),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    },
    {"type": "message_stop"},
]

TOOL_USE_STREAM = [
    _message_start(),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Need weather."}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCkYI"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Checking."}},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {
            "type": "citations_delta",
            "citation": {
                "type": "char_location",
                "cited_text": "Paris",
                "document_index": 0,
                "document_title": None,
                "start_char_index": 0,
                "end_char_index": 5,
            },
        },
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}},
    },
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"city": "Pa'}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": 'ris"}'}},
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 89, "input_tokens": 12, "cache_read_input_tokens": None},
    },
    {"type": "message_stop"},
]

STREAM_ERROR_EVENT = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

REQUEST_003 = {
    "model": "anthropic/claude-sonnet-4.6",
    "max_tokens": 1024,
    "system": "You are a helpful assistant.",
    "messages": [{"role": "user", "content": "Hello!"}],
}

FULL_REQUEST = {
    "model": "anthropic/claude-sonnet-4.6",
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "You are terse."}],
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 40,
    "stop_sequences": ["END"],
    "stream": True,
    "metadata": {"user_id": "user-123"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "tools": [
        {
            "name": "get_weather",
            "description": "Get current weather for a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ],
    "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture, and the weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny", "is_error": False},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": [{"type": "text", "text": "ok"}],
                    "is_error": True,
                },
            ],
        },
    ],
}

DOCUMENT_REQUEST = {
    "model": "anthropic/claude-sonnet-4.6",
    "max_tokens": 64,
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
                    "title": "a one-page PDF",
                },
                {"type": "text", "text": "Summarise the document."},
            ],
        }
    ],
}


def _with(base: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """A deep copy of base with the value at a slash-separated path replaced (or removed if value is _DROP)."""
    doc = copy.deepcopy(base)
    *parents, last = pointer.split("/")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is _DROP:
        del node[key]
    else:
        node[key] = value
    return doc


_DROP = object()

# (description, schema name, instance): valid in both readings
POSITIVE_BOTH = [
    ("the CrossModel 003 response example is a valid message", "message", RESPONSE_003),
    ("a tool_use reply with thinking, text and tool_use blocks is a valid message", "message", TOOL_USE_RESPONSE),
    ("a message with unknown extra fields is valid", "message", {**RESPONSE_003, "vendor_trace": {"x": 1}}),
    (
        "a server_tool_use block is a valid content block",
        "message",
        _with(RESPONSE_003, "content", [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}]),
    ),
    ("a redacted_thinking block is a valid content block", "message", _with(RESPONSE_003, "content", [{"type": "redacted_thinking", "data": "EmwK"}])),
    ("a message with empty content is valid", "message", _with(RESPONSE_003, "content", [])),
    ("each newer stop_reason value is valid (refusal)", "message", _with(RESPONSE_003, "stop_reason", "refusal")),
    (
        "stop_reason model_context_window_exceeded is valid",
        "message",
        _with(RESPONSE_003, "stop_reason", "model_context_window_exceeded"),
    ),
    ("the CrossModel 003 error example is a valid error body", "error", ERROR_003),
    ("an error body with request_id is valid", "error", {**ERROR_003, "request_id": "req_011CS"}),
    ("an overloaded_error stream event is a valid error event", "event_error", STREAM_ERROR_EVENT),
    ("message_start with stop_reason null is valid", "event_message_start", _message_start()),
    (
        "content_block_start of a tool_use block with input {} is valid",
        "event_content_block_start",
        TOOL_USE_STREAM[9],
    ),
    ("message_delta with only usage.output_tokens is valid", "event_message_delta", TEXT_STREAM[6]),
    ("the CrossModel 003 request example is a valid request", "messages_request", REQUEST_003),
    ("a request with every documented parameter and block is valid", "messages_request", FULL_REQUEST),
    ("a request with a document block is well-formed", "messages_request", DOCUMENT_REQUEST),
    (
        "a request with tool_choice any and thinking adaptive is valid",
        "messages_request",
        {**REQUEST_003, "tool_choice": {"type": "any"}, "thinking": {"type": "adaptive"}},
    ),
    ("a request with thinking disabled is valid", "messages_request", {**REQUEST_003, "thinking": {"type": "disabled"}}),
    (
        "a request declaring a typed server tool without input_schema is valid",
        "messages_request",
        {**REQUEST_003, "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]},
    ),
    ("a request whose system is an array of text blocks is valid", "messages_request", {**REQUEST_003, "system": [{"type": "text", "text": "Be brief."}]}),
] + [
    (f"event {i} of a realistic text stream ({event['type']}) is a valid stream event", "stream_event", event)
    for i, event in enumerate(TEXT_STREAM)
] + [
    (f"event {i} of a realistic tool_use stream ({event['type']}) is a valid stream event", "stream_event", event)
    for i, event in enumerate(TOOL_USE_STREAM)
] + [
    ("an error event is a valid stream event", "stream_event", STREAM_ERROR_EVENT),
]

# valid in compatible, invalid in strict: the documented difference between the readings
COMPATIBLE_ONLY = [
    ("a message without stop_reason and stop_sequence", "message", _with(_with(RESPONSE_003, "stop_reason", _DROP), "stop_sequence", _DROP)),
    ("a non-streamed message with stop_reason null", "message", _with(RESPONSE_003, "stop_reason", None)),
    (
        "a message whose usage omits the cache counters",
        "message",
        _with(RESPONSE_003, "usage", {"input_tokens": 18, "output_tokens": 14}),
    ),
    ("a message with a content block of an unknown type", "message", _with(RESPONSE_003, "content", [{"type": "vendor_block", "x": 1}])),
    (
        "message_start whose message omits stop_reason",
        "event_message_start",
        {"type": "message_start", "message": {k: v for k, v in _message_start()["message"].items() if k != "stop_reason"}},
    ),
    (
        "content_block_start with a block of an unknown type",
        "event_content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "vendor_block"}},
    ),
    ("message_delta with stop_reason null", "event_message_delta", _with(TEXT_STREAM[6], "delta/stop_reason", None)),
    ("message_delta with an empty delta", "event_message_delta", _with(TEXT_STREAM[6], "delta", {})),
    ("an error body with a vendor error type", "error", _with(ERROR_003, "error/type", "upstream_error")),
    ("an error stream event with a vendor error type", "event_error", _with(STREAM_ERROR_EVENT, "error/type", "upstream_error")),
    ("a stream event of an unknown type", "stream_event", {"type": "vendor_heartbeat"}),
    (
        "a request with thinking budget_tokens below 1024",
        "messages_request",
        {**REQUEST_003, "thinking": {"type": "enabled", "budget_tokens": 512}},
    ),
    (
        "a request with a custom tool without input_schema",
        "messages_request",
        {**REQUEST_003, "tools": [{"name": "noop", "description": "does nothing"}]},
    ),
    (
        "a request with a content block of an unknown type",
        "messages_request",
        _with(REQUEST_003, "messages/0/content", [{"type": "vendor_block"}]),
    ),
    (
        "a request with a custom tool whose input_schema is not of type object",
        "messages_request",
        {**REQUEST_003, "tools": [{"name": "f", "input_schema": {"type": "array"}}]},
    ),
    (
        "a request whose tool_result content holds a tool_use block",
        "messages_request",
        _with(
            FULL_REQUEST,
            "messages/2/content/1/content",
            [{"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}],
        ),
    ),
    (
        "a request with an image source of type file",
        "messages_request",
        _with(REQUEST_003, "messages/0/content", [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}]),
    ),
]

# invalid in both readings: one per important rule
NEGATIVE_BOTH = [
    (
        "an OpenAI-shaped error body is not an Anthropic error",
        "error",
        {"error": {"message": "Missing API key.", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
    ),
    ("an error body whose error lacks message is invalid", "error", {"type": "error", "error": {"type": "api_error"}}),
    ("a bare string error is invalid", "error", "Internal Server Error"),
    (
        "an OpenAI-shaped error inside a stream is not a valid error event",
        "stream_event",
        {"type": "error", "error": {"message": "boom", "code": 500}},
    ),
    ("message_delta without usage is invalid", "event_message_delta", _with(TEXT_STREAM[6], "usage", _DROP)),
    ("message_delta without usage.output_tokens is invalid", "event_message_delta", _with(TEXT_STREAM[6], "usage", {"input_tokens": 12})),
    ("message_delta with usage.output_tokens null is invalid", "event_message_delta", _with(TEXT_STREAM[6], "usage/output_tokens", None)),
    (
        "content_block_delta with an unknown delta type is invalid",
        "event_content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "vendor_delta", "text": "x"}},
    ),
    (
        "content_block_delta text_delta without text is invalid",
        "event_content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
    ),
    (
        "input_json_delta with an object instead of partial_json text is invalid",
        "event_content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": {"city": "Paris"}}},
    ),
    (
        "content_block_delta without index is invalid",
        "event_content_block_delta",
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
    ),
    ("content_block_start with a negative index is invalid", "event_content_block_start", _with(TEXT_STREAM[1], "index", -1)),
    ("content_block_stop with a string index is invalid", "event_content_block_stop", {"type": "content_block_stop", "index": "0"}),
    (
        "tool_use with input as a JSON string is invalid",
        "message",
        _with(TOOL_USE_RESPONSE, "content/2/input", '{"city": "Paris"}'),
    ),
    (
        "content_block_start tool_use with input as a string is invalid",
        "stream_event",
        _with(TOOL_USE_STREAM[9], "content_block/input", ""),
    ),
    ("stop_reason not in the enum is invalid", "message", _with(RESPONSE_003, "stop_reason", "stop")),
    ("message_delta stop_reason not in the enum is invalid", "event_message_delta", _with(TEXT_STREAM[6], "delta/stop_reason", "length")),
    ("a message with role user is invalid", "message", _with(RESPONSE_003, "role", "user")),
    ("a message with type chat.completion is invalid", "message", _with(RESPONSE_003, "type", "chat.completion")),
    ("a message without usage is invalid", "message", _with(RESPONSE_003, "usage", _DROP)),
    ("a message without id is invalid", "message", _with(RESPONSE_003, "id", _DROP)),
    ("usage without output_tokens is invalid", "message", _with(RESPONSE_003, "usage/output_tokens", _DROP)),
    ("usage with negative input_tokens is invalid", "message", _with(RESPONSE_003, "usage/input_tokens", -1)),
    ("usage with a string token count is invalid", "message", _with(RESPONSE_003, "usage/output_tokens", "14")),
    ("a text block without text is invalid", "message", _with(RESPONSE_003, "content/0", {"type": "text"})),
    (
        "a thinking block without signature is invalid",
        "message",
        _with(RESPONSE_003, "content", [{"type": "thinking", "thinking": "hm"}]),
    ),
    ("content as a string is invalid in a response", "message", _with(RESPONSE_003, "content", "Hello!")),
    ("message_start with usage null is invalid", "event_message_start", _message_start(usage=None)),
    ("message_start without usage is invalid", "event_message_start", _with(_message_start(), "message/usage", _DROP)),
    ("message_start without message is invalid", "event_message_start", {"type": "message_start"}),
    ("an OpenAI chunk is not a valid stream event", "stream_event", {"object": "chat.completion.chunk", "choices": []}),
    ("message_stop of the wrong type is invalid", "event_message_stop", {"type": "message_end"}),
    ("ping of the wrong type is invalid", "event_ping", {"type": "keepalive"}),
    (
        "a request message with role system is invalid",
        "messages_request",
        _with(REQUEST_003, "messages/0/role", "system"),
    ),
    ("a request without max_tokens is invalid", "messages_request", _with(REQUEST_003, "max_tokens", _DROP)),
    ("a request with max_tokens 0 is invalid", "messages_request", _with(REQUEST_003, "max_tokens", 0)),
    ("a request without messages is invalid", "messages_request", _with(REQUEST_003, "messages", _DROP)),
    ("a request with an empty messages array is invalid", "messages_request", _with(REQUEST_003, "messages", [])),
    ("a request without model is invalid", "messages_request", _with(REQUEST_003, "model", _DROP)),
    (
        "tool_choice tool without name is invalid",
        "messages_request",
        {**REQUEST_003, "tool_choice": {"type": "tool"}},
    ),
    ("tool_choice of an unknown type is invalid", "messages_request", {**REQUEST_003, "tool_choice": {"type": "required"}}),
    ("tool_choice as a string is invalid", "messages_request", {**REQUEST_003, "tool_choice": "auto"}),
    ("temperature above 1 is invalid", "messages_request", {**REQUEST_003, "temperature": 1.5}),
    ("top_k negative is invalid", "messages_request", {**REQUEST_003, "top_k": -1}),
    ("stop_sequences as a string is invalid", "messages_request", {**REQUEST_003, "stop_sequences": "END"}),
    ("thinking enabled without budget_tokens is invalid", "messages_request", {**REQUEST_003, "thinking": {"type": "enabled"}}),
    ("thinking of an unknown type is invalid", "messages_request", {**REQUEST_003, "thinking": {"type": "on"}}),
    ("a system prompt as an object is invalid", "messages_request", {**REQUEST_003, "system": {"text": "hi"}}),
    (
        "an image with an unsupported media_type is invalid",
        "messages_request",
        _with(
            REQUEST_003,
            "messages/0/content",
            [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "Qk0="}}],
        ),
    ),
    (
        "an image url source without url is invalid",
        "messages_request",
        _with(REQUEST_003, "messages/0/content", [{"type": "image", "source": {"type": "url"}}]),
    ),
    (
        "a tool_use history block with input as a string is invalid",
        "messages_request",
        _with(FULL_REQUEST, "messages/1/content/0/input", '{"city": "Paris"}'),
    ),
    (
        "a tool_result without tool_use_id is invalid",
        "messages_request",
        _with(FULL_REQUEST, "messages/2/content/0/tool_use_id", _DROP),
    ),
    (
        "a tool_result with is_error as a string is invalid",
        "messages_request",
        _with(FULL_REQUEST, "messages/2/content/0/is_error", "false"),
    ),
    (
        "a document with a PDF source of the wrong media_type is invalid",
        "messages_request",
        _with(DOCUMENT_REQUEST, "messages/0/content/0/source/media_type", "text/plain"),
    ),
    ("a tool without name is invalid", "messages_request", {**REQUEST_003, "tools": [{"input_schema": {"type": "object"}}]}),
    ("metadata user_id as a number is invalid", "messages_request", {**REQUEST_003, "metadata": {"user_id": 7}}),
]


def _ids(cases: list[tuple[str, str, Any]]) -> list[str]:
    return [case[0] for case in cases]


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize(("description", "name", "instance"), POSITIVE_BOTH, ids=_ids(POSITIVE_BOTH))
def test_valid_in_both_readings(reading: str, description: str, name: str, instance: Any) -> None:
    assert errors(reading, name, instance) == []


@pytest.mark.parametrize(("description", "name", "instance"), COMPATIBLE_ONLY, ids=[f"{d} is valid in compatible" for d in _ids(COMPATIBLE_ONLY)])
def test_valid_in_compatible(description: str, name: str, instance: Any) -> None:
    assert errors("compatible", name, instance) == []


@pytest.mark.parametrize(("description", "name", "instance"), COMPATIBLE_ONLY, ids=[f"{d} is invalid in strict" for d in _ids(COMPATIBLE_ONLY)])
def test_invalid_in_strict(description: str, name: str, instance: Any) -> None:
    assert errors("strict", name, instance) != []


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize(("description", "name", "instance"), NEGATIVE_BOTH, ids=_ids(NEGATIVE_BOTH))
def test_invalid_in_both_readings(reading: str, description: str, name: str, instance: Any) -> None:
    assert errors(reading, name, instance) != []


@pytest.mark.parametrize("reading", READINGS)
def test_the_dispatcher_applies_each_event_schema(reading: str) -> None:
    """Every negative event example rejected by its own event schema is also rejected through stream_event."""
    for description, name, instance in NEGATIVE_BOTH:
        if name.startswith("event_") and isinstance(instance, dict) and instance.get("type") in {
            "message_start", "content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop", "ping", "error",
        }:
            assert errors(reading, "stream_event", instance) != [], description


def test_message_delta_output_tokens_rule_names_class_24() -> None:
    delta = REGISTRY.contents(f"{BASE_ID}/compatible/event_message_delta.json")
    assert delta["$defs"]["message_delta_usage"]["properties"]["output_tokens"]["x-class"] == "24"


@pytest.mark.parametrize("reading", READINGS)
def test_error_body_shape_names_class_25(reading: str) -> None:
    assert REGISTRY.contents(f"{BASE_ID}/{reading}/error.json")["x-class"] == "25"
    assert REGISTRY.contents(f"{BASE_ID}/compatible/error.json")["properties"]["type"]["x-class"] == "25"
