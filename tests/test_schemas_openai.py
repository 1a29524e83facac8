"""The project's own JSON Schemas for OpenAI Chat Completions, /v1/models and errors.

Every schema under specs/schemas/ is loaded into one `referencing.Registry` keyed by `$id`
(no network retrieval, no format assertion), exactly as the suite loads them. Each case below
is data: a sentence, the schema it is checked against, the instance, and the verdict of each
reading (compatible, strict). A failing case may also name the rule it must fail on, so a
case cannot pass by failing for some unrelated reason.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "specs" / "schemas"
OPENAI_DIR = SCHEMAS_DIR / "openai"
READINGS = ("compatible", "strict")
NAMES = ("chat_request", "chat_response", "chat_chunk", "error", "models_list", "model")
ID_PREFIX = "https://conformance.local/schemas/openai"
KNOWN_CLASSES = {str(n) for n in range(1, 28)}


def _schema_id(reading: str, name: str) -> str:
    return f"{ID_PREFIX}/{reading}/{name}.json"


def _load_registry() -> Registry:
    """All *.json under specs/schemas/, keyed by $id. Files written by others that do not parse
    or carry no $id are skipped here; only our own files are asserted on."""
    resources = []
    for path in sorted(SCHEMAS_DIR.rglob("*.json")):
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            if OPENAI_DIR in path.parents:
                raise
            continue
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            resource = Resource.from_contents(contents, default_specification=DRAFT202012)
            resources.append((contents["$id"], resource))
    return Registry().with_resources(resources).crawl()


REGISTRY = _load_registry()


def _schema(reading: str, name: str) -> dict[str, Any]:
    return json.loads((OPENAI_DIR / reading / f"{name}.json").read_text(encoding="utf-8"))


def _validator(reading: str, name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(reading, name), registry=REGISTRY)


def _flatten(errors: list[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from _flatten(list(error.context or []))


def _describe(errors: list[ValidationError]) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in _flatten(errors)]


# --------------------------------------------------------------------------------------------
# Seed document examples (copied as printed in the documents)
# --------------------------------------------------------------------------------------------

CROSSMODEL_RESPONSE = {  # CrossModel 000 §Response
    "id": "chatcmpl_abc123",
    "object": "chat.completion",
    "created": 1720000000,
    "model": "deepseek/deepseek-v4-pro",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?"},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 24,
        "completion_tokens": 18,
        "total_tokens": 42,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}

CROSSMODEL_CHUNKS = [  # CrossModel 000 §Streaming response
    {"id": "chatcmpl_abc123", "object": "chat.completion.chunk", "created": 1720000000,
     "model": "deepseek/deepseek-v4-pro",
     "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
    {"id": "chatcmpl_abc123", "object": "chat.completion.chunk", "created": 1720000000,
     "model": "deepseek/deepseek-v4-pro",
     "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]},
    {"id": "chatcmpl_abc123", "object": "chat.completion.chunk", "created": 1720000000,
     "model": "deepseek/deepseek-v4-pro",
     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
]

CROSSMODEL_USAGE_CHUNK = {  # CrossModel 000 §Streaming response, include_usage (described in prose)
    "id": "chatcmpl_abc123", "object": "chat.completion.chunk", "created": 1720000000,
    "model": "deepseek/deepseek-v4-pro", "choices": [],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}

CROSSMODEL_ERROR = {  # CrossModel 000 §Errors
    "error": {
        "message": "Missing Bearer token in Authorization header.",
        "type": "authentication_error",
        "param": None,
        "code": "missing_api_key",
    }
}

CRYPTGPT_RESPONSE = {  # CryptGPT 004 §Response
    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1718169600,
    "model": "gemma-4-26b",
    "choices": [{"index": 0,
                 "message": {"role": "assistant", "content": "The capital of France is Paris."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 25, "completion_tokens": 8, "total_tokens": 33},
}

CRYPTGPT_CHUNKS = [  # CryptGPT 004 §Streaming: no created, no model, no choices[].index
    {"id": "chatcmpl-abc", "object": "chat.completion.chunk",
     "choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]},
    {"id": "chatcmpl-abc", "object": "chat.completion.chunk",
     "choices": [{"delta": {"content": "The"}, "finish_reason": None}]},
    {"id": "chatcmpl-abc", "object": "chat.completion.chunk",
     "choices": [{"delta": {"content": " capital"}, "finish_reason": None}]},
    {"id": "chatcmpl-abc", "object": "chat.completion.chunk",
     "choices": [{"delta": {}, "finish_reason": "stop"}]},
]

MODELS_LIST = {  # shape of OpenAI OpenAPI 2.3.0 ListModelsResponse / Model example
    "object": "list",
    "data": [
        {"id": "deepseek/deepseek-v4-pro", "object": "model", "created": 1686935002,
         "owned_by": "crossmodel"},
        {"id": "gpt-5.4", "object": "model", "created": 1686935002, "owned_by": "openai",
         "shutdown_date": None},
    ],
}

HELLO_REQUEST = {  # CrossModel 000 §Endpoint
    "model": "deepseek/deepseek-v4-pro",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
    ],
}

WEATHER_TOOL = {  # CrossModel 000 §Function tools
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
        "strict": True,
    },
}

TOOL_CALL = {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Shanghai\"}"}}


def _user(content: Any) -> dict[str, Any]:
    return {"model": "openai/gpt-5-mini", "messages": [{"role": "user", "content": content}]}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    instance = copy.deepcopy(base)
    instance.update(changes)
    return instance


def _response_with(choice: dict[str, Any] | None = None, message: dict[str, Any] | None = None,
                   **top: Any) -> dict[str, Any]:
    instance = copy.deepcopy(CROSSMODEL_RESPONSE)
    instance["choices"][0].update(choice or {})
    instance["choices"][0]["message"].update(message or {})
    instance.update(top)
    return instance


def _strict_response(**message: Any) -> dict[str, Any]:
    """The CrossModel example completed with what upstream requires (logprobs, refusal)."""
    return _response_with(choice={"logprobs": None}, message={"refusal": None, **message})


def _chunk(choice: dict[str, Any] | None = None, delta: dict[str, Any] | None = None,
           **top: Any) -> dict[str, Any]:
    instance = copy.deepcopy(CROSSMODEL_CHUNKS[1])
    instance["choices"][0].update(choice or {})
    if delta is not None:
        instance["choices"][0]["delta"] = delta
    instance.update(top)
    return instance


def _without(instance: dict[str, Any], *path: Any) -> dict[str, Any]:
    instance = copy.deepcopy(instance)
    node = instance
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return instance


TOKEN = {"token": "Hello", "logprob": -0.31, "bytes": [72, 101, 108, 108, 111],
         "top_logprobs": [{"token": "Hello", "logprob": -0.31, "bytes": [72, 101, 108, 108, 111]},
                          {"token": "Hi", "logprob": -1.4, "bytes": None}]}
FULL_LOGPROBS = {"content": [TOKEN], "refusal": None}
LEGACY_LOGPROBS = {"tokens": ["Hello"], "token_logprobs": [-0.31],
                   "top_logprobs": [{"Hello": -0.31}], "text_offset": [0]}

BOTH = {"compatible": True, "strict": True}
NEITHER = {"compatible": False, "strict": False}
COMPATIBLE_ONLY = {"compatible": True, "strict": False}


def case(sentence: str, name: str, instance: Any, verdict: dict[str, bool],
         fails_on: str | None = None):
    """fails_on: a text that must appear in the path or message of some error of each reading
    that rejects the instance (proves the case fails on its own rule)."""
    return pytest.param(name, instance, verdict, fails_on, id=sentence)


CASES = [
    # ---- chat_response ------------------------------------------------------------------
    case("crossmodel response example is valid compatible but lacks logprobs and refusal for strict",
         "chat_response", CROSSMODEL_RESPONSE, COMPATIBLE_ONLY, "logprobs"),
    case("crossmodel response example with logprobs null and refusal null is valid in both",
         "chat_response", _strict_response(), BOTH),
    case("cryptgpt response example is valid compatible but lacks logprobs and refusal for strict",
         "chat_response", CRYPTGPT_RESPONSE, COMPATIBLE_ONLY, "refusal"),
    case("response without usage is valid in both since upstream does not require usage",
         "chat_response", _without(_strict_response(), "usage"), BOTH),
    case("response without object is invalid",
         "chat_response", _without(CROSSMODEL_RESPONSE, "object"), NEITHER, "object"),
    case("response with object chat.completion.chunk is invalid",
         "chat_response", _with(CROSSMODEL_RESPONSE, object="chat.completion.chunk"), NEITHER,
         "chat.completion"),
    case("response with created as a string is invalid",
         "chat_response", _with(CROSSMODEL_RESPONSE, created="1720000000"), NEITHER, "created"),
    case("response with a negative created is valid compatible and invalid strict",
         "chat_response", _with(_strict_response(), created=-1), COMPATIBLE_ONLY, "created"),
    case("response without choices is invalid",
         "chat_response", _without(CROSSMODEL_RESPONSE, "choices"), NEITHER, "choices"),
    case("response with an unknown finish_reason is invalid",
         "chat_response", _response_with(choice={"finish_reason": "eos"}), NEITHER, "finish_reason"),
    case("response with an empty finish_reason is invalid",
         "chat_response", _response_with(choice={"finish_reason": ""}), NEITHER, "finish_reason"),
    case("response with a null finish_reason is invalid",
         "chat_response", _response_with(choice={"finish_reason": None}), NEITHER, "finish_reason"),
    case("response choice without index is invalid",
         "chat_response", _without(CROSSMODEL_RESPONSE, "choices", 0, "index"), NEITHER, "index"),
    case("response message with role user is invalid",
         "chat_response", _response_with(message={"role": "user"}), NEITHER, "role"),
    case("response message with null content and tool calls is valid in both",
         "chat_response",
         _strict_response(content=None, tool_calls=[TOOL_CALL]),
         BOTH),
    case("response tool call arguments as an object are invalid",
         "chat_response",
         _response_with(message={"content": None, "tool_calls": [
             {"id": "call_1", "type": "function",
              "function": {"name": "get_weather", "arguments": {"city": "Shanghai"}}}]}),
         NEITHER, "arguments"),
    case("response tool call arguments as an empty string are invalid",
         "chat_response",
         _response_with(message={"content": None, "tool_calls": [
             {"id": "call_1", "type": "function", "function": {"name": "ping", "arguments": ""}}]}),
         NEITHER, "arguments"),
    case("response tool call without id is invalid",
         "chat_response",
         _response_with(message={"tool_calls": [_without(TOOL_CALL, "id")]}), NEITHER, "id"),
    case("response tool call with type tool is invalid",
         "chat_response",
         _response_with(message={"tool_calls": [_with(TOOL_CALL, type="tool")]}), NEITHER, "type"),
    case("response custom tool call is valid in both",
         "chat_response",
         _strict_response(content=None, tool_calls=[
             {"id": "call_2", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}]),
         BOTH),
    case("response with vendor extension fields is valid in both",
         "chat_response",
         _strict_response(reasoning_content="Let me think.", reasoning="Let me think.", images=[])
         | {"usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                      "reasoning_tokens": 0, "cost_usd_total": 0.0001},
            "requested_model": "auto", "used_provider": "openai"},
         BOTH),
    case("response reasoning_content as a number is invalid",
         "chat_response", _response_with(message={"reasoning_content": 42}), NEITHER,
         "reasoning_content"),
    case("response usage with token counts as strings is invalid",
         "chat_response",
         _with(CROSSMODEL_RESPONSE, usage={"prompt_tokens": "24", "completion_tokens": 18,
                                           "total_tokens": 42}), NEITHER, "prompt_tokens"),
    case("response usage with a negative token count is invalid",
         "chat_response",
         _with(CROSSMODEL_RESPONSE, usage={"prompt_tokens": 24, "completion_tokens": -1,
                                           "total_tokens": 23}), NEITHER, "completion_tokens"),
    case("response usage without total_tokens is invalid",
         "chat_response", _without(CROSSMODEL_RESPONSE, "usage", "total_tokens"), NEITHER,
         "total_tokens"),
    case("response cached_tokens as a float is invalid",
         "chat_response",
         _with(CROSSMODEL_RESPONSE, usage={"prompt_tokens": 24, "completion_tokens": 18,
                                           "total_tokens": 42,
                                           "prompt_tokens_details": {"cached_tokens": 1.5}}),
         NEITHER, "cached_tokens"),
    case("response with chat-shaped logprobs is valid in both",
         "chat_response", _response_with(choice={"logprobs": FULL_LOGPROBS}, message={"refusal": None}),
         BOTH),
    case("response logprobs in the legacy completions shape are invalid",
         "chat_response", _response_with(choice={"logprobs": LEGACY_LOGPROBS}), NEITHER, "content"),
    case("response logprobs without refusal and bytes are valid compatible and invalid strict",
         "chat_response",
         _response_with(choice={"logprobs": {"content": [
             {"token": "Hi", "logprob": -0.1, "top_logprobs": []}]}}, message={"refusal": None}),
         COMPATIBLE_ONLY, "refusal"),
    case("response logprob above zero is valid compatible and invalid strict",
         "chat_response",
         _response_with(choice={"logprobs": {"content": [_with(TOKEN, logprob=0.5)], "refusal": None}},
                        message={"refusal": None}),
         COMPATIBLE_ONLY, "logprob"),
    case("response token bytes above 255 are invalid",
         "chat_response",
         _response_with(choice={"logprobs": {"content": [_with(TOKEN, bytes=[256])], "refusal": None}}),
         NEITHER, "bytes"),

    # ---- chat_chunk ---------------------------------------------------------------------
    *[case(f"crossmodel stream chunk {i + 1} is valid in both", "chat_chunk", chunk, BOTH)
      for i, chunk in enumerate(CROSSMODEL_CHUNKS)],
    case("first chunk with finish_reason logprobs and usage all null is valid in both",
         "chat_chunk",
         _with(CROSSMODEL_CHUNKS[0], usage=None,
               choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                         "logprobs": None, "finish_reason": None}]),
         BOTH),
    case("include_usage final chunk with empty choices is valid in both",
         "chat_chunk", CROSSMODEL_USAGE_CHUNK, BOTH),
    case("usage chunk without a choices key is invalid",
         "chat_chunk", _without(CROSSMODEL_USAGE_CHUNK, "choices"), NEITHER, "choices"),
    *[case(f"cryptgpt stream chunk {i + 1} without created model and index is invalid",
           "chat_chunk", chunk, NEITHER, "created") for i, chunk in enumerate(CRYPTGPT_CHUNKS)],
    case("cryptgpt first chunk is rejected for its missing choice index too",
         "chat_chunk", CRYPTGPT_CHUNKS[0] | {"created": 1718169600, "model": "gemma-4-26b"},
         NEITHER, "index"),
    *[case(f"cryptgpt stream chunk {i + 1} with created model and index added is valid in both",
           "chat_chunk",
           chunk | {"created": 1718169600, "model": "gemma-4-26b",
                    "choices": [{"index": 0, **chunk["choices"][0]}]},
           BOTH) for i, chunk in enumerate(CRYPTGPT_CHUNKS)],
    case("chunk without object is invalid",
         "chat_chunk", _without(CROSSMODEL_CHUNKS[0], "object"), NEITHER, "object"),
    case("chunk with object chat.completion is invalid",
         "chat_chunk", _with(CROSSMODEL_CHUNKS[0], object="chat.completion"), NEITHER,
         "chat.completion.chunk"),
    case("chunk choice without finish_reason key is valid compatible and invalid strict",
         "chat_chunk", _without(CROSSMODEL_CHUNKS[1], "choices", 0, "finish_reason"),
         COMPATIBLE_ONLY, "finish_reason"),
    case("chunk with an empty finish_reason is invalid",
         "chat_chunk", _chunk(choice={"finish_reason": ""}), NEITHER, "finish_reason"),
    case("chunk with an unknown finish_reason is invalid",
         "chat_chunk", _chunk(choice={"finish_reason": "eos"}), NEITHER, "finish_reason"),
    case("chunk choice without delta is invalid",
         "chat_chunk", _without(CROSSMODEL_CHUNKS[1], "choices", 0, "delta"), NEITHER, "delta"),
    case("chunk role concatenated as assistantassistant is invalid",
         "chat_chunk", _chunk(delta={"role": "assistantassistant"}), NEITHER, "role"),
    case("chunk tool call fragments with index are valid in both",
         "chat_chunk",
         _chunk(delta={"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                        "function": {"name": "get_weather", "arguments": ""}}]}),
         BOTH),
    case("chunk tool call continuation with only index and arguments is valid in both",
         "chat_chunk",
         _chunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\""}}]}), BOTH),
    case("chunk tool call without index is invalid",
         "chat_chunk",
         _chunk(delta={"tool_calls": [{"id": "call_1", "type": "function",
                                        "function": {"name": "get_weather", "arguments": "{}"}}]}),
         NEITHER, "index"),
    case("chunk tool call arguments as an object are invalid",
         "chat_chunk",
         _chunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": {"city": "Paris"}}}]}),
         NEITHER, "arguments"),
    case("chunk with reasoning_content delta is valid in both",
         "chat_chunk", _chunk(delta={"reasoning_content": "Thinking"}), BOTH),
    case("chunk with chat-shaped logprobs is valid in both",
         "chat_chunk", _chunk(choice={"logprobs": FULL_LOGPROBS}), BOTH),
    case("chunk logprobs in the legacy completions shape are invalid",
         "chat_chunk", _chunk(choice={"logprobs": LEGACY_LOGPROBS}), NEITHER, "content"),
    case("chunk usage with token counts as strings is invalid",
         "chat_chunk",
         _with(CROSSMODEL_USAGE_CHUNK, usage={"prompt_tokens": "9", "completion_tokens": 2,
                                               "total_tokens": 11}), NEITHER, "prompt_tokens"),

    # ---- error --------------------------------------------------------------------------
    case("crossmodel error example is valid in both", "error", CROSSMODEL_ERROR, BOTH),
    case("error with only message and type is valid compatible and invalid strict",
         "error", {"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}},
         COMPATIBLE_ONLY, "param"),
    case("error without the error wrapper is invalid",
         "error", CROSSMODEL_ERROR["error"], NEITHER, "error"),
    case("error as a bare string under error is invalid",
         "error", {"error": "model not found"}, NEITHER, "object"),
    case("error in the fastapi detail shape is invalid",
         "error", {"detail": "Not Found"}, NEITHER, "error"),
    case("error without message is invalid",
         "error", {"error": {"type": "invalid_request_error", "param": None, "code": None}},
         NEITHER, "message"),
    case("error with an integer code is invalid",
         "error", {"error": {"message": "bad", "type": "invalid_request_error", "param": None,
                             "code": 400}}, NEITHER, "code"),
    case("error with extension fields is valid in both",
         "error", CROSSMODEL_ERROR | {"request_id": "req_1"}, BOTH),

    # ---- models_list and model -----------------------------------------------------------
    case("models list with object list and data is valid in both", "models_list", MODELS_LIST, BOTH),
    case("empty models list is valid in both", "models_list", {"object": "list", "data": []}, BOTH),
    case("models list as a bare array is invalid", "models_list", MODELS_LIST["data"], NEITHER,
         "is not of type 'object'"),
    case("models list without object is invalid",
         "models_list", _without(MODELS_LIST, "object"), NEITHER, "object"),
    case("models list with object models is invalid",
         "models_list", _with(MODELS_LIST, object="models"), NEITHER, "list"),
    case("models list entry without owned_by is invalid",
         "models_list", _without(MODELS_LIST, "data", 0, "owned_by"), NEITHER, "owned_by"),
    case("models list entry without created is valid compatible and invalid strict",
         "models_list", _without(MODELS_LIST, "data", 0, "created"), COMPATIBLE_ONLY, "created"),
    case("model object is valid in both", "model", MODELS_LIST["data"][0], BOTH),
    case("model without owned_by is invalid",
         "model", _without(MODELS_LIST["data"][0], "owned_by"), NEITHER, "owned_by"),
    case("model without object is invalid",
         "model", _without(MODELS_LIST["data"][0], "object"), NEITHER, "object"),
    case("model without created is valid compatible and invalid strict",
         "model", _without(MODELS_LIST["data"][0], "created"), COMPATIBLE_ONLY, "created"),
    case("model with created as a string is invalid",
         "model", _with(MODELS_LIST["data"][0], created="2024-01-01"), NEITHER, "created"),

    # ---- chat_request -------------------------------------------------------------------
    case("crossmodel hello request is valid in both", "chat_request", HELLO_REQUEST, BOTH),
    case("crossmodel example request with temperature and max_completion_tokens is valid in both",
         "chat_request", _with(HELLO_REQUEST, temperature=0.7, max_completion_tokens=256), BOTH),
    case("crossmodel image request is valid in both",
         "chat_request",
         _user([{"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/image.png"}}]),
         BOTH),
    case("image given as a data url with detail low is valid in both",
         "chat_request",
         _user([{"type": "image_url",
                 "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]),
         BOTH),
    case("crossmodel audio request is valid in both",
         "chat_request",
         _user([{"type": "text", "text": "Transcribe this audio and summarize it."},
                {"type": "input_audio", "input_audio": {"data": "BASE64_AUDIO_DATA", "format": "wav"}}]),
         BOTH),
    case("audio input in flac format is valid compatible and invalid strict",
         "chat_request",
         _user([{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "flac"}}]),
         COMPATIBLE_ONLY, "format"),
    case("crossmodel video_url request is valid in both",
         "chat_request",
         _user([{"type": "text", "text": "Summarize this video."},
                {"type": "video_url", "video_url": {"url": "https://example.com/video.mp4"}}]),
         BOTH),
    case("video block as an array of frame urls is valid in both",
         "chat_request",
         _user([{"type": "video", "video": ["https://example.com/f1.jpg", "https://example.com/f2.jpg"]}]),
         BOTH),
    case("file block with file_data is valid in both",
         "chat_request",
         _user([{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}]),
         BOTH),
    case("crossmodel stream request with include_usage is valid in both",
         "chat_request",
         {"model": "deepseek/deepseek-v4-pro", "messages": [{"role": "user", "content": "Hi"}],
          "stream": True, "stream_options": {"include_usage": True}},
         BOTH),
    case("crossmodel tool request with tool_choice auto is valid in both",
         "chat_request",
         {"model": "deepseek/deepseek-v4-pro",
          "messages": [{"role": "user", "content": "What is the weather in Shanghai?"}],
          "tools": [WEATHER_TOOL], "tool_choice": "auto"},
         BOTH),
    case("cryptgpt request example is valid in both",
         "chat_request",
         {"model": "gemma-4-26b",
          "messages": [{"role": "system", "content": "You are a helpful assistant."},
                       {"role": "user", "content": "What is the capital of France?"}],
          "temperature": 0.7, "max_tokens": 1024},
         BOTH),
    case("tool round trip with assistant content null is valid in both",
         "chat_request",
         {"model": "m", "messages": [
             {"role": "user", "content": "What is the weather in Shanghai?"},
             {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
             {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 21}"}],
          "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
         BOTH),
    case("assistant history message with empty string content is valid in both",
         "chat_request",
         {"model": "m", "messages": [{"role": "user", "content": "Hi"},
                                     {"role": "assistant", "content": ""},
                                     {"role": "user", "content": "Again"}]},
         BOTH),
    case("assistant history message with neither content nor tool_calls is valid compatible and invalid strict",
         "chat_request",
         {"model": "m", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]},
         COMPATIBLE_ONLY, "tool_calls"),
    case("assistant history tool call arguments as an object are invalid",
         "chat_request",
         {"model": "m", "messages": [
             {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}]}]},
         NEITHER, "arguments"),
    case("logprobs request with top_logprobs 2 is valid in both",
         "chat_request", _with(HELLO_REQUEST, logprobs=True, top_logprobs=2), BOTH),
    case("top_logprobs null is valid in both",
         "chat_request", _with(HELLO_REQUEST, logprobs=True, top_logprobs=None), BOTH),
    case("top_logprobs 21 is invalid",
         "chat_request", _with(HELLO_REQUEST, logprobs=True, top_logprobs=21), NEITHER, "top_logprobs"),
    case("top_logprobs without logprobs true is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, top_logprobs=3), COMPATIBLE_ONLY, "logprobs"),
    case("every upstream nullable parameter sent as null is valid in both",
         "chat_request",
         _with(HELLO_REQUEST, **{k: None for k in (
             "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
             "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
             "logprobs", "top_logprobs", "seed", "modalities", "audio", "prediction", "metadata",
             "store", "service_tier", "verbosity", "reasoning_effort", "safety_identifier")}),
         BOTH),
    case("request with every documented parameter set is valid in both",
         "chat_request",
         _with(HELLO_REQUEST, stream=False, max_tokens=64, max_completion_tokens=64,
               temperature=1, top_p=0.9, n=2, stop=["\n\n", "END"], presence_penalty=0.5,
               frequency_penalty=-0.5, logit_bias={"50256": -100}, logprobs=True, top_logprobs=0,
               response_format={"type": "json_schema", "json_schema": {
                   "name": "answer", "schema": {"type": "object"}, "strict": True}},
               seed=42, parallel_tool_calls=False, modalities=["text", "audio"],
               audio={"voice": "alloy", "format": "wav"},
               prediction={"type": "content", "content": "Hello"},
               metadata={"run": "ci"}, store=False, service_tier="auto", verbosity="low",
               web_search_options={"search_context_size": "low"}, reasoning_effort="low",
               user="u-1", safety_identifier="hash-1"),
         BOTH),
    case("llm gateway extension parameters are valid in both",
         "chat_request",
         _with(HELLO_REQUEST, model="auto", free_models_only=True, no_reasoning=False,
               reasoning={"effort": "low"}, web_search=True, plugins=[{"id": "response-healing"}]),
         BOTH),
    case("request without model is invalid",
         "chat_request", _without(HELLO_REQUEST, "model"), NEITHER, "model"),
    case("request with empty messages is invalid",
         "chat_request", _with(HELLO_REQUEST, messages=[]), NEITHER, "messages"),
    case("message with an unknown role is invalid",
         "chat_request", _with(HELLO_REQUEST, messages=[{"role": "bot", "content": "Hi"}]),
         NEITHER, "role"),
    case("user message without content is invalid",
         "chat_request", _with(HELLO_REQUEST, messages=[{"role": "user"}]), NEITHER, "content"),
    case("tool message without tool_call_id is invalid",
         "chat_request",
         _with(HELLO_REQUEST, messages=[{"role": "tool", "content": "21C"}]), NEITHER, "tool_call_id"),
    case("system message with an image block is invalid",
         "chat_request",
         _with(HELLO_REQUEST, messages=[{"role": "system", "content": [
             {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]),
         NEITHER, "text"),
    case("content block of an unknown type is invalid",
         "chat_request", _user([{"type": "document", "document": {}}]), NEITHER, "type"),
    case("image_url block without url is invalid",
         "chat_request", _user([{"type": "image_url", "image_url": {"detail": "low"}}]), NEITHER, "url"),
    case("image detail ultra is invalid",
         "chat_request",
         _user([{"type": "image_url", "image_url": {"url": "https://e.x/a.png", "detail": "ultra"}}]),
         NEITHER, "detail"),
    case("temperature 3 is invalid", "chat_request", _with(HELLO_REQUEST, temperature=3), NEITHER,
         "temperature"),
    case("top_p 1.5 is invalid", "chat_request", _with(HELLO_REQUEST, top_p=1.5), NEITHER, "top_p"),
    case("n 0 is invalid", "chat_request", _with(HELLO_REQUEST, n=0), NEITHER, "n"),
    case("n 129 is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, n=129), COMPATIBLE_ONLY, "n"),
    case("five stop sequences are invalid",
         "chat_request", _with(HELLO_REQUEST, stop=["a", "b", "c", "d", "e"]), NEITHER, "stop"),
    case("an empty stop array is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, stop=[]), COMPATIBLE_ONLY, "stop"),
    case("presence_penalty minus 3 is invalid",
         "chat_request", _with(HELLO_REQUEST, presence_penalty=-3), NEITHER, "presence_penalty"),
    case("logit_bias value 200 is invalid",
         "chat_request", _with(HELLO_REQUEST, logit_bias={"50256": 200}), NEITHER, "logit_bias"),
    case("fractional logit_bias is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, logit_bias={"50256": 0.5}), COMPATIBLE_ONLY,
         "logit_bias"),
    case("reasoning_effort xhigh is valid in both",
         "chat_request", _with(HELLO_REQUEST, reasoning_effort="xhigh"), BOTH),
    case("unknown reasoning_effort is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, reasoning_effort="turbo"), COMPATIBLE_ONLY,
         "reasoning_effort"),
    case("seed beyond int64 is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, seed=2**63), COMPATIBLE_ONLY, "seed"),
    case("seed as a string is invalid",
         "chat_request", _with(HELLO_REQUEST, seed="42"), NEITHER, "seed"),
    case("tool without function is invalid",
         "chat_request", _with(HELLO_REQUEST, tools=[{"type": "function"}]), NEITHER, "function"),
    case("tool function without name is invalid",
         "chat_request", _with(HELLO_REQUEST, tools=[{"type": "function", "function": {}}]),
         NEITHER, "name"),
    case("tool function name with a space is valid compatible and invalid strict",
         "chat_request",
         _with(HELLO_REQUEST, tools=[{"type": "function", "function": {"name": "get weather"}}]),
         COMPATIBLE_ONLY, "name"),
    case("tool_choice any is invalid",
         "chat_request", _with(HELLO_REQUEST, tool_choice="any"), NEITHER, "tool_choice"),
    case("tool_choice function without name is invalid",
         "chat_request", _with(HELLO_REQUEST, tool_choice={"type": "function", "function": {}}),
         NEITHER, "name"),
    case("response_format json_object is valid in both",
         "chat_request", _with(HELLO_REQUEST, response_format={"type": "json_object"}), BOTH),
    case("response_format json_schema without json_schema is invalid",
         "chat_request", _with(HELLO_REQUEST, response_format={"type": "json_schema"}), NEITHER,
         "json_schema"),
    case("response_format of an unknown type is invalid",
         "chat_request", _with(HELLO_REQUEST, response_format={"type": "yaml"}), NEITHER, "type"),
    case("stream as a string is invalid",
         "chat_request", _with(HELLO_REQUEST, stream="true"), NEITHER, "stream"),
    case("include_usage as a string is invalid",
         "chat_request", _with(HELLO_REQUEST, stream=True, stream_options={"include_usage": "yes"}),
         NEITHER, "include_usage"),
    case("unknown modality is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, modalities=["video"]), COMPATIBLE_ONLY, "video"),
    case("safety_identifier longer than 64 characters is valid compatible and invalid strict",
         "chat_request", _with(HELLO_REQUEST, safety_identifier="x" * 65), COMPATIBLE_ONLY,
         "safety_identifier"),
]


@pytest.mark.parametrize("reading", READINGS, ids=[f"in the {r} reading" for r in READINGS])
@pytest.mark.parametrize("name, instance, verdict, fails_on", CASES)
def test_example(reading: str, name: str, instance: Any, verdict: dict[str, bool],
                 fails_on: str | None) -> None:
    errors = list(_validator(reading, name).iter_errors(instance))
    described = _describe(errors)
    if verdict[reading]:
        assert not errors, f"{reading}/{name} rejected a valid instance:\n" + "\n".join(described)
        return
    assert errors, f"{reading}/{name} accepted an invalid instance"
    if fails_on is not None:
        assert any(fails_on in line for line in described), (
            f"{reading}/{name} failed, but not on {fails_on!r}:\n" + "\n".join(described))


# --------------------------------------------------------------------------------------------
# The files themselves
# --------------------------------------------------------------------------------------------

OWN_FILES = [pytest.param(r, n, id=f"{r} {n} schema") for r in READINGS for n in NAMES]


@pytest.mark.parametrize("reading, name", OWN_FILES)
def test_schema_file_is_a_valid_2020_12_schema_with_our_header(reading: str, name: str) -> None:
    schema = _schema(reading, name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == _schema_id(reading, name)
    assert schema.get("title") and schema.get("description")
    assert REGISTRY.get_or_retrieve(schema["$id"]).value.contents == schema


def _walk(node: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


@pytest.mark.parametrize("reading, name", OWN_FILES)
def test_every_ref_resolves_inside_the_registry_without_network(reading: str, name: str) -> None:
    schema = _schema(reading, name)
    resolver = REGISTRY.resolver(base_uri=schema["$id"])
    refs = [node["$ref"] for _, node in _walk(schema) if isinstance(node.get("$ref"), str)]
    for ref in refs:
        resolver.lookup(ref)  # raises referencing.exceptions.Unresolvable


@pytest.mark.parametrize("reading, name", OWN_FILES)
def test_no_openapi_only_keywords_remain(reading: str, name: str) -> None:
    """nullable, discriminator and format unixtime are OpenAPI dialect that 2020-12 ignores."""
    for pointer, node in _walk(_schema(reading, name)):
        assert "nullable" not in node, pointer
        assert "discriminator" not in node, pointer
        assert node.get("format") != "unixtime", pointer


@pytest.mark.parametrize("reading, name", OWN_FILES)
def test_every_incompatibility_class_rule_is_known_and_sourced(reading: str, name: str) -> None:
    for pointer, node in _walk(_schema(reading, name)):
        if "x-class" in node:
            assert node["x-class"] in KNOWN_CLASSES, pointer
            assert node.get("x-source"), f"{pointer} has x-class but no x-source"


def test_the_classes_enforced_by_the_openai_schemas() -> None:
    found = {node["x-class"] for r in READINGS for n in NAMES
             for _, node in _walk(_schema(r, n)) if "x-class" in node}
    assert {"1", "5", "8", "13", "15", "16", "17", "21"} <= found


@pytest.mark.parametrize("name", NAMES)
def test_strict_reading_is_the_compatible_reading_plus_constraints(name: str) -> None:
    """So that whatever the compatible reading rejects, the strict reading rejects too."""
    refs = [part.get("$ref") for part in _schema("strict", name).get("allOf", [])]
    assert f"../compatible/{name}.json" in refs
