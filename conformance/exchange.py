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

    # -- conveniences for checks ---------------------------------------------------------------
    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_sse(self) -> bool:
        return self.events is not None

    def json_events(self) -> list[tuple[int, SSEEvent]]:
        """(position, event) for every event that carries parsed JSON."""
        return [(i, e) for i, e in enumerate(self.events or []) if e.json is not None]

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
