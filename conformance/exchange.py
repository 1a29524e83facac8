"""Recorded exchanges: one request and what came back, already redacted.

This module has no HTTP import: checks, judge(), the offline readers and the reports work on
exchanges whatever produced them (the live transport, the proxy, a HAR file, a saved run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.sse import FramingIssue, SSEEvent

MAX_RAW_SSE_CHARS = 256 * 1024


@dataclass
class Exchange:
    """One request and what came back, already redacted."""

    index: int
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # parsed JSON when the body is JSON, else the text
    text: str = ""
    is_json: bool = False
    events: list[SSEEvent] | None = None
    framing: list[FramingIssue] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    saw_done: bool = False
    raw_sse: str | None = None
    error: str | None = None
    error_kind: str | None = None  # connect | timeout | too_large | read | redirect
    timings: dict[str, float] = field(default_factory=dict)
    retry_note: str | None = None  # why a 429/5xx answer was not retried further

    # -- conveniences for checks ---------------------------------------------------------------
    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_sse(self) -> bool:
        return self.events is not None

    def json_events(self) -> list[tuple[int, SSEEvent]]:
        """(position, event) for every event that carries parsed JSON (computed once per events
        list: every stream check asks, and a stream may have a million events)."""
        events = self.events or []
        cached = self.__dict__.get("_json_events")
        if cached is not None and cached[0] is events and cached[1] == len(events):
            return cached[2]
        found = [(i, e) for i, e in enumerate(events) if e.json is not None]
        self.__dict__["_json_events"] = (events, len(events), found)
        return found

    def ptr(self, suffix: str = "") -> str:
        """JSON pointer into this exchange's response body."""
        return f"/exchanges/{self.index}/response/body{suffix}"

    def event_ptr(self, position: int, suffix: str = "") -> str:
        return f"/exchanges/{self.index}/response/events/{position}/json{suffix}"

    def header_ptr(self, name: str) -> str:
        return f"/exchanges/{self.index}/response/headers/{name.lower()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": {
                "status": self.status,
                "headers": self.headers,
                "body": None if self.is_sse else self.body,
                "events": [e.to_dict() for e in self.events] if self.events is not None else None,
                "raw_sse": self.raw_sse,
                "error": self.error,
            },
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


class Recorder:
    """The one way a response becomes an :class:`Exchange`: feed the bytes as they arrive, then
    :meth:`finish`. Used by the live transport, the proxy and the offline readers alike, so a
    HAR entry, a relayed stream and a suite's own request are recorded (and redacted) the same way.

    ``stream`` says the request asked for a stream: a 200 answer is then read as SSE whatever its
    content-type says (SDKs do), so a wrong content-type is one finding, not a cascade.
    """

    def __init__(self, exchange: Exchange, redactor: Any = None, *, stream: bool = False, expect_done: bool = False) -> None:
        from conformance.redact import Redactor
        from conformance.sse import SSEParser

        self.exchange = exchange
        self.redactor = redactor or Redactor()
        media = exchange.content_type.split(";")[0].strip().lower()
        self.is_sse = media == "text/event-stream" or (stream and exchange.status == 200)
        self.parser = SSEParser(expect_done=expect_done) if self.is_sse else None
        self._chunks: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> int:
        """Take the next bytes; returns how many events they completed."""
        self.size += len(chunk)
        self._chunks.append(chunk)
        if self.parser is not None:
            return len(self.parser.feed(chunk))
        return 0

    def finish(self, complete: bool = True) -> Exchange:
        """Parse and redact what was read. ``complete`` is False when reading was cut short
        (an error, a limit): an unfinished event is then not reported as a framing issue."""
        import json as jsonlib

        ex = self.exchange
        raw = b"".join(self._chunks)
        self._chunks = []
        text = self.redactor.text(raw.decode("utf-8", "replace"))
        ex.text = text
        if self.parser is not None:
            if complete:
                self.parser.close()
            ex.events = [self._redact_event(e) for e in self.parser.events]
            ex.framing = self.parser.issues
            ex.comments = self.parser.comments
            ex.saw_done = self.parser.saw_done
            ex.raw_sse = text[:MAX_RAW_SSE_CHARS]
            return ex
        try:
            ex.body = self.redactor.obj(jsonlib.loads(raw)) if raw else None
            ex.is_json = bool(raw)
        except (ValueError, RecursionError):
            ex.body = text
        return ex

    def _redact_event(self, event: SSEEvent) -> SSEEvent:
        data = self.redactor.text(event.data)
        # The parsed JSON needs its own pass only when the text had a secret or escapes: without
        # a backslash, every string in the JSON is a verbatim piece of the text already scanned.
        if event.json is not None and (data != event.data or "\\" in event.data):
            event.json = self.redactor.obj(event.json)
        event.data = data
        return event


def record(
    *,
    method: str,
    url: str,
    request_headers: dict[str, str] | list[tuple[str, str]],
    request_body: Any,
    status: int | None,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes,
    redactor: Any = None,
    index: int = 0,
) -> Exchange:
    """An exchange from a complete recording (HAR entry, raw capture, JSONL line, proxy relay).

    The request body may be parsed JSON, text or bytes; the response body is the raw bytes as
    the client received them (after content decoding). Everything is redacted here.
    """
    from conformance.redact import Redactor

    redactor = redactor or Redactor()
    if isinstance(request_body, (bytes, bytearray)):
        request_body = bytes(request_body).decode("utf-8", "replace")
    if isinstance(request_body, str):
        try:
            import json as jsonlib

            request_body = jsonlib.loads(request_body) if request_body.strip() else None
        except ValueError:
            pass
    req_items = request_headers.items() if isinstance(request_headers, dict) else request_headers
    resp_items = headers.items() if isinstance(headers, dict) else headers
    ex = Exchange(
        index=index,
        method=method.upper(),
        url=redactor.text(url),
        request_headers=redactor.headers(req_items),
        request_body=redactor.obj(request_body),
        status=status,
        headers=redactor.headers(resp_items),
    )
    stream = isinstance(request_body, dict) and request_body.get("stream") is True
    recorder = Recorder(ex, redactor, stream=stream, expect_done=stream and "/chat/completions" in url)
    recorder.feed(body)
    return recorder.finish()
