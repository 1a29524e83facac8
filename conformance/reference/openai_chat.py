"""OpenAI Chat Completions and Models endpoints of the reference server.

Conformant by construction to the upstream protocol and to the emulated profile; each named
fault (see :mod:`conformance.reference.faults`) breaks exactly one rule.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from conformance.reference import emulation, engine
from conformance.reference.context import ApiError, RequestContext, context_for, model_ids, not_emulated

PROTOCOL = "openai"
VERBOSE_WORDS = 150  # tolerance verbose_model: about 200 tokens of notes in each tool call
# Fallback error rows when the emulated profile leaves a field unchecked ("").
DEFAULT_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error"}
BLOCK_FIELDS = {
    "text": "text",
    "image_url": "image_url",
    "input_audio": "input_audio",
    "video_url": "video_url",
    "video": "video",
    "file": "file",
}
RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}


# -- responses ---------------------------------------------------------------------------------------
def _headers(ctx: RequestContext) -> dict[str, str]:
    return {} if ctx.fault("no_request_id") else {"x-request-id": ctx.request_id}


def error_response(ctx: RequestContext, error: ApiError) -> Response:
    row = ctx.emulated("errors", error.scenario, default={}) or {}
    status = int(row.get("status") or 400)
    err_type = row.get("type") or DEFAULT_TYPES.get(status, "invalid_request_error")
    code = row.get("code") or emulation.undocumented_error_code(ctx, error.scenario)
    if ctx.fault("wrong_error_code"):
        code = "bad_request"
    if ctx.fault("error_code_integer"):
        code = status
    if ctx.fault("echo_key_in_error") and getattr(ctx, "presented_key", None):
        error.message += f" (key {ctx.presented_key})"  # type: ignore[attr-defined]
    if ctx.fault("bad_key_400") and error.scenario == "invalid_api_key":
        status = 400
    if ctx.fault("bad_json_500") and error.scenario == "invalid_json":
        status, err_type = 500, "api_error"
    headers = _headers(ctx)
    if ctx.fault("error_bare_string"):
        return PlainTextResponse(error.message, status_code=status, headers=headers)
    body = {"message": error.message, "type": err_type, "param": error.param, "code": code}
    if ctx.tolerate("openai_error_code_int"):  # legal variation: an integer code where none is documented, no param
        body = {"message": error.message, "type": err_type, "code": code if row.get("code") else status}
    if ctx.fault("error_unwrapped"):
        return JSONResponse(body, status_code=status, headers=headers)
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def authenticate(ctx: RequestContext, request: Request) -> None:
    """Bearer auth (or x-api-key where the profile documents it)."""
    if ctx.settings.open_access:
        return
    schemes = emulation.auth_schemes(ctx)
    presented = []
    authorization = request.headers.get("authorization")
    if authorization is not None and "bearer" in schemes:
        scheme, _, key = authorization.partition(" ")
        presented.append(key.strip() if scheme.lower() == "bearer" else "")
    if "x-api-key" in schemes and request.headers.get("x-api-key") is not None:
        presented.append(request.headers["x-api-key"])
    if not presented:
        raise ApiError("missing_api_key", "Missing Bearer token in Authorization header.")
    ctx.presented_key = presented[0]  # type: ignore[attr-defined]  (fault echo_key_in_reply)
    if not any(key in ctx.settings.api_keys for key in presented):
        raise ApiError("invalid_api_key", "Invalid API key.")


# -- models ------------------------------------------------------------------------------------------
def _model_object(model_id: str, ctx: RequestContext) -> dict[str, Any]:
    owner = model_id.split("/", 1)[0] if "/" in model_id else "reference"
    item = {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": owner}
    if ctx.fault("models_no_owned_by"):
        del item["owned_by"]
    return item


async def list_models(request: Request) -> Response:
    ctx = context_for(request, PROTOCOL)
    if ctx is None:
        return not_emulated(PROTOCOL)
    try:
        authenticate(ctx, request)
    except ApiError as error:
        return error_response(ctx, error)
    if ctx.fault("models_list_500"):
        return JSONResponse({"error": {"message": "the model list is unavailable", "type": "api_error", "param": None, "code": None}}, status_code=500, headers=_headers(ctx))
    data = [_model_object(m, ctx) for m in emulation.listed_models(ctx, model_ids(ctx.settings))]
    if ctx.fault("models_bare_array"):
        return JSONResponse(data, headers=_headers(ctx))
    body: dict[str, Any] = {"object": "list", "data": data}
    if ctx.fault("models_no_object_list"):
        del body["object"]
    return JSONResponse(body, headers=_headers(ctx))


async def get_model(request: Request) -> Response:
    ctx = context_for(request, PROTOCOL)
    if ctx is None:
        return not_emulated(PROTOCOL)
    try:
        authenticate(ctx, request)
        model_id = request.path_params["model_id"]
        if model_id not in model_ids(ctx.settings) or ctx.fault("model_lookup_404"):
            raise ApiError("model_not_found", f"The model '{model_id}' does not exist.", "model")
    except ApiError as error:
        return error_response(ctx, error)
    item = _model_object(model_id, ctx)
    if ctx.fault("model_lookup_wrong_id"):
        item["id"] = model_id + "-other"
    if ctx.fault("model_lookup_no_object"):
        del item["object"]
    return JSONResponse(item, headers=_headers(ctx))


# -- chat completions --------------------------------------------------------------------------------
async def chat_completions(request: Request) -> Response:
    ctx = context_for(request, PROTOCOL)
    if ctx is None:
        return not_emulated(PROTOCOL)
    try:
        authenticate(ctx, request)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError("invalid_json", f"Request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError("invalid_json", "Request body must be a JSON object.")
        model = emulation.prepare(ctx, body, resolve_model(ctx, body))
        prompt = build_prompt(ctx, body)
        stream = body.get("stream") is True
        if model not in model_ids(ctx.settings):
            if stream and ctx.fault("error_as_200_stream"):
                return _sse_error_200(ctx, f"The model '{model}' does not exist.")
            if stream and ctx.fault("error_as_4xx_stream"):
                return _sse_error_200(ctx, f"The model '{model}' does not exist.", status=404)
            if not ctx.fault("unknown_model_200"):
                raise ApiError("model_not_found", f"The model '{model}' does not exist or you do not have access to it.", "model")
    except ApiError as error:
        return error_response(ctx, error)
    generation = engine.generate(prompt)
    if ctx.faults:
        generation_faults(ctx, generation)
    want_logprobs = body.get("logprobs") is True
    if stream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return _stream(ctx, model, generation, want_logprobs, include_usage)
    reply = emulation.decorate(ctx, finish_completion(ctx, body, render_completion(ctx, model, generation, want_logprobs)))
    if ctx.faults:
        return reply_response(ctx, body, reply)
    return JSONResponse(reply, headers=_headers(ctx))


def resolve_model(ctx: RequestContext, body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None and (not ctx.emulated("model_required", default=True) or ctx.fault("model_optional")):
        model = ctx.emulated("default_model")
    if not isinstance(model, str) or not model:
        raise ApiError("invalid_messages" if "model" in body else "missing_model", "'model' is required and must be a string.", "model")
    return model


def build_prompt(ctx: RequestContext, body: dict[str, Any]) -> engine.Prompt:
    """Validate the request (raising the documented errors) and turn it into an engine prompt."""
    body = faulted_request(ctx, body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError("invalid_messages", "'messages' must be a non-empty array.", "messages")
    roles = ctx.emulated("roles", default=["system", "developer", "user", "assistant", "tool"])
    texts: list[str] = []
    issued_ids: set[str] = set()
    last_user = ""
    last_tool_result = None
    media: list[int] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError("invalid_messages", f"messages[{i}] must be an object with a string 'role'.", f"messages[{i}]")
        role = message["role"]
        if role not in roles and not ctx.fault("accept_bad_role"):
            raise ApiError("unsupported_message_role", f"messages[{i}].role '{role}' is not supported.", f"messages[{i}].role")
        text = _content_text(ctx, message, i, media)
        if role == "assistant":
            for call in _assistant_tool_calls(message, i):
                issued_ids.add(call)
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise ApiError("invalid_messages", f"messages[{i}].tool_call_id is required for role 'tool'.", f"messages[{i}].tool_call_id")
            if call_id not in issued_ids and not ctx.fault("accept_tool_call_mismatch"):
                raise ApiError(
                    "tool_call_id_mismatch",
                    f"messages[{i}].tool_call_id '{call_id}' does not match any tool call of a previous assistant message.",
                    f"messages[{i}].tool_call_id",
                )
            last_tool_result = text
        if role == "user":
            last_user = text
        texts.append(text)
    prompt = engine.Prompt(texts=texts, last_user_text=last_user, last_role=messages[-1]["role"], last_tool_result=last_tool_result,
                           media_tokens=sum(media), literal=not ctx.tolerate("free_text"))
    if ctx.tolerate("verbose_model"):
        prompt.verbose_tools = VERBOSE_WORDS
    _apply_parameters(ctx, body, prompt)
    return prompt


def _content_text(ctx: RequestContext, message: dict[str, Any], i: int, media: list[int] | None = None) -> str:
    """The text of a message; the tokens of its other blocks are appended to ``media``."""
    content = message.get("content")
    if content is None:
        if message["role"] == "assistant":
            return ""
        raise ApiError("invalid_messages", f"messages[{i}].content is required.", f"messages[{i}].content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or ctx.emulated("string_content_only", default=False):
        raise ApiError("invalid_messages", f"messages[{i}].content must be a string.", f"messages[{i}].content")
    parts = []
    for j, block in enumerate(content):
        where = f"messages[{i}].content[{j}]"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_FIELDS:
            raise ApiError("invalid_messages", f"{where} is not a known content block.", where)
        value = block.get(BLOCK_FIELDS[block["type"]])
        if block["type"] == "text":
            if not isinstance(value, str):
                raise ApiError("invalid_messages", f"{where}.text must be a string.", where)
            parts.append(value)
        elif value is None:
            raise ApiError("invalid_messages", f"{where} lacks its '{BLOCK_FIELDS[block['type']]}' field.", where)
        elif media is not None and not (ctx.fault("drop_image_block") and block["type"] == "image_url"):
            media.append(engine.media_tokens(value))
    return "\n".join(parts)


def _assistant_tool_calls(message: dict[str, Any], i: int) -> list[str]:
    calls = message.get("tool_calls")
    if calls is None:
        return []
    ids = []
    if not isinstance(calls, list):
        raise ApiError("invalid_messages", f"messages[{i}].tool_calls must be an array.", f"messages[{i}].tool_calls")
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not (isinstance(call, dict) and isinstance(call.get("id"), str) and isinstance(function, dict)
                and isinstance(function.get("name"), str) and isinstance(function.get("arguments"), str)):
            raise ApiError("invalid_messages", f"messages[{i}].tool_calls[{j}] is malformed.", f"messages[{i}].tool_calls[{j}]")
        ids.append(call["id"])
    return ids


def _number(body: dict[str, Any], name: str, low: float | None = None, high: float | None = None, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ApiError("unsupported_parameter", f"'{name}' must be a {'integer' if integer else 'number'}.", name)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ApiError("unsupported_parameter", f"'{name}' must be between {low} and {high}.", name)
    return value


def _apply_parameters(ctx: RequestContext, body: dict[str, Any], prompt: engine.Prompt) -> None:
    for name, (low, high) in RANGES.items():
        _number(body, name, low, high)
    effort = body.get("reasoning_effort")
    allowed = ctx.emulated("params", "reasoning_effort", "values", default=None)
    if effort is not None and allowed is not None and effort not in allowed:
        raise ApiError("unsupported_parameter", f"reasoning_effort '{effort}' is not supported; use one of {', '.join(allowed)}.", "reasoning_effort")
    if "stream_options" in body and ctx.fault("reject_stream_options"):
        raise ApiError("unsupported_parameter", "stream_options is not supported.", "stream_options")
    prompt.seed = _number(body, "seed", integer=True)
    n_max = ctx.emulated("params", "n", "max", default=None)
    prompt.n = _number(body, "n", 1, n_max, integer=True) or 1
    max_tokens = _number(body, "max_tokens", 1, ctx.emulated("params", "max_tokens", "max", default=None), integer=True)
    max_completion = _number(body, "max_completion_tokens", 1, integer=True)
    prompt.max_tokens = max_completion if max_completion is not None else max_tokens
    stop = body.get("stop")
    if isinstance(stop, str):
        prompt.stop = [stop]
    elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop):
        prompt.stop = list(stop)
    elif stop is not None:
        raise ApiError("unsupported_parameter", "'stop' must be a string or an array of at most 4 strings.", "stop")
    logprobs = body.get("logprobs")
    top = _number(body, "top_logprobs", 0, 20, integer=True)
    if top is not None and logprobs is not True:
        raise ApiError("unsupported_parameter", "'top_logprobs' requires 'logprobs': true.", "top_logprobs")
    prompt.top_logprobs = top or 0
    _apply_response_format(body, prompt)
    _apply_tools(body, prompt)
    _apply_breadth_parameters(ctx, body)
    prompt.reasoning = effort is not None and effort != "none"


def _apply_response_format(body: dict[str, Any], prompt: engine.Prompt) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return
    if kind == "json_object":
        prompt.json_mode = "object"
        return
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ApiError("unsupported_parameter", "response_format.json_schema needs a 'name'.", "response_format")
        prompt.json_mode = "schema"
        prompt.json_schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
        return
    raise ApiError("unsupported_parameter", "response_format.type must be text, json_object or json_schema.", "response_format")


def _apply_tools(body: dict[str, Any], prompt: engine.Prompt) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ApiError("unsupported_parameter", "'tools' must be an array.", "tools")
        for k, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not (isinstance(tool, dict) and tool.get("type") == "function" and isinstance(function, dict) and isinstance(function.get("name"), str)):
                raise ApiError("unsupported_parameter", f"tools[{k}] must be a function tool with a name.", f"tools[{k}]")
            params = function.get("parameters")
            prompt.tools.append(engine.ToolSpec(function["name"], params if isinstance(params, dict) else None))
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none", "required"):
        prompt.tool_mode = choice or "auto"
    elif isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        name = choice["function"]["name"]
        if name not in {t.name for t in prompt.tools}:
            raise ApiError("unsupported_parameter", f"tool_choice names '{name}', which is not in 'tools'.", "tool_choice")
        prompt.tool_mode, prompt.forced_tool = "forced", name
    else:
        raise ApiError("unsupported_parameter", "tool_choice must be auto, none, required or a function object.", "tool_choice")
    prompt.parallel_tools = body.get("parallel_tool_calls") is not False


# -- rendering ---------------------------------------------------------------------------------------
def _finish(choice: engine.Choice, ctx: RequestContext | None = None) -> str:
    if ctx is not None and ctx.fault("cap_finish_stop") and choice.finish == "length":
        return "stop"
    if ctx is not None and ctx.fault("stop_finish_length") and choice.finish == "stop_sequence":
        return "length"
    return "stop" if choice.finish == "stop_sequence" else choice.finish


def usage_of(generation: engine.Generation) -> dict[str, Any]:
    completion = generation.completion_tokens
    reasoning = sum(c.reasoning_tokens for c in generation.choices)
    return {
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": generation.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _tool_call_objects(choice: engine.Choice) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in choice.tool_calls]


def render_completion(ctx: RequestContext, model: str, generation: engine.Generation, want_logprobs: bool) -> dict[str, Any]:
    choices = []
    for choice in generation.choices:
        message: dict[str, Any] = {"role": "assistant", "content": choice.text if not choice.tool_calls else None, "refusal": None}
        if choice.tool_calls:
            message["tool_calls"] = _tool_call_objects(choice)
        if choice.reasoning is not None:
            message["reasoning_content"] = choice.reasoning
        logprobs = {"content": choice.logprobs, "refusal": None} if want_logprobs else None
        index = choice.index + 1 if ctx.fault("bad_choice_index") else choice.index
        finish = "done" if ctx.fault("bad_finish_reason") else _finish(choice, ctx)
        choices.append({"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish})
    usage = usage_of(generation)
    if ctx.fault("length_below_cap") and any(c.finish == "length" for c in generation.choices):
        usage["completion_tokens"] -= 1  # the reply says it was cut, but counts fewer tokens than the cap
        usage["total_tokens"] -= 1
    if ctx.fault("bad_usage_arithmetic"):
        usage["total_tokens"] += 7
    created = int(time.time())
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "text_completion" if ctx.fault("wrong_object") else "chat.completion",
        "created": created * 1000 if ctx.fault("created_in_ms") else created,
        "model": model,
        "choices": choices,
        "usage": usage,
        "system_fingerprint": "fp_reference",
        "service_tier": "default",
    }


def _stream(ctx: RequestContext, model: str, generation: engine.Generation, want_logprobs: bool, include_usage: bool) -> Response:
    media_type = "text/plain" if ctx.fault("stream_wrong_content_type") else "text/event-stream"
    headers = {**_headers(ctx), "cache-control": "no-cache"}
    return StreamingResponse(_events(ctx, model, generation, want_logprobs, include_usage), media_type=media_type, headers=headers)


def _sse_error_200(ctx: RequestContext, message: str, status: int = 200) -> Response:
    async def body() -> AsyncIterator[bytes]:
        error = {"error": {"message": message, "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}
        yield f"data: {json.dumps(error)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), status_code=status, media_type="text/event-stream", headers=_headers(ctx))


def chunk_deltas(ctx: RequestContext, generation: engine.Generation, want_logprobs: bool) -> list[dict[str, Any]]:
    """The choice entries of the stream, in order, one per chunk (before the fault edits)."""
    entries: list[dict[str, Any]] = []
    for choice in generation.choices:
        first: dict[str, Any] = {"role": "assistant", "content": "" if not choice.tool_calls else None, "refusal": None}
        entries.append({"index": choice.index, "delta": first, "logprobs": None, "finish_reason": None})
        if choice.reasoning:
            for piece in _pieces(choice.reasoning):
                entries.append({"index": choice.index, "delta": {"reasoning_content": piece}, "logprobs": None, "finish_reason": None})
        for k, call in enumerate(choice.tool_calls):
            head = {"index": k, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            entries.append({"index": choice.index, "delta": {"tool_calls": [head]}, "logprobs": None, "finish_reason": None})
            for piece in _pieces(call.arguments):
                delta = {"tool_calls": [{"index": k, "function": {"arguments": piece}}]}
                entries.append({"index": choice.index, "delta": delta, "logprobs": None, "finish_reason": None})
        texts = [engine.tokenizer.token_text(t) for t in choice.tokens]
        for position, text in enumerate(texts):
            logprobs = {"content": [choice.logprobs[position]], "refusal": None} if want_logprobs and choice.logprobs else None
            entries.append({"index": choice.index, "delta": {"content": text}, "logprobs": logprobs, "finish_reason": None})
        entries.append({"index": choice.index, "delta": {}, "logprobs": None, "finish_reason": _finish(choice, ctx)})
    return entries


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def _events(ctx: RequestContext, model: str, generation: engine.Generation, want_logprobs: bool, include_usage: bool) -> AsyncIterator[bytes]:
    chunk_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    if ctx.fault("created_in_ms"):
        created *= 1000
    separator = "\n" if ctx.fault("no_blank_lines") else "\n\n"
    entries = faulted_stream_entries(ctx, chunk_deltas(ctx, generation, want_logprobs))
    if ctx.fault("stream_finish_differs"):
        for entry in entries:
            if entry["finish_reason"] == "stop":
                entry["finish_reason"] = "length"
    if ctx.fault("stream_differs"):
        texts = [e for e in entries if e["delta"].get("content")]
        if texts:
            texts[-1]["delta"]["content"] += " extra"
    usage = usage_of(generation)
    usage_everywhere = include_usage and ctx.fault("usage_on_every_chunk")
    finals = [e for e in entries if e["finish_reason"] is not None]
    for position, entry in enumerate(entries):
        delta = entry["delta"]
        if ctx.fault("repeat_role") and position > 0:
            delta["role"] = "assistant"
        if ctx.fault("first_delta_no_role") and "role" in delta:
            del delta["role"]
        if entry["finish_reason"] is not None:
            if ctx.fault("no_finish_reason"):
                entry["finish_reason"] = None
            elif ctx.fault("empty_finish_reason"):
                entry["finish_reason"] = ""
            elif ctx.fault("stream_bad_finish_reason"):
                entry["finish_reason"] = "done"
        if ctx.fault("finish_reason_twice") and position + 1 < len(entries) and entries[position + 1] in finals:
            entry["finish_reason"] = entries[position + 1]["finish_reason"]
        chunk: dict[str, Any] = {
            "id": f"{chunk_id}-{position}" if ctx.fault("changing_chunk_id") else chunk_id,
            "object": "chat.completion.chunk",
            "created": created + position if ctx.fault("changing_created") else created,
            "model": f"{model}-{position}" if ctx.fault("changing_model") and position else model,
            "system_fingerprint": "fp_reference",
            "choices": [entry],
        }
        if ctx.fault("chunk_wrong_object"):
            chunk["object"] = "chat.completion"
        if ctx.fault("stream_no_choices"):
            chunk["choices"] = []
        if include_usage:
            chunk["usage"] = usage if usage_everywhere else None
        if ctx.fault("usage_when_not_asked") and not include_usage and entry is entries[-1]:
            chunk["usage"] = usage
        if ctx.fault("usage_chunk_with_choices") and include_usage and entry is entries[-1]:
            chunk["usage"] = usage
            yield f"data: {json.dumps(chunk)}{separator}".encode()
            break
        yield f"data: {json.dumps(chunk)}{separator if not (ctx.fault('two_chunks_per_event') and position == 0) else chr(10)}".encode()
        if ctx.fault("usage_chunk_per_choice") and include_usage and len(finals) > 1 and entry in finals:
            per_choice = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
                          "system_fingerprint": "fp_reference", "choices": [], "usage": usage}
            yield f"data: {json.dumps(per_choice)}{separator}".encode()
        if ctx.fault("keepalive_comments") and position == 0:
            yield b": keep-alive\n\n"
        if ctx.fault("data_not_json") and position == 1:
            yield f"data: not json{separator}".encode()
        if ctx.fault("content_after_finish") and entry is entries[-1]:
            late = {**chunk, "choices": [{"index": entry["index"], "delta": {"content": " late"}, "logprobs": None, "finish_reason": None}]}
            late.pop("usage", None)
            yield f"data: {json.dumps(late)}{separator}".encode()
        if ctx.fault("keepalive_as_data") and position == 1:
            yield f"data: {separator}".encode()
        if ctx.fault("midstream_error_unframed") and position == 2:
            error = {"error": {"message": "upstream failed", "type": "api_error", "param": None, "code": "provider_error"}}
            yield f"{json.dumps(error)}\n\n".encode()
            return
    else:
        if ctx.fault("usage_chunk_per_choice") and include_usage and len(finals) > 1:
            pass  # sent after each choice ended instead
        elif include_usage and not ctx.fault("ignore_include_usage") and not usage_everywhere:
            final = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": "fp_reference", "choices": [], "usage": usage}
            yield f"data: {json.dumps(final)}{separator}".encode()
            if ctx.fault("usage_chunk_not_last"):
                after = {**final, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}]}
                del after["usage"]
                yield f"data: {json.dumps(after)}{separator}".encode()
        elif usage_everywhere:
            final = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": "fp_reference", "choices": [], "usage": usage}
            yield f"data: {json.dumps(final)}{separator}".encode()
    if not ctx.fault("no_done"):
        yield f"data: [DONE]{separator}".encode()
    if ctx.fault("data_after_done"):
        yield f"data: {json.dumps({'id': chunk_id, 'object': 'chat.completion.chunk', 'created': created, 'model': model, 'choices': []})}{separator}".encode()


# -- parameters and message shapes of the extended tables ---------------------------------------------
AUDIO_FORMATS = ("wav", "mp3", "flac", "opus", "pcm16")


def _apply_breadth_parameters(ctx: RequestContext, body: dict[str, Any]) -> None:
    """Validate logit_bias, modalities/audio and the other extended parameters' types."""
    bias = body.get("logit_bias")
    if bias is not None:
        low = ctx.emulated("params", "logit_bias", "min", default=-100)
        high = ctx.emulated("params", "logit_bias", "max", default=100)
        if not isinstance(bias, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high for v in bias.values()
        ):
            raise ApiError("unsupported_parameter", f"'logit_bias' values must be numbers between {low} and {high}.", "logit_bias")
    modalities = body.get("modalities")
    if modalities is not None:
        if not isinstance(modalities, list) or not set(modalities) <= {"text", "audio"}:
            raise ApiError("unsupported_parameter", "'modalities' must be a subset of ['text', 'audio'].", "modalities")
        if "audio" in modalities:
            audio = body.get("audio")
            if not isinstance(audio, dict) or not isinstance(audio.get("voice"), str) or audio.get("format") not in AUDIO_FORMATS:
                raise ApiError("unsupported_parameter", "audio output needs 'audio': {voice, format}.", "audio")
            if body.get("stream") is True:
                raise ApiError("unsupported_parameter", "audio output is not available in streamed replies.", "modalities")
    for name, kinds in (("user", str), ("safety_identifier", str), ("metadata", dict), ("store", bool), ("seed", int),
                        ("service_tier", str), ("verbosity", str), ("prediction", dict), ("web_search_options", dict),
                        ("parallel_tool_calls", bool), ("logprobs", bool)):
        value = body.get(name)
        if value is not None and (not isinstance(value, kinds) or (kinds is int and isinstance(value, bool))):
            raise ApiError("unsupported_parameter", f"'{name}' has the wrong type.", name)


