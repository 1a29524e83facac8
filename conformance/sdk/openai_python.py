"""openai-python as a referee: the recorded exchange through the real client code path."""

from __future__ import annotations

import json
from typing import Any

from conformance.exchange import Exchange
from conformance.sdk import BREAKS, NOT_EXERCISED, OPENAI, TRUNCATED, WORKS, Outcome, Replayer, body_bytes, describe, mock_http_client, quiet

MESSAGES = [{"role": "user", "content": "replay"}]
CREATE, CREATE_STREAM, STREAM_HELPER = "chat.completions.create", "chat.completions.create(stream)", "chat.completions.stream"
MODELS_LIST, MODELS_RETRIEVE, ERRORS = "models.list", "models.retrieve", "errors"

# (OpenAI's error types do not map to statuses one to one: a 404 model_not_found says
# invalid_request_error; the client's exception class follows the status alone.)


def _client(exchange: Exchange, data: bytes) -> Any:
    import openai

    quiet()
    return openai.OpenAI(api_key="sk-replay", base_url="http://replay.invalid/v1", max_retries=0,
                         http_client=mock_http_client(exchange, data, OPENAI))


REPLAYER = Replayer(OPENAI, _client)
_outcome = REPLAYER.outcome


def _model(request: dict[str, Any]) -> str:
    model = request.get("model")
    return model if isinstance(model, str) and model else "replay"


# -- what a client reads ---------------------------------------------------------------------------
def read_completion(completion: Any) -> list[str]:
    """Read a completion the way client code does; the problems a client meets, in sentences."""
    import openai.types.chat as chat

    problems: list[str] = []
    if not isinstance(completion, chat.ChatCompletion):
        return [f"the client got a {type(completion).__name__}, not a ChatCompletion (the body is not JSON)"]
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        return ["completion.choices is missing or empty: completion.choices[0] raises"]
    for k, choice in enumerate(choices):
        message = getattr(choice, "message", None)
        if message is None or isinstance(message, (dict, str)):
            problems.append(f"choices[{k}].message is not a message object")
            continue
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            problems.append(f"choices[{k}].message.content is a {type(content).__name__}, not a string")
        for j, call in enumerate(getattr(message, "tool_calls", None) or []):
            problems.extend(f"choices[{k}].message.tool_calls[{j}]{p}" for p in _read_call(call))
    usage = getattr(completion, "usage", None)
    if usage is not None:
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = getattr(usage, name, None)
            if not isinstance(value, int):
                problems.append(f"usage.{name} is {value!r}, not an integer")
    return problems


def _read_call(call: Any) -> list[str]:
    function = getattr(call, "function", None)
    if function is None or isinstance(function, (dict, str)):
        return [".function is not a function object"]
    problems = []
    if not isinstance(getattr(call, "id", None), str) or not call.id:
        problems.append(".id is missing: the tool result cannot answer it")
    if not isinstance(getattr(function, "name", None), str) or not function.name:
        problems.append(".function.name is missing")
    arguments = getattr(function, "arguments", None)
    try:
        json.loads(arguments)  # what every tool-calling client does with them
    except (TypeError, ValueError) as exc:
        problems.append(f".function.arguments: json.loads fails ({describe(exc)})")
    return problems


