"""The Python SDKs reading the same recorded bytes as the Node clients (tests only).

A small stand-in for the Python-SDK referee lane, with the same outcome shape as
:func:`conformance.clients.node.replay`, so tests can show where the Node and Python clients
disagree on a fault. Each SDK gets the recorded response through an httpx MockTransport.
"""

from __future__ import annotations

from typing import Any, Callable

import httpx

from conformance.clients import BREAKS, WORKS, ClientOutcome
from conformance.clients.node import difference, job_for, our_reading


def _mock(job: dict[str, Any], lib: Any = httpx) -> Any:
    """An http client of ``lib`` (httpx for openai, the package anthropic uses for anthropic) answering the recorded bytes."""
    headers = {k: v for k, v in job["headers"].items() if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")}
    body = job["body"].encode()
    return lib.Client(transport=lib.MockTransport(lambda request: lib.Response(job["status"], headers=headers, content=body)))


def _anthropic_http() -> Any:
    """anthropic 2.x ships on httpx2; older releases on httpx."""
    import anthropic._base_client as base

    return getattr(base, "httpx2", None) or httpx


def _chunks(chunks: list[Any]) -> dict[str, Any]:
    text, calls, finish = None, {}, None
    for chunk in chunks:
        for choice in chunk.choices or []:
            if (choice.index or 0) != 0:
                continue
            delta = choice.delta
            if isinstance(delta.content, str):
                text = (text or "") + delta.content
            for call in delta.tool_calls or []:
                slot = calls.setdefault(call.index or 0, {"name": "", "arguments": ""})
                if call.function and call.function.name:
                    slot["name"] = call.function.name
                if call.function and isinstance(call.function.arguments, str):
                    slot["arguments"] += call.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    return {"text": text, "tool_calls": [{"name": c["name"], "arguments": _parse(c["arguments"])} for _, c in sorted(calls.items())], "finish_reason": finish}


def _parse(value: Any) -> Any:
    import json

    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _completion(completion: Any) -> dict[str, Any]:
    choice = completion.choices[0] if completion.choices else None
    if choice is None:
        return {"text": None, "tool_calls": [], "finish_reason": None}
    message = choice.message
    return {"text": message.content, "tool_calls": [{"name": c.function.name, "arguments": _parse(c.function.arguments)} for c in message.tool_calls or []],
            "finish_reason": choice.finish_reason}


def _message(message: Any) -> dict[str, Any]:
    texts = [b.text for b in message.content if b.type == "text"]
    return {"text": "".join(texts) if texts else None, "tool_calls": [{"name": b.name, "arguments": b.input} for b in message.content if b.type == "tool_use"],
            "finish_reason": message.stop_reason}


def _events(events: list[Any]) -> dict[str, Any]:
    blocks: dict[int, dict[str, Any]] = {}
    stop = None
    for event in events:
        if event.type == "content_block_start":
            blocks[event.index] = {"type": event.content_block.type, "name": getattr(event.content_block, "name", None), "text": "", "json": ""}
        elif event.type == "content_block_delta":
            block = blocks.get(event.index) or (list(blocks.values())[-1] if blocks else None)
            if block is None:
                continue
            if event.delta.type == "text_delta":
                block["text"] += event.delta.text
            elif event.delta.type == "input_json_delta":
                block["json"] += event.delta.partial_json
        elif event.type == "message_delta":
            stop = event.delta.stop_reason or stop
    ordered = [blocks[k] for k in sorted(blocks)]
    texts = [b["text"] for b in ordered if b["type"] == "text"]
    return {"text": "".join(texts) if texts else None,
            "tool_calls": [{"name": b["name"], "arguments": _parse(b["json"]) if b["json"] else {}} for b in ordered if b["type"] == "tool_use"],
            "finish_reason": stop}


def _run(client: str, version: str, feature: str, fn: Callable[[], dict[str, Any]], ours: Any) -> ClientOutcome:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydantic's serializer warnings on lenient objects
            result = fn()
    except Exception as exc:  # noqa: BLE001 - what the SDK raises is the outcome
        return ClientOutcome(client, version, feature, BREAKS, f"{type(exc).__name__}: {exc}"[:300])
    differs = difference(client.replace("-python", "-node"), ours, result)  # same comparison as the Node lane
    return ClientOutcome(client, version, feature, BREAKS if differs else WORKS, differs)


def replay(exchange: Any) -> list[ClientOutcome]:
    import anthropic
    import openai

    job = job_for(exchange)
    if job is None:
        return []
    ours = our_reading(exchange)
    request = dict(job["request"])
    request.pop("stream", None)
    if job["protocol"] == "openai":
        def sdk() -> openai.OpenAI:
            return openai.OpenAI(api_key="sk-replay", base_url="http://127.0.0.1:9/v1", http_client=_mock(job), max_retries=0)

        if not job["stream"]:
            return [_run("openai-python", openai.__version__, "chat.completions.create", lambda: _completion(sdk().chat.completions.create(**request)), ours)]

        def raw() -> dict[str, Any]:
            return _chunks(list(sdk().chat.completions.create(**request, stream=True)))

        def helper() -> dict[str, Any]:
            with sdk().chat.completions.stream(**request) as stream:
                for _ in stream:
                    pass
                return _completion(stream.get_final_completion())

        return [_run("openai-python", openai.__version__, "chat.completions.create stream", raw, ours),
                _run("openai-python", openai.__version__, "chat.completions.stream get_final_completion", helper, ours)]

    def asdk() -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key="sk-replay", base_url="http://127.0.0.1:9", http_client=_mock(job, _anthropic_http()), max_retries=0)

    if not job["stream"]:
        return [_run("anthropic-python", anthropic.__version__, "messages.create", lambda: _message(asdk().messages.create(**request)), ours)]

    def araw() -> dict[str, Any]:
        return _events(list(asdk().messages.create(**request, stream=True)))

    def ahelper() -> dict[str, Any]:
        with asdk().messages.stream(**request) as stream:
            for _ in stream:
                pass
            return _message(stream.get_final_message())

    return [_run("anthropic-python", anthropic.__version__, "messages.create stream", araw, ours),
            _run("anthropic-python", anthropic.__version__, "messages.stream get_final_message", ahelper, ours)]


def replay_many(exchanges: list[Any]) -> list[list[ClientOutcome]]:
    return [replay(x) for x in exchanges]
