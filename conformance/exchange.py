"""Recorded exchanges: one request and what came back, already redacted.

This module has no HTTP import: checks, judge(), the offline readers and the reports work on
exchanges whatever produced them (the live transport, the proxy, a HAR file, a saved run).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Iterator

from conformance.sse import FramingIssue, SSEEvent

MAX_RAW_SSE_CHARS = 256 * 1024
MB = 1024 * 1024
# what one exchange may cost in memory (the transport's Limits override them) ...
MAX_BODY_BYTES = 16 * MB
# a stream's events are kept parsed for the checks: about 10-15 times their size on the wire for chat
# chunks, about 400 bytes each for tiny ones. These defaults keep one exchange under ~400 MB
# (measured: see issue 18's note); raise them with [limits] when the machine allows.
MAX_STREAM_BYTES = 24 * MB
MAX_EVENTS = 500_000
# ... and how much of it is stored in results.json (bounded recording: the rest is summarised
# by its size and sha256; checks have seen all of it)
RECORD_BYTES = 2 * MB
JSON_DEPTH = 64  # a parsed event nested deeper is scrubbed by Redactor.obj itself, whatever it finds
REDACT_BATCH = 256  # events whose data are searched for secrets at once (see Redactor.may_hold)


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
    error_kind: str | None = None  # connect | timeout | too_large | read | redirect | decode | stopped
    timings: dict[str, float] = field(default_factory=dict)
    retry_note: str | None = None  # why a 429/5xx answer was not retried further
    # where the response echoed a configured secret (scrubbed before anything was stored):
    # "header <name>", "body", "stream", "error"; and whether a 2xx body held it unmasked
    secret_echo: list[str] = field(default_factory=list)
    secret_echo_unmasked: bool = False
    size: int = 0  # bytes of the response body (after content decoding)
    sha256: str | None = None  # of those bytes, when the body was read
    record_limit: int = RECORD_BYTES
    raw_complete: bool = True  # raw_sse/text hold the whole response (False: only its beginning)

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
        parsed = [e.json is not None for e in events]
        found = Rows(list(compress(range(len(events)), parsed)), list(compress(events, parsed)))
        self.__dict__["_json_events"] = (events, len(events), found)
        return found

    def ptr(self, suffix: str = "") -> str:
        """JSON pointer into this exchange's response body."""
        return f"/exchanges/{self.index}/response/body{suffix}"

    def event_ptr(self, position: int, suffix: str = "") -> str:
        return f"/exchanges/{self.index}/response/events/{position}/json{suffix}"

    def header_ptr(self, name: str) -> str:
        return f"/exchanges/{self.index}/response/headers/{name.lower()}"

    def to_dict(self, record_limit: int | None = None) -> dict[str, Any]:
        """The exchange as results.json stores it: at most ``record_limit`` bytes of body or
        stream (default: :attr:`record_limit`); beyond it a ``recording`` marker gives the
        total size and the sha256 of the whole."""
        limit = self.record_limit if record_limit is None else record_limit
        body, events, raw_sse, truncated = self._bounded(limit)
        response: dict[str, Any] = {
            "status": self.status,
            "headers": self.headers,
            "body": body,
            "events": events,
            "raw_sse": raw_sse,
            "error": self.error,
        }
        if self.secret_echo:
            response["secret_echo"] = list(self.secret_echo)
        if truncated:
            response["recording"] = {
                "truncated": True,
                "limit_bytes": limit,
                "total_bytes": self.size,
                "sha256": self.sha256,
                **({"stored_events": len(events or []), "total_events": len(self.events or [])} if self.is_sse else {}),
            }
        return {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": response,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }

    def _bounded(self, limit: int) -> tuple[Any, list[dict[str, Any]] | None, str | None, bool]:
        if not self.is_sse:
            if self.size <= limit and len(self.text) <= limit:
                return self.body, None, None, False
            return _prefix(self.text, limit), None, None, True
        events: list[dict[str, Any]] = []
        used = 0
        truncated = False
        for event in self.events or []:
            cost = 3 * len(event.data) + 100  # the data, its parsed form and the JSON around them
            if used + cost > limit:
                truncated = True
                break
            used += cost
            events.append(event.to_dict())
        raw = self.raw_sse
        if raw is not None and len(raw) > max(limit - used, 0):
            raw, truncated = _prefix(raw, max(limit - used, 0)), True
        return None, events, raw, truncated or not self.raw_complete


class Rows(Sequence):
    """Rows of a table kept as its columns: reading a row (by iterating or indexing) gives a tuple
    made as it is read. The memos the stream checks share hold a row per event; kept as tuples, a
    stream of a million events would hold millions more objects that every pass of the garbage
    collector walks again (measured: most of the cost of a long stream's checks)."""

    __slots__ = ("columns",)

    def __init__(self, *columns: Sequence[Any]) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0])

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Rows(*(column[index] for column in self.columns))
        return tuple(column[index] for column in self.columns)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Rows, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rows({list(self)!r})"