def faulted_request(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """The request as a faulty server sees it: an ignored parameter is simply dropped."""
    if not ctx.faults:
        return body
    body = dict(body)
    dropped = {
        "ignore_n": "n", "ignore_max_tokens": "max_tokens", "ignore_max_completion_tokens": "max_completion_tokens",
        "ignore_stop": "stop", "accept_out_of_range_temperature": "temperature", "ignore_tool_choice": "tool_choice",
        "ignore_parallel_tool_calls": "parallel_tool_calls",
    }
    for name, param in dropped.items():
        if ctx.fault(name):
            body.pop(param, None)
    if "temperature" in body:  # refusals of a parameter the profile documents as required
        if ctx.fault("refuse_temperature"):
            raise ApiError("unsupported_parameter", "temperature is not supported.", "temperature")
        if ctx.fault("refuse_temperature_401"):
            raise ApiError("invalid_api_key", "temperature requires another plan.")
        if ctx.fault("refuse_temperature_404"):
            raise ApiError("model_not_found", "no model here supports temperature.", "model")
    if ctx.fault("forced_tool_choice_as_none") and isinstance(body.get("tool_choice"), dict):
        body["tool_choice"] = "none"
    if ctx.fault("ignore_json_schema") and (body.get("response_format") or {}).get("type") == "json_schema":
        body.pop("response_format")
    if ctx.fault("reject_max_completion_tokens") and "max_completion_tokens" in body:
        raise ApiError("unsupported_parameter", "max_completion_tokens is not supported; use max_tokens.", "max_completion_tokens")
    if ctx.fault("logprobs_require_top") and body.get("logprobs") is True and body.get("top_logprobs") is None:
        raise ApiError("unsupported_parameter", "'top_logprobs' is required with 'logprobs'.", "top_logprobs")
    if ctx.fault("reject_reasoning_effort_value") and body.get("reasoning_effort") == "minimal":
        raise ApiError("unsupported_parameter", "reasoning_effort 'minimal' is not supported.", "reasoning_effort")
    for i, message in enumerate(body.get("messages") if isinstance(body.get("messages"), list) else []):
        if not isinstance(message, dict):
            continue
        if ctx.fault("reject_null_assistant_content") and message.get("role") == "assistant" and message.get("content", 0) is None:
            raise ApiError("invalid_messages", f"messages[{i}].content must be a string.", f"messages[{i}].content")
        if ctx.fault("reject_empty_content") and message.get("content") == "":
            raise ApiError("invalid_messages", f"messages[{i}].content must not be empty.", f"messages[{i}].content")
    return body


def finish_completion(ctx: RequestContext, body: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Audio output, and the faults of tool calls, logprobs and reasoning in a non-streamed reply."""
    modalities = body.get("modalities") if isinstance(body.get("modalities"), list) else []
    for choice in result["choices"]:
        message = choice["message"]
        if "audio" in modalities and not message.get("tool_calls"):
            from conformance import media

            wav = body["audio"]["format"] == "wav"
            data = "" if ctx.fault("audio_output_no_data") else media.b64(media.wav_tone(0.2) if wav else media.mp3_silence(4))
            message["audio"] = {"id": "audio_" + uuid.uuid4().hex[:16], "data": data, "expires_at": int(time.time()) + 3600,
                                "transcript": message.get("content") or ""}
            if ctx.fault("audio_expires_at_string"):
                message["audio"]["expires_at"] = str(message["audio"]["expires_at"])
            if ctx.fault("audio_data_not_base64"):
                message["audio"]["data"] = "not base64!"
            if ctx.fault("audio_output_missing"):
                message["audio"] = None
            message["content"] = None
        for call in message.get("tool_calls") or []:
            _fault_call(ctx, call["function"])
        if message.get("tool_calls") and ctx.fault("tool_calls_finish_stop"):
            choice["finish_reason"] = "stop"
        if message.get("tool_calls") and ctx.fault("tool_calls_finish_length"):
            choice["finish_reason"] = "length"
        if "reasoning_content" in message and ctx.fault("reasoning_content_object"):
            message["reasoning_content"] = {"text": message["reasoning_content"]}
        if choice.get("logprobs") is not None:
            choice["logprobs"] = _fault_logprobs(ctx, choice["logprobs"], drop_last=True)
    return result


def _fault_call(ctx: RequestContext, function: dict[str, Any]) -> None:
    if ctx.fault("tool_arguments_object") and isinstance(function.get("arguments"), str):
        function["arguments"] = json.loads(function["arguments"] or "{}")
    if ctx.fault("tool_arguments_empty") and function.get("arguments") == "{}":
        function["arguments"] = ""


def _fault_logprobs(ctx: RequestContext, logprobs: dict[str, Any], drop_last: bool) -> dict[str, Any] | None:
    if not ctx.faults:
        return logprobs
    if ctx.fault("logprobs_dropped"):
        return None
    entries = logprobs.get("content") or []
    if ctx.fault("logprobs_legacy_shape"):
        return {"tokens": [e["token"] for e in entries], "token_logprobs": [e["logprob"] for e in entries],
                "top_logprobs": [{a["token"]: a["logprob"] for a in e["top_logprobs"]} for e in entries], "text_offset": []}
    if ctx.fault("logprobs_string"):
        return "present"  # type: ignore[return-value]
    if ctx.fault("logprobs_content_null"):
        return {"content": None, "refusal": None}
    for entry in entries:
        if ctx.fault("logprob_positive"):
            entry["logprob"] = 0.5
        if ctx.fault("logprob_token_null"):
            entry["token"] = None
        if ctx.fault("logprob_bytes_out_of_range"):
            entry["bytes"] = [300]
        if ctx.fault("top_logprobs_null"):
            entry["top_logprobs"] = None
            continue
        if ctx.fault("top_logprobs_unsorted") and len(entry["top_logprobs"]) > 1:
            entry["top_logprobs"] = list(reversed(entry["top_logprobs"]))
        if ctx.fault("top_logprobs_wrong_length") and entry["top_logprobs"]:
            entry["top_logprobs"] = entry["top_logprobs"][:-1]
        if ctx.fault("logprob_bytes_mismatch"):
            entry["bytes"] = list(b"?" + bytes(entry["bytes"]))
    if ctx.fault("logprobs_tokens_mismatch") and entries and drop_last:
        logprobs["content"] = entries[:-1]
    if ctx.fault("logprob_entry_not_object") and entries:
        logprobs["content"] = [e["token"] for e in entries]
    return logprobs


def faulted_stream_entries(ctx: RequestContext, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The faults of tool calls, logprobs and reasoning in a stream (the choice entries, in order)."""
    if not ctx.faults:
        return entries
    headers_seen: dict[tuple[int, Any], dict[str, Any]] = {}
    dropped_one = False
    for entry in entries:
        delta = entry["delta"]
        for part in delta.get("tool_calls") or []:
            key = (entry["index"], part.get("index"))
            function = part.setdefault("function", {})
            if "id" in part:
                headers_seen[key] = {"id": part["id"], "type": part["type"], "name": function.get("name")}
            elif ctx.fault("stream_tool_call_header_repeated") and key in headers_seen:
                head = headers_seen[key]
                part.update(id=head["id"], type=head["type"])
                function["name"] = head["name"]
            if ctx.fault("tool_arguments_object") and function.get("arguments"):
                function["arguments"] = {"fragment": function["arguments"]}
            if ctx.fault("stream_tool_call_no_index"):
                part.pop("index", None)
            if ctx.fault("stream_tool_call_no_id") and "id" in part:
                part["id"] = None
            if ctx.fault("stream_tool_call_type_repeated") and "id" not in part:
                part["type"] = "function"
        if entry["finish_reason"] == "tool_calls" and ctx.fault("tool_calls_finish_stop"):
            entry["finish_reason"] = "stop"
        if entry["finish_reason"] == "tool_calls" and ctx.fault("tool_calls_finish_length"):
            entry["finish_reason"] = "length"
        if delta.get("reasoning_content") and ctx.fault("reasoning_content_object"):
            delta["reasoning_content"] = {"text": delta["reasoning_content"]}
        if entry.get("logprobs") is not None:
            if ctx.fault("logprobs_tokens_mismatch") and not dropped_one:
                entry["logprobs"] = {"content": [], "refusal": None}
                dropped_one = True
            else:
                entry["logprobs"] = _fault_logprobs(ctx, entry["logprobs"], drop_last=False)
    return entries


# -- faults that each break one rule of a reply (declared in faults_openai.py) ------------------------
def generation_faults(ctx: RequestContext, generation: engine.Generation) -> None:
    """Faults of the generated tool calls: they reach the streamed and the non-streamed reply alike."""
    for choice in generation.choices:
        for call in choice.tool_calls:
            if ctx.fault("tool_call_undeclared_name"):
                call.name = "undeclared_tool"
            if ctx.fault("tool_arguments_truncated") and call.arguments:
                call.arguments = call.arguments[:-1]
            if ctx.fault("tool_arguments_array"):
                call.arguments = "[1, 2]"
            if ctx.fault("tool_arguments_schema_mismatch") and call.arguments not in ("", "{}"):
                call.arguments = '{"unexpected": true}'
        if ctx.fault("duplicate_tool_call_id") and len(choice.tool_calls) > 1:
            for call in choice.tool_calls[1:]:
                call.id = choice.tool_calls[0].id


def reply_response(ctx: RequestContext, body: dict[str, Any], reply: dict[str, Any]) -> Response:
    """A non-streamed reply with the faults that break one rule of its body or headers."""
    payload: Any = reply
    for choice in reply["choices"]:
        message = choice["message"]
        if ctx.fault("finish_tool_calls_without_calls") and not message.get("tool_calls"):
            choice["finish_reason"] = "tool_calls"
        content = message.get("content")
        kind = ((body.get("response_format") or {}).get("type")) if isinstance(body.get("response_format"), dict) else None
        if ctx.fault("json_mode_array") and kind in ("json_object", "json_schema"):
            message["content"] = "[1, 2]"
        if ctx.fault("json_schema_mismatch") and kind == "json_schema":
            message["content"] = json.dumps({"unexpected": True})
        if ctx.fault("token_cap_usage_understated") and isinstance(content, str):
            message["content"] = " ".join(["word"] * 40)
        if "reasoning_content" in message and ctx.fault("reasoning_tokens_zero"):
            reply["usage"]["completion_tokens_details"]["reasoning_tokens"] = 0
    usage = reply["usage"]
    if ctx.fault("reasoning_tokens_negative"):
        usage["completion_tokens_details"]["reasoning_tokens"] = -1
    if ctx.fault("usage_prompt_zero"):
        usage["total_tokens"] -= usage["prompt_tokens"]
        usage["prompt_tokens"] = 0
    if ctx.fault("usage_completion_zero"):
        usage["total_tokens"] -= usage["completion_tokens"]
        usage["completion_tokens"] = 0
    if ctx.fault("usage_cached_exceeds_prompt"):
        usage["prompt_tokens_details"]["cached_tokens"] = usage["prompt_tokens"] + 5
    if ctx.fault("usage_reasoning_exceeds_completion"):
        usage["completion_tokens_details"]["reasoning_tokens"] = usage["completion_tokens"] + 5
    if ctx.fault("created_before_2001"):
        reply["created"] = 123_456
    if ctx.fault("created_stale"):
        reply["created"] -= 10 * 86400
    if ctx.fault("echo_key_in_reply"):
        key = getattr(ctx, "presented_key", "")
        reply["choices"][0]["message"]["content"] = f"your key is {key}"
    if ctx.fault("reply_not_object"):
        payload = [reply]
    media_type = "text/plain" if ctx.fault("json_as_text_plain") else "application/json"
    return Response(json.dumps(payload), media_type=media_type, headers=_headers(ctx))
