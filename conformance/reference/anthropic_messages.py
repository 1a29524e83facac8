"""Anthropic Messages endpoint of the reference server (``POST /v1/messages``).

Conformant by construction to the upstream protocol (see ``reference/README.md``, Anthropic
section) and to the emulated profile (auth schemes, anthropic-version handling, unsupported
content blocks, error table); driven by the same deterministic engine as the OpenAI endpoint.
Each named fault (:mod:`conformance.reference.faults_anthropic`) breaks exactly one rule.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from conformance.reference import engine
from conformance.reference.context import RequestContext, context_for, model_ids, not_emulated

PROTOCOL = "anthropic"
# Fallback when the emulated profile has no row for a scenario.
DEFAULT_ROWS = {
    "missing_api_key": (401, "authentication_error"),
    "invalid_api_key": (401, "authentication_error"),
    "model_not_found": (404, "not_found_error"),
}
KNOWN_VERSIONS = ("2023-06-01", "2023-01-01")
# A version the server has not heard of is accepted when it is a date: the official SDKs send the
# version they were released with (anthropic-python 2.x sends a date later than any listed here),
# and a deployment must accept what they send by default.
VERSION_DATE = re.compile(r"^20\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence", "tool_calls": "tool_use"}
REQUEST_BLOCKS = ("text", "image", "tool_use", "tool_result", "document", "thinking", "redacted_thinking")


class ApiError(Exception):
    def __init__(self, scenario: str, message: str) -> None:
        super().__init__(message)
        self.scenario, self.message = scenario, message


# -- errors and auth ---------------------------------------------------------------------------------
def _headers(ctx: RequestContext) -> dict[str, str]:
    return {"request-id": ctx.request_id}


def error_response(ctx: RequestContext, error: ApiError) -> Response:
    row = ctx.emulated("errors", error.scenario, default={}) or {}
    status, err_type = DEFAULT_ROWS.get(error.scenario, (400, "invalid_request_error"))
    status = int(row.get("status") or status)
    err_type = row.get("type") or err_type
    if ctx.fault("anthropic_wrong_error_type"):
        err_type = "api_error"
    if ctx.fault("anthropic_bad_key_400") and error.scenario == "invalid_api_key":
        status = 400
    if ctx.fault("anthropic_missing_version_401") and error.scenario == "missing_version":
        status = 401
    if ctx.fault("anthropic_error_bare_string"):
        return Response(error.message, status_code=status, media_type="text/plain", headers=_headers(ctx))
    if ctx.fault("anthropic_error_no_type"):
        return JSONResponse({"type": "error", "error": {"message": error.message}}, status_code=status, headers=_headers(ctx))
    if ctx.fault("anthropic_openai_error_shape"):
        body = {"error": {"message": error.message, "type": err_type, "param": None, "code": error.scenario}}
        return JSONResponse(body, status_code=status, headers=_headers(ctx))
    body = {"type": "error", "error": {"type": err_type, "message": error.message}, "request_id": ctx.request_id}
    return JSONResponse(body, status_code=status, headers=_headers(ctx))


def authenticate(ctx: RequestContext, request: Request) -> None:
    """The profile's auth schemes (x-api-key, bearer), then its anthropic-version handling."""
    schemes = ctx.emulated("auth", default=["x-api-key"])
    presented = []
    if "x-api-key" in schemes and not ctx.fault("anthropic_refuse_x_api_key"):
        if request.headers.get("x-api-key") is not None:
            presented.append(request.headers["x-api-key"].strip())
    authorization = request.headers.get("authorization")
    if authorization is not None and "bearer" in schemes and not ctx.fault("anthropic_refuse_bearer"):
        scheme, _, key = authorization.partition(" ")
        presented.append(key.strip() if scheme.lower() == "bearer" else "")
    if not presented and not ctx.settings.open_access:
        raise ApiError("missing_api_key", "Missing API key: send it in the x-api-key header.")
    if not ctx.settings.open_access and not any(key in ctx.settings.api_keys for key in presented):
        raise ApiError("invalid_api_key", "Invalid API key.")
    if ctx.fault("anthropic_x_api_key_400") and request.headers.get("x-api-key") is not None and authorization is None:
        raise ApiError("invalid_messages", "this deployment reads the key from Authorization only.")
    version = request.headers.get("anthropic-version")
    required = ctx.emulated("version_header", default="required") == "required" or ctx.fault("anthropic_require_version")
    if ctx.fault("anthropic_accept_missing_version"):
        required = False
    if ctx.tolerate("anthropic_any_version") and version is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", version.strip()):
        return
    if version is None and required:
        raise ApiError("missing_version", "anthropic-version: header is required.")
    if version is not None and version.strip() not in KNOWN_VERSIONS and not VERSION_DATE.match(version.strip()):
        raise ApiError("missing_version", f"anthropic-version: {version!r} is not a valid version.")


