"""anthropic-python as a referee: the recorded exchange through the real client code path."""

from __future__ import annotations

from typing import Any

from conformance.exchange import Exchange
from conformance.sdk import ANTHROPIC, BREAKS, NOT_EXERCISED, TRUNCATED, WORKS, Outcome, Replayer, body_bytes, describe, mock_http_client, quiet
from conformance.sdk.openai_python import _short, strict_problems

MESSAGES = [{"role": "user", "content": "replay"}]
CREATE, CREATE_STREAM, STREAM_HELPER, ERRORS = "messages.create", "messages.create(stream)", "messages.stream", "errors"


def _client(exchange: Exchange, data: bytes) -> Any:
    import anthropic

    quiet()
    return anthropic.Anthropic(api_key="sk-ant-replay", base_url="http://replay.invalid", max_retries=0,
                               http_client=mock_http_client(exchange, data, ANTHROPIC))


REPLAYER = Replayer(ANTHROPIC, _client)
_outcome = REPLAYER.outcome


def _args(exchange: Exchange) -> dict[str, Any]:
    request = exchange.request_body if isinstance(exchange.request_body, dict) else {}
    model = request.get("model") if isinstance(request.get("model"), str) and request.get("model") else "replay"
    return {"model": model, "max_tokens": 16, "messages": MESSAGES}


def read_message(message: Any) -> list[str]:
    """Read a message the way client code does; the problems a client meets, in sentences."""
    import anthropic.types as types

    if not isinstance(message, types.Message):
        return [f"the client got a {type(message).__name__}, not a Message (the body is not JSON)"]
    content = getattr(message, "content", None)
    if not isinstance(content, list):
        return ["message.content is missing or not a list"]
    problems: list[str] = []
    for k, block in enumerate(content):
        kind = getattr(block, "type", None)
        if kind == "text" and not isinstance(getattr(block, "text", None), str):
            problems.append(f"content[{k}].text is not a string")
        elif kind == "tool_use":
            if not isinstance(getattr(block, "id", None), str) or not isinstance(getattr(block, "name", None), str):
                problems.append(f"content[{k}] (tool_use) has no id or name a client can read")
            if not isinstance(getattr(block, "input", None), dict):
                problems.append(f"content[{k}].input is {_short(getattr(block, 'input', None))}, not an object")
        elif kind is None:
            problems.append(f"content[{k}] has no type")
    usage = getattr(message, "usage", None)
    for name in ("input_tokens", "output_tokens"):
        if not isinstance(getattr(usage, name, None), int):
            problems.append(f"usage.{name} is not an integer")
    return problems


def replay_message(exchange: Exchange) -> list[Outcome]:
    import anthropic.types as types

    def strict() -> str:
        rejected = strict_problems(types.Message, exchange.body)
        return f"Message rejects the body when validated strictly: {rejected}" if rejected else ""

    return REPLAYER.call(exchange, CREATE, lambda client: client.messages.create(**_args(exchange)), read_message, strict)


def replay_stream(exchange: Exchange) -> list[Outcome]:
    """``messages.create(stream=True)`` (the raw events) and ``messages.stream(...).get_final_message()``."""
    import anthropic
    import anthropic.types as types
    from pydantic import TypeAdapter

    data = body_bytes(exchange)
    if data is None:
        return [_outcome(CREATE_STREAM, NOT_EXERCISED, TRUNCATED), _outcome(STREAM_HELPER, NOT_EXERCISED, TRUNCATED)]
    pointer = f"/exchanges/{exchange.index}/response/events"
    out: list[Outcome] = []
    events: list[Any] = []
    try:
        with _client(exchange, data) as client:
            for event in client.messages.create(**_args(exchange), stream=True):
                events.append(event)
        out.append(_outcome(CREATE_STREAM, WORKS))
    except anthropic.APIStatusError as exc:  # an error event: the client raises, by design
        out += _judge_error(exc, exchange.status or 0, pointer, CREATE_STREAM)
    except Exception as exc:  # noqa: BLE001
        out.append(_outcome(CREATE_STREAM, BREAKS, f"after {len(events)} events: {describe(exc)}", "exception", pointer))
    adapter = TypeAdapter(types.RawMessageStreamEvent)
    for position, event in exchange.json_events():
        if isinstance(event.json, dict) and event.json.get("type") not in ("ping", "error"):
            strict = strict_problems(_Adapter(adapter), event.json)
            if strict:
                out.append(_outcome(CREATE_STREAM, WORKS, f"RawMessageStreamEvent rejects event {position} when validated strictly: {strict}",
                                    "strict_validation", exchange.event_ptr(position)))
                break
    try:
        with _client(exchange, data) as client:
            with client.messages.stream(**_args(exchange)) as stream:
                final = stream.get_final_message()
    except anthropic.APIStatusError as exc:
        out += _judge_error(exc, exchange.status or 0, pointer, STREAM_HELPER)
        return out
    except Exception as exc:  # noqa: BLE001
        out.append(_outcome(STREAM_HELPER, BREAKS, describe(exc), "exception", pointer))
        return out
    differences = read_message(final) + compare_stream(exchange, final)
    if differences:
        out.append(_outcome(STREAM_HELPER, BREAKS, "the helper's final message differs from the stream: " + "; ".join(differences[:3]),
                            "difference", pointer))
    else:
        out.append(_outcome(STREAM_HELPER, WORKS))
    return out


