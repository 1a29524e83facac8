"""The tolerances of the reference server (see :mod:`conformance.reference.tolerances`), applied as
an ASGI layer over the conformant endpoints: each response is rewritten into a legal variation
of itself (its JSON objects, its event sequence, its SSE framing, its transfer coding).
"""

from __future__ import annotations

import asyncio
import gzip
import time
import json
import secrets
from typing import Any, Awaitable, Callable

from conformance.reference.tolerances import TOLERANCE_HEADER, TOLERANCES, active_tolerances

Scope = dict[str, Any]
Message = dict[str, Any]
EXTRA_FIELD = "x_vendor_extra"
SLOW_STREAM_S = 0.04
OPAQUE_KEYS = ("input", "arguments", "partial_json")  # tool arguments: the model's data, not the API's objects


def request_tolerances(scope: Scope) -> frozenset[str]:
    """The tolerances active for this request (server-wide plus the request header)."""
    return frozenset((scope.get("state") or {}).get("tolerances", ()))


class Tolerate:
    """ASGI middleware: rewrite each response with the active tolerances."""

    def __init__(self, app: Callable[..., Awaitable[None]], server_tolerances: frozenset[str]) -> None:
        self.app = app
        self.server_tolerances = server_tolerances

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.decode("latin-1").lower() == TOLERANCE_HEADER), None)
        path = scope.get("path", "")
        protocol = "anthropic" if path.rstrip("/").endswith("/messages") else "openai"
        names = frozenset(n for n in active_tolerances(self.server_tolerances, header)
                          if n in TOLERANCES and TOLERANCES[n].protocol in (protocol, "both"))
        scope.setdefault("state", {})["tolerances"] = names
        if not names:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Rewriter(names, protocol, send).send)


class _Rewriter:
    def __init__(self, names: frozenset[str], protocol: str, send: Callable) -> None:
        self.on = names.__contains__
        self.protocol = protocol
        self._send = send
        self.start: Message | None = None
        self.mode = ""  # sse | json | raw
        self.buffer = b""
        self.stream = _StreamState()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = dict(message)
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            self.status = int(message["status"])
            self.mode = "sse" if media == "text/event-stream" else "json" if media == "application/json" else "raw"
            if self.mode != "json":
                await self._send(message)
            return
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        more = message.get("more_body", False)
        if self.mode == "raw":
            await self._send(message)
        elif self.mode == "sse":
            if self.on("slow_stream"):
                await asyncio.sleep(SLOW_STREAM_S)
            self.buffer += message.get("body", b"")
            out = self._sse(final=not more)
            await self._send({"type": "http.response.body", "body": out, "more_body": more})
        else:
            self.buffer += message.get("body", b"")
            if not more:
                await self._json()

    # -- JSON bodies ---------------------------------------------------------------------------------
    async def _json(self) -> None:
        assert self.start is not None
        body = self.buffer
        try:
            obj = json.loads(body)
        except ValueError:
            obj = None
        if obj is not None:
            obj = self.transform(obj, error=self.status >= 400)
            body = json.dumps(obj).encode()
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() not in (b"content-length", b"content-encoding")]
        if self.on("gzip_json"):
            body = gzip.compress(body)
            headers.append((b"content-encoding", b"gzip"))
        pieces = [body]
        if self.on("chunked_json") and len(body) > 3:
            third = len(body) // 3
            pieces = [body[:third], body[third : 2 * third], body[2 * third :]]
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self.start, "headers": headers})
        for i, piece in enumerate(pieces):
            await self._send({"type": "http.response.body", "body": piece, "more_body": i + 1 < len(pieces)})

    def transform(self, obj: Any, error: bool = False) -> Any:
        """The tolerances that rewrite any JSON object of a body or an event."""
        if self.on("omit_nullables") and self.protocol == "openai" and not error:
            _omit_nullables(obj)
        if self.on("usage_details"):
            _usage_details(obj)
        if self.on("extra_fields"):
            obj = _extra_fields(obj)
        if self.on("reversed_keys"):
            obj = _reversed(obj)
        return obj

    # -- streams -------------------------------------------------------------------------------------
    def _sse(self, final: bool) -> bytes:
        text = self.buffer.decode("utf-8", "replace")
        blocks = text.split("\n\n")
        rest = "" if final else blocks.pop()
        self.buffer = rest.encode()
        out: list[str] = []
        for block in blocks:
            if not block.strip():
                continue
            name, data = None, []
            for line in block.split("\n"):
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
                else:  # anything else (a fault's unframed line): leave the block alone
                    name, data = None, None
                    break
            if data is None:
                out.append(block + "\n\n")
                continue
            for event_name, payload in self._events(name, "\n".join(data)):
                out.append(self._frame(event_name, payload))
        if final and self.stream.held is not None:
            out.append(self._frame(None, self.stream.release()))
        if final and rest.strip():
            out.append(rest)
        return "".join(out).encode()

    def _events(self, name: str | None, data: str) -> list[tuple[str | None, Any]]:
        """One upstream event → the events the tolerant server sends instead (JSON or raw text)."""
        try:
            obj: Any = json.loads(data)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            events: list[tuple[str | None, Any]] = [(name, data)]
            if self.stream.held is not None:
                events.insert(0, (None, self.stream.release()))
            return events
        if self.protocol == "openai":
            return self._openai_chunk(name, obj)
        return self._anthropic_event(name, obj)

    def _openai_chunk(self, name: str | None, chunk: dict[str, Any]) -> list[tuple[str | None, Any]]:
        state = self.stream
        out: list[tuple[str | None, Any]] = []
        if "error" in chunk:
            return [(name, self.transform(chunk))]
        if state.position == 0 and self.on("prompt_filter_chunk"):
            out.append((None, self.transform({
                "id": "", "object": "", "created": 0, "model": "", "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
                    "hate": {"filtered": False, "severity": "safe"}, "self_harm": {"filtered": False, "severity": "safe"},
                    "sexual": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}}],
            })))
        if state.position == 0:
            state.created = chunk.get("created")
        if self.on("created_ticks") and isinstance(state.created, int):
            chunk["created"] = state.created + state.position
        elif self.on("created_clock"):
            chunk["created"] = int(time.time())
        state.position += 1
        for choice in chunk.get("choices") or []:
            for part in (choice.get("delta") or {}).get("tool_calls") or []:
                if self.on("tool_call_type_repeated"):
                    part.setdefault("type", "function")
        if self.on("stream_obfuscation"):
            chunk["obfuscation"] = secrets.token_urlsafe(6)
        if self.on("usage_with_last_choice"):
            if chunk.get("choices") == [] and chunk.get("usage") is not None and state.held is not None:
                state.held["usage"] = chunk["usage"]
                out.append((None, state.release()))
                return out
            if state.held is not None:
                out.append((None, state.release()))
            chunk.pop("usage", None)
            state.held = chunk
            state.transform = self.transform
            return out
        out.append((name, self.transform(chunk)))
        return out

    def _anthropic_event(self, name: str | None, event: dict[str, Any]) -> list[tuple[str | None, Any]]:
        out: list[tuple[str | None, Any]] = []
        ping = ("ping", self.transform({"type": "ping"}))
        if self.on("anthropic_ping_anywhere") and name != "ping":
            out.append(ping)
        block = event.get("content_block")
        if self.on("anthropic_tool_start_no_input") and name == "content_block_start" and isinstance(block, dict) and block.get("type") == "tool_use":
            block.pop("input", None)
        out.append((name, self.transform(event)))
        if self.on("anthropic_unknown_event") and name in ("message_start", "content_block_stop"):
            out.append(("vendor_heartbeat", self.transform({"type": "vendor_heartbeat", "at": 0})))
        if self.on("anthropic_ping_anywhere") and name == "message_stop":
            out.append(ping)
        return out

    def _frame(self, name: str | None, payload: Any) -> str:
        """One event in the SSE framing the tolerances choose."""
        eol = "\r\n" if self.on("sse_crlf") else "\n"
        sep = ":" if self.on("sse_no_space") else ": "
        lines: list[str] = []
        if self.on("sse_comments"):
            lines.append(": keep-alive comment inside an event")
        if name is not None:
            lines.append(f"event{sep}{name}")
        if self.on("sse_event_ids"):
            self.stream.event_id += 1
            lines += [f"id{sep}{self.stream.event_id}", f"retry{sep}3000"]
        if self.on("sse_unknown_fields"):
            lines.append(f"x-vendor-trace{sep}abc123")
        text = payload if isinstance(payload, str) else json.dumps(payload, indent=1 if self.on("sse_multiline_data") else None)
        lines += [f"data{sep}{part}" for part in text.split("\n")]
        framed = eol.join(lines) + eol + eol
        if self.on("sse_comments"):
            framed = f": keep-alive{eol}{eol}" + framed
        return framed