# -- the endpoint ----------------------------------------------------------------------------------------
async def messages(request: Request) -> Response:
    ctx = context_for(request, PROTOCOL)
    if ctx is None:
        return not_emulated(PROTOCOL)
    try:
        authenticate(ctx, request)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError("invalid_json", f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError("invalid_json", "The request body must be a JSON object.")
        model = body.get("model")
        if model is None and ctx.fault("anthropic_model_optional"):
            model = ctx.emulated("default_model") or model_ids(ctx.settings)[0]
        if not isinstance(model, str) or not model:
            raise ApiError("invalid_messages", "model: Field required (a string).")
        prompt = build_prompt(ctx, body)
        if model not in model_ids(ctx.settings):
            if body.get("stream") is True and ctx.fault("anthropic_error_as_200_stream"):
                return _sse_error_200(f"model: {model} does not exist or is not available.")
            raise ApiError("model_not_found", f"model: {model} does not exist or is not available.")
    except ApiError as error:
        return error_response(ctx, error)
    generation = engine.generate(prompt)
    message = render_message(ctx, model, generation.choices[0], generation.prompt_tokens, generation.completion_tokens, prompt)
    if body.get("stream") is True:
        return StreamingResponse(_events(ctx, message), media_type="text/event-stream", headers={**_headers(ctx), "cache-control": "no-cache"})
    return JSONResponse([message] if ctx.fault("anthropic_reply_not_object") else message, headers=_headers(ctx))


def build_prompt(ctx: RequestContext, body: dict[str, Any]) -> engine.Prompt:
    """Validate the request (raising the documented errors) and turn it into an engine prompt."""
    max_tokens = body.get("max_tokens")
    if max_tokens is None and not ctx.fault("anthropic_max_tokens_optional"):
        raise ApiError("missing_max_tokens", "max_tokens: Field required.")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ApiError("invalid_messages", "max_tokens: must be an integer >= 1.")
    texts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        texts.append(system)
    elif isinstance(system, list):
        for k, block in enumerate(system):
            if not (isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)):
                raise ApiError("invalid_messages", f"system.{k}: must be a text block.")
            texts.append(block["text"])
    elif system is not None:
        raise ApiError("invalid_messages", "system: must be a string or an array of text blocks.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError("invalid_messages", "messages: at least one message is required.")
    issued: set[str] = set()
    last_user, last_role, last_tool_result = "", "user", None
    unsupported = ctx.emulated("content_blocks", "unsupported", default=[]) or []
    media: list[int] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError("invalid_messages", f"messages.{i}: must be an object with a string role.")
        role = message["role"]
        if role not in ("user", "assistant") and not ctx.fault("anthropic_accept_system_role"):
            raise ApiError("system_role", f"messages.{i}.role: '{role}' is not allowed (user or assistant; put the system prompt in the top-level system field).")
        text, tool_result = _content(message.get("content"), i, role, issued, unsupported, ctx, media)
        texts.append(text)
        if role == "user":
            last_user = text
            last_role, last_tool_result = ("tool", tool_result) if tool_result is not None else ("user", None)
        else:
            last_role = "assistant"
    prompt = engine.Prompt(texts=texts, last_user_text=last_user, last_role=last_role, last_tool_result=last_tool_result,
                           media_tokens=sum(media), literal=not ctx.tolerate("free_text"))
    if ctx.tolerate("verbose_model"):
        from conformance.reference.openai_chat import VERBOSE_WORDS

        prompt.verbose_tools = VERBOSE_WORDS
    prompt.max_tokens = None if ctx.fault("anthropic_ignore_max_tokens") else max_tokens
    _apply_parameters(ctx, body, prompt)
    return prompt


def _content(content: Any, i: int, role: str, issued: set[str], unsupported: list[str], ctx: RequestContext,
             media: list[int] | None = None) -> tuple[str, str | None]:
    """The text of a message and its tool result; the tokens of image and document blocks are appended to ``media``."""
    if isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise ApiError("invalid_messages", f"messages.{i}.content: must be a string or an array of content blocks.")
    parts: list[str] = []
    tool_result = None
    for j, block in enumerate(content):
        where = f"messages.{i}.content.{j}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in REQUEST_BLOCKS:
            raise ApiError("invalid_messages", f"{where}: unknown content block type {kind!r}.")
        if kind in unsupported:
            raise ApiError("unsupported_content_block", f"{where}: the {kind} content block is not supported.")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise ApiError("invalid_messages", f"{where}.text: must be a string.")
            parts.append(block["text"])
        elif kind == "image":
            _check_source(block.get("source"), where, ("base64", "url"))
            if media is not None and not ctx.fault("anthropic_drop_image_block"):
                media.append(engine.media_tokens(block["source"]))
        elif kind == "document":
            _check_source(block.get("source"), where, ("base64", "url", "text"))
            if media is not None:
                media.append(engine.media_tokens(block["source"]))
        elif kind == "tool_use":
            if role != "assistant" or not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str) or not isinstance(block.get("input"), dict):
                raise ApiError("invalid_messages", f"{where}: a tool_use block needs id, name and an input object, in an assistant message.")
            issued.add(block["id"])
            parts.append(block["name"] + json.dumps(block["input"]))
        elif kind == "tool_result":
            if role != "user" or block.get("tool_use_id") not in issued:
                raise ApiError("invalid_messages", f"{where}.tool_use_id: does not name a tool_use block of the previous assistant message.")
            if "is_error" in block and not isinstance(block["is_error"], bool):
                raise ApiError("invalid_messages", f"{where}.is_error: must be a boolean.")
            result = block.get("content", "")
            if isinstance(result, list):
                pieces = []
                for k, inner in enumerate(result):
                    if not isinstance(inner, dict) or inner.get("type") not in ("text", "image"):
                        raise ApiError("invalid_messages", f"{where}.content.{k}: must be a text or image block.")
                    if inner["type"] == "text":
                        pieces.append(str(inner.get("text", "")))
                result = "\n".join(pieces)
            elif not isinstance(result, str):
                raise ApiError("invalid_messages", f"{where}.content: must be a string or an array of blocks.")
            tool_result = ("error: " if block.get("is_error") else "") + result
            parts.append(result)
    return "\n".join(parts), tool_result