def strict_problems(model: Any, data: Any) -> str:
    """What the SDK's model rejects when validating strictly (``_strict_response_validation``)."""
    try:
        model.model_validate(data)
    except Exception as exc:  # noqa: BLE001 - pydantic.ValidationError and anything a hostile body provokes
        errors = getattr(exc, "errors", None)
        if callable(errors):
            try:
                first = errors()[:3]
                return "; ".join(f"{'/'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in first)
            except Exception:  # noqa: BLE001
                pass
        return describe(exc)
    return ""


# -- replays -----------------------------------------------------------------------------------------
def replay_chat(exchange: Exchange) -> list[Outcome]:
    """A non-streamed chat completion through ``chat.completions.create``."""
    import openai.types.chat as chat

    request = exchange.request_body if isinstance(exchange.request_body, dict) else {}

    def strict() -> str:
        rejected = strict_problems(chat.ChatCompletion, exchange.body)
        return f"ChatCompletion rejects the body when validated strictly: {rejected}" if rejected else ""

    return REPLAYER.call(exchange, CREATE, lambda client: client.chat.completions.create(model=_model(request), messages=MESSAGES),
                         read_completion, strict)


def replay_chat_stream(exchange: Exchange) -> list[Outcome]:
    """A stream through ``create(stream=True)`` (the raw chunks) and ``chat.completions.stream``
    (the helper's final completion, compared with what the server sent)."""
    import openai
    import openai.types.chat as chat

    data = body_bytes(exchange)
    if data is None:
        return [_outcome(CREATE_STREAM, NOT_EXERCISED, TRUNCATED), _outcome(STREAM_HELPER, NOT_EXERCISED, TRUNCATED)]
    request = exchange.request_body if isinstance(exchange.request_body, dict) else {}
    pointer = f"/exchanges/{exchange.index}/response/events"
    out: list[Outcome] = []
    chunks: list[Any] = []
    try:
        with _client(exchange, data) as client:
            for chunk in client.chat.completions.create(model=_model(request), messages=MESSAGES, stream=True):
                chunks.append(chunk)
        out.append(_outcome(CREATE_STREAM, WORKS))
    except openai.APIError as exc:  # an error event in the stream: the client raises, by design
        out += _judge_error(exc, exchange.status or 0, pointer, CREATE_STREAM)
    except Exception as exc:  # noqa: BLE001
        out.append(_outcome(CREATE_STREAM, BREAKS, f"after {len(chunks)} chunks: {describe(exc)}", "exception", pointer))
    for position, event in exchange.json_events():
        strict = strict_problems(chat.ChatCompletionChunk, event.json) if isinstance(event.json, dict) and "error" not in event.json else ""
        if strict:
            out.append(_outcome(CREATE_STREAM, WORKS, f"ChatCompletionChunk rejects event {position} when validated strictly: {strict}",
                                "strict_validation", exchange.event_ptr(position)))
            break
    try:
        with _client(exchange, data) as client:
            with client.chat.completions.stream(model=_model(request), messages=MESSAGES) as stream:
                final = stream.get_final_completion()
    except openai.LengthFinishReasonError as exc:
        # by design: the helper's final parse raises whenever a choice ended with finish_reason "length"
        # (openai/lib/_parsing/_completions.py), a correct stream cut by the token cap; it carries the completion
        final = exc.completion
    except openai.APIError as exc:
        out += _judge_error(exc, exchange.status or 0, pointer, STREAM_HELPER)
        return out
    except Exception as exc:  # noqa: BLE001
        out.append(_outcome(STREAM_HELPER, BREAKS, describe(exc), "exception", pointer))
        return out
    differences = read_completion(final) + compare_stream(exchange, final)
    if differences:
        out.append(_outcome(STREAM_HELPER, BREAKS, "the helper's final completion differs from the stream: " + "; ".join(differences[:3]),
                            "difference", pointer))
    else:
        out.append(_outcome(STREAM_HELPER, WORKS))
    return out


def reassemble(exchange: Exchange) -> dict[str, Any]:
    """What the server sent, per choice index: content, tool calls (an id and a name said once,
    or repeated unchanged, count once), finish_reason; and the usage."""
    from conformance.checks.openai_stream import chunks

    choices: dict[Any, dict[str, Any]] = {}
    usage = None
    for _, chunk in chunks(exchange):
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") if isinstance(chunk.get("choices"), list) else []:
            if not isinstance(choice, dict):
                continue
            entry = choices.setdefault(choice.get("index", 0), {"content": "", "calls": {}, "finish_reason": None, "role": None})
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if isinstance(delta.get("content"), str):
                entry["content"] += delta["content"]
            if isinstance(delta.get("role"), str) and delta["role"]:
                entry["role"] = delta["role"]  # a role said again is the same role
            for part in delta.get("tool_calls") or []:
                if not isinstance(part, dict):
                    continue
                call = entry["calls"].setdefault(part.get("index"), {"id": "", "name": "", "arguments": ""})
                function = part.get("function") if isinstance(part.get("function"), dict) else {}
                for key, value in (("id", part.get("id")), ("name", function.get("name"))):
                    if isinstance(value, str) and value and value != call[key]:
                        call[key] += value
                if isinstance(function.get("arguments"), str):
                    call["arguments"] += function["arguments"]
            if choice.get("finish_reason"):
                entry["finish_reason"] = choice["finish_reason"]
    return {"choices": choices, "usage": usage}


def compare_stream(exchange: Exchange, final: Any) -> list[str]:
    """Where the SDK's final completion differs from what the server sent."""
    ours = reassemble(exchange)
    differences: list[str] = []
    theirs = {getattr(c, "index", k): c for k, c in enumerate(getattr(final, "choices", None) or [])}
    for index, entry in ours["choices"].items():
        choice = theirs.get(index)
        if choice is None:
            if entry["content"] or entry["calls"] or entry["finish_reason"]:
                differences.append(f"choice {index} is missing")
            continue
        message = getattr(choice, "message", None)
        if entry["role"] and getattr(message, "role", None) != entry["role"]:
            differences.append(f"choice {index} role {_short(getattr(message, 'role', None))} instead of {entry['role']!r}")
        content = getattr(message, "content", None) or ""
        if content != entry["content"]:
            differences.append(f"choice {index} content {_short(content)} instead of {_short(entry['content'])}")
        calls = list(getattr(message, "tool_calls", None) or [])
        if len(calls) != len(entry["calls"]):
            differences.append(f"choice {index} has {len(calls)} tool calls instead of {len(entry['calls'])}")
        for call, (_, sent) in zip(calls, sorted(entry["calls"].items(), key=lambda kv: str(kv[0]))):
            function = getattr(call, "function", None)
            got = {"id": getattr(call, "id", None), "name": getattr(function, "name", None), "arguments": getattr(function, "arguments", None)}
            for key in ("id", "name", "arguments"):
                if (got[key] or "") != sent[key]:
                    differences.append(f"choice {index} tool call {key} {_short(got[key])} instead of {_short(sent[key])}")
        if entry["finish_reason"] and getattr(choice, "finish_reason", None) != entry["finish_reason"]:
            differences.append(f"choice {index} finish_reason {getattr(choice, 'finish_reason', None)!r} instead of {entry['finish_reason']!r}")
    usage = ours["usage"]
    if usage:
        got = getattr(final, "usage", None)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if name in usage and getattr(got, name, None) != usage[name]:
                differences.append(f"usage.{name} {getattr(got, name, None)!r} instead of {usage[name]!r}")
    return differences


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def replay_models(exchange: Exchange, single: bool) -> list[Outcome]:
    """``models.list()`` (iterating the page) or ``models.retrieve(id)``."""
    import openai.types as types

    def unreadable(client: Any) -> list[str]:  # read while the call is replayed: what raises is an exception
        items = [client.models.retrieve("replay")] if single else list(client.models.list())
        for k, item in enumerate(items):
            if not isinstance(item, types.Model) or not isinstance(getattr(item, "id", None), str):
                return [f"model {k} has no id a client can read ({type(item).__name__})"]
        return []

    def strict() -> str:
        if isinstance(exchange.body, dict):
            listed = [exchange.body] if single else exchange.body.get("data") if isinstance(exchange.body.get("data"), list) else []
            for k, entry in enumerate(listed):
                rejected = strict_problems(types.Model, entry)
                if rejected:
                    return f"Model rejects entry {k} when validated strictly: {rejected}"
        return ""

    return REPLAYER.call(exchange, MODELS_RETRIEVE if single else MODELS_LIST, unreadable, lambda problems: problems, strict)


def replay_error(exchange: Exchange) -> list[Outcome]:
    """An error response: the exception class a client catches, and what it can read from it."""
    import openai

    request = exchange.request_body if isinstance(exchange.request_body, dict) else {}
    return REPLAYER.error(exchange, ERRORS, lambda client: client.chat.completions.create(model=_model(request), messages=MESSAGES),
                          openai.APIStatusError, _judge_error)


def _judge_error(exc: Any, status: int, pointer: str, feature: str = ERRORS) -> list[Outcome]:
    import openai

    out: list[Outcome] = []
    body = exc.body
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        out.append(_outcome(feature, WORKS, f"{type(exc).__name__} carries no readable error.message (body {_short(body)})", "unreadable", pointer))
    elif exc.code is not None and not isinstance(exc.code, str):
        out.append(_outcome(feature, WORKS, f"{type(exc).__name__}.code is {exc.code!r}, a {type(exc.code).__name__} (the SDK types it str; it passes it through)",
                            "tolerated", pointer))
    if feature == ERRORS and not isinstance(exc, openai.APIStatusError):
        out.append(_outcome(feature, BREAKS, f"HTTP {status} raised {type(exc).__name__}", "wrong_class", pointer))
    return out or [_outcome(feature, WORKS)]