def _prefix(text: str, limit: int) -> str:
    """The beginning of ``text`` that stays about ``limit`` bytes once written as JSON (a body
    of control characters is six times larger escaped)."""
    import json as jsonlib

    piece = text[:limit]
    written = len(jsonlib.dumps(piece))
    if written > limit and piece:
        piece = piece[: max(int(len(piece) * limit / written), 0)]
    return piece


class Recorder:
    """The one way a response becomes an :class:`Exchange`: feed the bytes as they arrive, then
    :meth:`finish`. Used by the live transport, the proxy and the offline readers alike, so a
    HAR entry, a relayed stream and a suite's own request are recorded (and redacted) the same way.

    ``stream`` says the request asked for a stream: a 200 answer is then read as SSE whatever its
    content-type says (SDKs do), so a wrong content-type is one finding, not a cascade.

    Memory is bounded: a body is kept up to ``max_body`` bytes, a stream is parsed as it arrives
    (its events kept, its raw bytes only up to the recording limit) up to ``max_stream`` bytes
    and ``max_events`` events. Past a limit :attr:`limit_error` names it; the feeder stops and
    the exchange ends with that error (``error_kind`` ``too_large``).
    """

    def __init__(
        self,
        exchange: Exchange,
        redactor: Any = None,
        *,
        stream: bool = False,
        expect_done: bool = False,
        max_body: int = MAX_BODY_BYTES,
        max_stream: int = MAX_STREAM_BYTES,
        max_events: int = MAX_EVENTS,
    ) -> None:
        from conformance.redact import Redactor
        from conformance.sse import SSEParser

        self.exchange = exchange
        self.redactor = redactor or Redactor()
        media = exchange.content_type.split(";")[0].strip().lower()
        self.is_sse = media == "text/event-stream" or (stream and exchange.status == 200)
        self.parser = SSEParser(expect_done=expect_done, defer_json=True) if self.is_sse else None
        self._chunks: list[bytes] = []
        self._kept = 0
        self._keep = max(MAX_RAW_SSE_CHARS, exchange.record_limit) if self.is_sse else max_body
        self._hash = hashlib.sha256()
        self.max_body, self.max_stream, self.max_events = max_body, max_stream, max_events
        self.size = 0
        self.limit_error: str | None = None

    def feed(self, chunk: bytes) -> int:
        """Take the next bytes; returns how many events they completed. Past a limit nothing
        more is taken and :attr:`limit_error` says which limit."""
        if self.limit_error is not None:
            return 0
        cap = self.max_stream if self.parser is not None else self.max_body
        if self.size + len(chunk) > cap:
            what, name = ("stream", "max_stream_bytes") if self.parser is not None else ("body", "max_body_bytes")
            self.limit_error = f"response {what} larger than the {_size(cap)} limit ({name}); reading stopped"
            chunk = chunk[: cap - self.size]
        self.size += len(chunk)
        self._hash.update(chunk)
        if self._kept < self._keep:
            piece = chunk[: self._keep - self._kept]
            self._chunks.append(piece)
            self._kept += len(piece)
        if self.parser is None:
            return 0
        done = len(self.parser.feed(chunk))
        if len(self.parser.events) > self.max_events and self.limit_error is None:
            self.limit_error = f"stream of more than {self.max_events:,} events (max_events); reading stopped"
            del self.parser.events[self.max_events :]
        return done

    def finish(self, complete: bool = True) -> Exchange:
        """Parse and redact what was read. ``complete`` is False when reading was cut short
        (an error, a limit): an unfinished event is then not reported as a framing issue."""
        import json as jsonlib

        ex = self.exchange
        redactor = self.redactor
        raw = b"".join(self._chunks)
        self._chunks = []
        ex.size, ex.sha256 = self.size, self._hash.hexdigest()
        success = ex.status is not None and 200 <= ex.status < 300
        decoded = raw.decode("utf-8", "replace")
        before = redactor.hits
        text = redactor.text(decoded)
        if redactor.hits > before:
            ex.secret_echo.append("stream" if self.parser is not None else "body")
            ex.secret_echo_unmasked = ex.secret_echo_unmasked or (success and redactor.contains_whole(decoded))
        del decoded
        ex.text = text
        if self.parser is not None:
            if complete and self.limit_error is None:
                self.parser.close()
            with _gc_paused():  # a stream's events become objects that live on: see _gc_paused
                self.parser.parse_deferred()
            before = redactor.hits
            ex.events = self.parser.events
            for start in range(0, len(ex.events), REDACT_BATCH):
                batch = ex.events[start : start + REDACT_BATCH]
                if redactor.may_hold([event.data for event in batch]):
                    for event in batch:
                        self._redact_event(event)
                else:  # no secret in any event's data: only what JSON escapes may hide is left to look at
                    escaped = [event for event in batch if event.json is not None and "\\" in event.data
                               and (redactor.escapes_may_hide(event.data) or _deeper_than(event.data, JSON_DEPTH))]
                    strings: list[str] = []
                    if escaped and (not all(_json_strings(event.json, strings) for event in escaped) or redactor.may_hold(strings)):
                        for event in escaped:
                            self._redact_event(event)
            if redactor.hits > before and "stream" not in ex.secret_echo:
                ex.secret_echo.append("stream")
            ex.framing = self.parser.issues
            ex.comments = self.parser.comments
            ex.saw_done = self.parser.saw_done
            ex.raw_sse = text[:MAX_RAW_SSE_CHARS]
            ex.raw_complete = self._kept >= self.size and len(text) <= MAX_RAW_SSE_CHARS
            self.parser = None
            return ex
        try:
            parsed = jsonlib.loads(raw) if raw else None
            before = redactor.hits
            ex.body = redactor.obj(parsed)
            if redactor.hits > before and "body" not in ex.secret_echo:
                ex.secret_echo.append("body")
            ex.is_json = bool(raw)
        except (ValueError, RecursionError):
            ex.body = text
        return ex

    def _redact_event(self, event: SSEEvent) -> SSEEvent:
        before = self.redactor.hits
        event.data = self.redactor.text(event.data)
        # the parsed form can only hold a secret the data did not show as such through escapes
        if event.json is not None and (self.redactor.hits > before or "\\" in event.data):
            try:
                event.json = self.redactor.obj(event.json)
            except RecursionError:
                event.json = None
        return event


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No automatic garbage collection while a stream's JSON is parsed in one go. Each full
    collection walks every object alive, and a long stream's parsed events are most of them:
    collected as they are made, the walks are repeated every 25% of growth (measured: about half
    the time of recording and judging a 200,000-event stream). Paused, a single collection
    follows. The pause is process-wide but lasts only this CPU-bound step (about 1.5 µs per
    event), and an application that turned collection off keeps it off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _deeper_than(data: str, depth: int) -> bool:
    """Whether the JSON text may nest deeper than ``depth`` (Redactor.obj may then give up on it)."""
    return data.count("{") + data.count("[") > depth