def _check_source(source: Any, where: str, kinds: tuple[str, ...]) -> None:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind not in kinds:
        raise ApiError("invalid_messages", f"{where}.source: type must be one of {', '.join(kinds)}.")
    if kind == "base64" and not (isinstance(source.get("media_type"), str) and isinstance(source.get("data"), str)):
        raise ApiError("invalid_messages", f"{where}.source: base64 needs media_type and data.")
    if kind == "url" and not isinstance(source.get("url"), str):
        raise ApiError("invalid_messages", f"{where}.source: url needs a url.")


def _number(body: dict[str, Any], name: str, low: float, high: float | None, integer: bool = False) -> None:
    value = body.get(name)
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < low or (high is not None and value > high):
        raise ApiError("invalid_messages", f"{name}: must be a {'integer' if integer else 'number'} >= {low}{f' and <= {high}' if high is not None else ''}.")


def _apply_parameters(ctx: RequestContext, body: dict[str, Any], prompt: engine.Prompt) -> None:
    _number(body, "temperature", 0, 1)
    _number(body, "top_p", 0, 1)
    _number(body, "top_k", 0, None, integer=True)
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise ApiError("invalid_messages", "stop_sequences: must be an array of strings.")
        if not ctx.fault("anthropic_ignore_stop_sequences"):
            prompt.stop = list(stops)
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or not isinstance(metadata.get("user_id", ""), (str, type(None)))):
        raise ApiError("invalid_messages", "metadata: must be an object; user_id a string.")
    thinking = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
                raise ApiError("invalid_messages", "thinking.budget_tokens: an integer >= 1024 is required when thinking is enabled.")
            if prompt.max_tokens is not None and budget >= prompt.max_tokens:
                raise ApiError("invalid_messages", "thinking.budget_tokens: must be less than max_tokens.")
        elif kind not in ("disabled", "adaptive"):
            raise ApiError("invalid_messages", "thinking.type: must be enabled, disabled or adaptive.")
        prompt.reasoning = kind in ("enabled", "adaptive")
    _apply_tools(ctx, body, prompt)