class _StreamState:
    def __init__(self) -> None:
        self.position = 0
        self.created: Any = None
        self.event_id = 0
        self.held: dict[str, Any] | None = None
        self.transform: Callable[[Any], Any] = lambda obj: obj

    def release(self) -> Any:
        held, self.held = self.held, None
        return self.transform(held)


# -- JSON rewrites --------------------------------------------------------------------------------------
def _extra_fields(obj: Any, key: str | None = None) -> Any:
    if key in OPAQUE_KEYS:
        return obj
    if isinstance(obj, dict):
        out = {k: _extra_fields(v, k) for k, v in obj.items()}
        out[EXTRA_FIELD] = {"tolerated": True}
        return out
    if isinstance(obj, list):
        return [_extra_fields(v, key) for v in obj]
    return obj


def _reversed(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _reversed(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [_reversed(v) for v in obj]
    return obj


def _omit_nullables(obj: Any) -> None:
    """Drop null-valued optional keys of a chat completion or chunk (finish_reason only where null)."""
    if not isinstance(obj, dict):
        return
    for key in ("system_fingerprint", "service_tier"):
        obj.pop(key, None)
    if obj.get("usage", 0) is None:
        del obj["usage"]
    for choice in obj.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        for key in ("logprobs", "finish_reason"):
            if key in choice and choice[key] is None:
                del choice[key]
        for holder in (choice.get("message"), choice.get("delta")):
            if isinstance(holder, dict):
                for key in ("refusal", "content"):
                    if key in holder and holder[key] is None:
                        del holder[key]


def _usage_details(obj: Any) -> None:
    if isinstance(obj, dict):
        usage = obj.get("usage")
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            usage["prompt_tokens_details"] = {**(usage.get("prompt_tokens_details") or {}), "cached_tokens": 0, "audio_tokens": 0, "image_tokens": 0}
            usage["completion_tokens_details"] = {**(usage.get("completion_tokens_details") or {}), "text_tokens": usage.get("completion_tokens", 0)}
        elif isinstance(usage, dict) and "input_tokens" in usage:
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
            usage["server_tool_use"] = {"web_search_requests": 0}
            usage["service_tier"] = "standard"
        for value in obj.values():
            if isinstance(value, dict):
                _usage_details(value)