class _Adapter:
    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def model_validate(self, data: Any) -> Any:
        return self.adapter.validate_python(data)


def compare_stream(exchange: Exchange, final: Any) -> list[str]:
    """Where the SDK's final message differs from the message the stream describes."""
    from conformance.checks.anthropic_stream import reassemble

    ours = reassemble(exchange)
    if ours is None:
        return []
    differences: list[str] = []
    blocks = [b for b in ours.get("content") or [] if isinstance(b, dict)]
    theirs = list(getattr(final, "content", None) or [])
    if len(theirs) != len(blocks):
        differences.append(f"{len(theirs)} content blocks instead of {len(blocks)}")
    for k, (block, got) in enumerate(zip(blocks, theirs)):
        kind = block.get("type")
        if getattr(got, "type", None) != kind:
            differences.append(f"content[{k}] type {getattr(got, 'type', None)!r} instead of {kind!r}")
        elif kind == "text" and getattr(got, "text", None) != block.get("text", ""):
            differences.append(f"content[{k}] text {_short(getattr(got, 'text', None))} instead of {_short(block.get('text'))}")
        elif kind == "tool_use":
            for key in ("id", "name"):
                if getattr(got, key, None) != block.get(key):
                    differences.append(f"content[{k}] {key} {_short(getattr(got, key, None))} instead of {_short(block.get(key))}")
            if getattr(got, "input", None) != block.get("input", {}):
                differences.append(f"content[{k}] input {_short(getattr(got, 'input', None))} instead of {_short(block.get('input'))}")
    if "stop_reason" in ours and getattr(final, "stop_reason", None) != ours.get("stop_reason"):
        differences.append(f"stop_reason {getattr(final, 'stop_reason', None)!r} instead of {ours.get('stop_reason')!r}")
    usage = ours.get("usage") if isinstance(ours.get("usage"), dict) else {}
    got_usage = getattr(final, "usage", None)
    for name in ("input_tokens", "output_tokens"):
        if name in usage and getattr(got_usage, name, None) != usage[name]:
            differences.append(f"usage.{name} {getattr(got_usage, name, None)!r} instead of {usage[name]!r}")
    return differences


def replay_error(exchange: Exchange) -> list[Outcome]:
    import anthropic

    return REPLAYER.error(exchange, ERRORS, lambda client: client.messages.create(**_args(exchange)), anthropic.APIStatusError, _judge_error)


def _judge_error(exc: Any, status: int, pointer: str, feature: str = ERRORS) -> list[Outcome]:
    out: list[Outcome] = []
    body = exc.body if isinstance(exc.body, dict) else None
    error = body.get("error") if body is not None and isinstance(body.get("error"), dict) else None
    kind = error.get("type") if error is not None else None
    if error is None or not isinstance(error.get("message"), str) or not isinstance(kind, str) or body.get("type") != "error":
        out.append(_outcome(feature, WORKS, f"{type(exc).__name__} carries no readable error (body {_short(exc.body)})", "unreadable", pointer))
    return out or [_outcome(feature, WORKS)]