def _apply_tools(ctx: RequestContext, body: dict[str, Any], prompt: engine.Prompt) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ApiError("invalid_messages", "tools: must be an array.")
        for k, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise ApiError("invalid_messages", f"tools.{k}: a tool needs a name.")
            schema = tool.get("input_schema")
            if schema is not None and not isinstance(schema, dict):
                raise ApiError("invalid_messages", f"tools.{k}.input_schema: must be an object.")
            prompt.tools.append(engine.ToolSpec(tool["name"], schema))
    choice = body.get("tool_choice")
    if choice is None or ctx.fault("anthropic_ignore_tool_choice"):
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        prompt.tool_mode = "auto"
    elif kind == "any":
        prompt.tool_mode = "auto" if ctx.fault("anthropic_tool_choice_any_as_auto") else "required"
    elif kind == "none":
        prompt.tool_mode = "required" if ctx.fault("anthropic_tool_choice_none_ignored") else "none"
    elif kind == "tool":
        name = choice.get("name")
        if name not in {t.name for t in prompt.tools}:
            raise ApiError("invalid_messages", f"tool_choice.name: {name!r} is not one of the tools.")
        prompt.tool_mode, prompt.forced_tool = "forced", name
        if ctx.fault("anthropic_tool_choice_tool_ignored"):
            prompt.tool_mode, prompt.forced_tool = "none", None
    else:
        raise ApiError("invalid_messages", "tool_choice.type: must be auto, any, tool or none.")
    prompt.parallel_tools = not choice.get("disable_parallel_tool_use", False)


# -- rendering ---------------------------------------------------------------------------------------
def render_message(ctx: RequestContext, model: str, choice: engine.Choice, input_tokens: int, output_tokens: int, prompt: engine.Prompt) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if choice.reasoning:
        signature = hashlib.sha256(choice.reasoning.encode()).hexdigest()
        content.append({"type": "thinking", "thinking": choice.reasoning, "signature": signature})
    if choice.text or not choice.tool_calls:
        content.append({"type": "text", "text": choice.text})
    for call in choice.tool_calls:
        try:
            arguments: Any = json.loads(call.arguments)
        except ValueError:  # cut by the token cap mid-JSON: what was complete (here, nothing)
            arguments = {}
        if ctx.fault("anthropic_tool_input_missing_required"):
            arguments = {}
        if ctx.fault("anthropic_tool_input_as_string"):
            arguments = call.arguments
        name = "undeclared_tool" if ctx.fault("anthropic_tool_use_undeclared") else call.name
        content.append({"type": "tool_use", "id": "toolu_" + call.id.removeprefix("call_"), "name": name, "input": arguments})
        if ctx.fault("anthropic_tool_use_duplicated"):
            content.append(dict(content[-1]))
    stop_reason = STOP_REASONS[choice.finish]
    if ctx.fault("anthropic_stop_reason_always_end_turn"):
        stop_reason = "end_turn"
    if ctx.fault("anthropic_stop_sequence_as_end_turn") and stop_reason == "stop_sequence":
        stop_reason = "end_turn"
    if ctx.fault("anthropic_stop_reason_tool_use_always") and not choice.tool_calls:
        stop_reason = "tool_use"
    stop_sequence = choice.stop_sequence if stop_reason == "stop_sequence" else None
    if ctx.fault("anthropic_stop_sequence_reason_end_turn") and stop_reason == "stop_sequence":
        stop_reason = "end_turn"  # the matched stop_sequence stays
    if ctx.fault("anthropic_no_stop_sequence_value"):
        stop_sequence = None
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if ctx.fault("anthropic_zero_usage"):
        usage["input_tokens"] = usage["output_tokens"] = 0
    if ctx.fault("anthropic_zero_input_tokens"):
        usage["input_tokens"] = 0
    if ctx.fault("anthropic_zero_output_tokens"):
        usage["output_tokens"] = 0
    if ctx.fault("anthropic_max_tokens_usage_understated") and stop_reason == "max_tokens":
        usage["output_tokens"] -= 1
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "chat.completion" if ctx.fault("anthropic_wrong_message_type") else "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_events(ctx: RequestContext, message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (event name, data) sequence of a streamed message, with the stream faults applied."""
    start = copy.deepcopy(message)
    start["content"] = []
    start["stop_reason"] = start["stop_sequence"] = None
    start["usage"] = {**message["usage"], "output_tokens": 1 if message["usage"]["output_tokens"] else 0}
    if ctx.fault("anthropic_stream_stop_reason_in_start"):
        start["stop_reason"] = "end_turn"
    if ctx.fault("anthropic_stream_start_role_user"):
        start["role"] = "user"
    if ctx.fault("anthropic_stream_zero_start_usage"):
        start["usage"] = {**start["usage"], "input_tokens": 0, "output_tokens": 0}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]
    offset = 1 if ctx.fault("anthropic_stream_index_from_1") else 0
    blocks = message["content"]
    if ctx.fault("anthropic_stream_drop_tool_use"):
        blocks = [b for b in blocks if b["type"] != "tool_use"]
    for index, block in enumerate(blocks):
        index += offset
        kind = block["type"]
        if kind == "text":
            head, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
            if ctx.fault("anthropic_stream_wrong_delta_type"):
                deltas = [{"type": "thinking_delta", "thinking": d["text"]} for d in deltas]
            if ctx.fault("anthropic_stream_differs") and deltas:
                deltas[-1]["text"] += " extra"
        elif kind == "thinking":
            head = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
            if ctx.fault("anthropic_stream_tool_input_array"):
                raw = "[1, 2]"
            pieces = _pieces(raw)
            if ctx.fault("anthropic_stream_tool_json_broken") and pieces:
                pieces = pieces[:-1]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": head}))
        for delta in deltas:
            delta_index = index + 1 if ctx.fault("anthropic_stream_delta_wrong_index") else index
            events.append(("content_block_delta", {"type": "content_block_delta", "index": delta_index, "delta": delta}))
        if not ctx.fault("anthropic_stream_no_block_stop"):
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
                             "usage": {"output_tokens": message["usage"]["output_tokens"]}}
    if ctx.fault("anthropic_stream_stop_reason_differs") and message["stop_reason"] == "end_turn":
        delta["delta"]["stop_reason"] = "stop_sequence"
    if ctx.fault("anthropic_stream_no_stop_reason"):
        delta["delta"]["stop_reason"] = None
    if ctx.fault("anthropic_stream_delta_stop_reason_changed") and delta["delta"]["stop_reason"] == "end_turn":
        delta["delta"]["stop_reason"] = "stop_sequence"
    if ctx.fault("anthropic_stream_stop_sequence_differs") and delta["delta"]["stop_reason"] == "end_turn":
        delta["delta"]["stop_sequence"] = "END"
    if ctx.fault("anthropic_stream_no_delta_usage"):
        del delta["usage"]
    events.append(("message_delta", delta))
    if ctx.fault("anthropic_stream_error_event_openai_shape"):
        events.append(("error", {"error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": None}}))
        return events
    events.append(("message_stop", {"type": "message_stop"}))
    return _order_faults(ctx, events) if ctx.faults else events