def _json_strings(value: Any, out: list[str], depth: int = JSON_DEPTH) -> bool:
    """Append every string of a parsed JSON value (keys too) to ``out``: what Redactor.obj would
    scrub. False when it is nested deeper than ``depth`` (then let Redactor.obj judge it)."""
    stack = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if level > depth:
            return False
        kind = type(node)
        if kind is dict:
            for key, item in node.items():
                out.append(key if type(key) is str else str(key))
                if type(item) is str:
                    out.append(item)
                elif type(item) is dict or type(item) is list:
                    stack.append((item, level + 1))
        elif kind is list:
            for item in node:
                if type(item) is str:
                    out.append(item)
                elif type(item) is dict or type(item) is list:
                    stack.append((item, level + 1))
        elif kind is str:
            out.append(node)
    return True


def _size(n: int) -> str:
    return f"{n // MB} MB" if n >= MB and n % MB == 0 else f"{n:,} bytes"


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
    if recorder.limit_error is None:
        return recorder.finish()
    # past a limit only the beginning was read (as the transport ends such an exchange): it is not
    # judged, or a conformant stream cut by our limit would lack its end ([DONE], finish_reason)
    recorder.finish(complete=False)
    ex.error, ex.error_kind = recorder.limit_error, "too_large"
    return ex