def _order_faults(ctx: RequestContext, events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Faults of the event order, each breaking one rule of check_stream_event_order."""
    names = [name for name, _ in events]
    first_delta = names.index("content_block_delta") if "content_block_delta" in names else None
    if ctx.fault("anthropic_stream_empty"):
        return [e for e in events if e[0] == "ping"]
    if ctx.fault("anthropic_stream_no_message_start"):
        return events[1:]
    if ctx.fault("anthropic_stream_event_after_stop"):
        return events + [e for e in events if e[0] == "message_delta"]
    if ctx.fault("anthropic_stream_two_message_starts"):
        return events[:1] + events
    if ctx.fault("anthropic_stream_block_after_delta"):
        delta = [e for e in events if e[0] == "message_delta"]
        rest = [e for e in events if e[0] != "message_delta"]
        return rest[:1] + delta + rest[1:]
    if ctx.fault("anthropic_stream_delta_before_start") and first_delta is not None:
        return events[:first_delta - 1] + [events[first_delta]] + events[first_delta - 1:]
    if ctx.fault("anthropic_stream_extra_block_stop") and "content_block_stop" in names:
        at = names.index("content_block_stop")
        return events[:at + 1] + [events[at]] + events[at + 1:]
    if ctx.fault("anthropic_stream_no_message_delta"):
        return [e for e in events if e[0] != "message_delta"]
    if ctx.fault("anthropic_stream_no_message_stop"):
        return [e for e in events if e[0] != "message_stop"]
    return events


def _sse_error_200(message: str) -> Response:
    async def body() -> AsyncIterator[bytes]:
        data = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        yield f"event: error\ndata: {json.dumps(data)}\n\n".encode()

    return StreamingResponse(body(), media_type="text/event-stream")


async def _events(ctx: RequestContext, message: dict[str, Any]) -> AsyncIterator[bytes]:
    for position, (name, data) in enumerate(stream_events(ctx, message)):
        text = json.dumps(data)
        if ctx.fault("anthropic_stream_no_event_lines"):
            yield f"data: {text}\n\n".encode()
        elif ctx.fault("anthropic_stream_wrong_event_names") and name == "content_block_delta":
            yield f"event: delta\ndata: {text}\n\n".encode()
        else:
            yield f"event: {name}\ndata: {text}\n\n".encode()
    if ctx.fault("anthropic_stream_done"):
        yield b"data: [DONE]\n\n"
