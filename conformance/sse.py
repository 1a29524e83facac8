"""The one strict, incremental Server-Sent Events parser.

It follows the WHATWG event-stream grammar (lines end in CRLF, LF or CR; a blank line dispatches
an event; ``:`` starts a comment; ``field: value`` with one optional space) but, unlike a
client library, it never raises and never hides what it saw: every framing violation that
breaks real SDK decoders is recorded as a :class:`FramingIssue`, which the stream checks turn
into findings.

Violations recorded:
- ``line_without_field``: a line that is not a comment and not a field at all (e.g. a bare JSON
  error written into the stream without ``data:``; class 11). A well-formed field with a name the
  grammar does not know (``x-vendor-trace: 1``) is ignored, as WHATWG and the SDK decoders do,
  unless it carries a JSON document (``dta: {...}``: a payload no client will ever see);
- ``missing_blank_line``: one event carries several ``data:`` lines that each parse as JSON on
  their own, i.e. two events were not separated by a blank line (class 12);
- ``empty_data``: an event whose data is empty (crashes SDK JSON decoders; class 12);
- ``unterminated_event``: the stream closed in the middle of an event (no blank line after it;
  the WHATWG rules discard such an event);
- ``data_after_done``: events after ``data: [DONE]`` (when the stream uses that terminator);
- ``missing_done``: the stream closed without ``data: [DONE]`` (only when ``expect_done``;
  class 7).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any

KNOWN_FIELDS = ("data", "event", "id", "retry")
# a field name as servers write one ('x-vendor-trace', 'ping'); a JSON document or prose is not one
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
DONE = "[DONE]"
# json.loads without its wrapper (whitespace and BOM checks): used only where it gives the same
# value; anything else goes through json.loads itself, for its exact error
_scan_json = json.JSONDecoder().scan_once
TOO_DEEP = "the JSON is nested too deeply to parse"  # json_error of an event past the interpreter's recursion limit


MAX_KEPT = 10_000  # comments and framing issues kept per stream (an endless stream of them costs no more)


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str
    id: str | None = None
    retry: int | None = None
    offset: int = 0  # byte offset of the event's first line in the stream
    data_lines: int = 0
    json: Any = None
    json_error: str | None = None

    @property
    def is_done(self) -> bool:
        return self.data.strip() == DONE

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "data": self.data, "json": self.json}


@dataclass
class FramingIssue:
    kind: str
    message: str
    offset: int
    event_index: int | None = None


@dataclass
class SSEParser:
    """Feed bytes with :meth:`feed`, then call :meth:`close`. Events and issues accumulate."""

    expect_done: bool = False
    # plain events (one 'data: {...}' line) get their JSON parsed by parse_deferred(), not as they
    # arrive: a recorder parses a whole stream at once, at its end (see exchange.Recorder.finish)
    defer_json: bool = False
    events: list[SSEEvent] = field(default_factory=list)
    issues: list[FramingIssue] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)  # ignored, as WHATWG and the SDK decoders do

    _fast = True  # False: every line through the general path (tests compare the two)

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending: list[str] = []  # pieces of a line not finished yet (joined once it is)
        self._offset = 0  # characters consumed so far (approximate bytes for ASCII streams)
        self._pending_cr = False
        self._first = True
        self._reset_event()
        self._closed = False
        self.saw_done = False
        self._deferred: list[SSEEvent] = []

    # -- input ---------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume a chunk; return the events completed by it."""
        text = self._decoder.decode(chunk)
        if self._first and text:
            if text.startswith("\ufeff"):
                text = text[1:]
            self._first = False
        if "\n" not in text and "\r" not in text:
            # no line ends here: keep the piece aside (a line that never ends costs linear time)
            if text:
                self._pending.append(text)
            return []
        self._buffer = "".join([self._buffer, *self._pending, text])
        self._pending = []
        before = len(self.events)
        self._drain_lines(final=False)
        return self.events[before:]

    def close(self) -> list[SSEEvent]:
        """Signal the end of the stream; record issues about how it ended."""
        if self._closed:
            return []
        self._closed = True
        self._buffer = "".join([self._buffer, *self._pending, self._decoder.decode(b"", final=True)])
        self._pending = []
        before = len(self.events)
        self._drain_lines(final=True)
        if self._has_event_content():
            self._add_issue(
                FramingIssue(
                    "unterminated_event",
                    "the stream ended in the middle of an event (no blank line after its last "
                    "line), so SSE clients discard it",
                    self._event_offset,
                    len(self.events),
                )
            )
            self._dispatch(record_issues=True)
        if self.expect_done and not self.saw_done:
            self._add_issue(
                FramingIssue(
                    "missing_done",
                    "the stream closed without the terminal 'data: [DONE]' event",
                    self._offset,
                )
            )
        return self.events[before:]

    # -- internals -------------------------------------------------------------------------
    def _add_issue(self, issue: FramingIssue) -> None:
        if len(self.issues) < MAX_KEPT or issue.kind == "missing_done":
            self.issues.append(issue)

    def _reset_event(self) -> None:
        self._data: list[str] = []
        self._event_name: str | None = None
        self._event_id: str | None = None
        self._retry: int | None = None
        self._event_offset = self._offset if hasattr(self, "_offset") else 0
        self._started = False

    def _has_event_content(self) -> bool:
        return self._started

    def _drain_lines(self, final: bool) -> None:
        buf = self._buffer
        pos = 0
        fast = self._fast and "\r" not in buf
        while True:
            if self._pending_cr and pos < len(buf):
                # a CR at the end of the previous chunk may be followed by LF in this one
                if buf[pos] == "\n":
                    pos += 1
                    self._offset += 1
                self._pending_cr = False
            if fast and not self._started and not self._pending_cr:
                pos = self._plain_events(buf, pos)
            nl = _find_line_end(buf, pos)
            if nl is None:
                break
            end, sep_len = nl
            if buf[end] == "\r" and end + 1 == len(buf) and not final:
                # cannot know yet whether this CR is followed by LF
                self._pending_cr = True
                sep_len = 1
            line = buf[pos:end]
            self._line(line)
            consumed = end - pos + sep_len
            self._offset += consumed
            pos = end + sep_len
        rest = buf[pos:]
        if final and rest:
            self._line(rest)
            self._offset += len(rest)
            rest = ""
        self._buffer = rest

    def _plain_events(self, buf: str, pos: int) -> int:
        """The common case, at the start of an event in a buffer without CR: events that are one
        ``data: {...}`` line and a blank line. Each becomes exactly the event the line by line
        path would make of it (tests/test_stream_fast.py); anything else is left to that path.
        Returns where it stopped."""
        if self.saw_done:
            return pos  # what follows [DONE] is an issue: the line by line path records it
        start = pos
        offset = self._offset - pos  # an event's offset is this plus its position in buf
        append = self.events.append
        startswith, find = buf.startswith, buf.find
        first = len(self.events)
        while startswith("data: {", pos):
            nl = find("\n", pos)
            if nl == -1 or not startswith("\n", nl + 1):
                break  # the event goes on (several lines) or is not complete yet
            append(SSEEvent(None, buf[pos + 6 : nl], None, None, offset + pos, 1))
            pos = nl + 2
        if self.defer_json:
            self._deferred.extend(self.events[first:])
        else:
            _parse_plain(self.events[first:])
        if pos != start:
            self._offset = offset + pos
            self._event_offset = offset + pos - 1  # where the line by line path leaves it: the blank line
        return pos

    def parse_deferred(self) -> None:
        """Parse the JSON of the plain events that ``defer_json`` left unparsed."""
        deferred, self._deferred = self._deferred, []
        _parse_plain(deferred)

    def _line(self, line: str) -> None:
        if line == "":
            if self._started:
                self._dispatch(record_issues=True)
            self._reset_event()
            return
        if not self._started:
            self._event_offset = self._offset
        if line.startswith(":"):
            if len(self.comments) < MAX_KEPT:
                self.comments.append(line[1:].strip())
            return
        self._started = True
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if sep and name not in KNOWN_FIELDS and _FIELD_NAME.fullmatch(name) and not value.lstrip().startswith(("{", "[")):
            # a field the grammar does not know: WHATWG says ignore it, and the SDK decoders do
            self.unknown_fields.append(name)
            return
        if not sep or name not in KNOWN_FIELDS:
            shown = line if len(line) <= 80 else line[:77] + "..."
            self._add_issue(
                FramingIssue(
                    "line_without_field",
                    f"line is not an SSE field ('data:', 'event:', 'id:', 'retry:') nor a "
                    f"comment: {shown!r}",
                    self._offset,
                    len(self.events),
                )
            )
            return
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_name = value
        elif name == "id":
            self._event_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, record_issues: bool) -> None:
        if not self._data and self._event_name is None:
            # an event made only of id/retry or of invalid lines: nothing to deliver
            return
        index = len(self.events)
        data = "\n".join(self._data)
        event = SSEEvent(
            event=self._event_name,
            data=data,
            id=self._event_id,
            retry=self._retry,
            offset=self._event_offset,
            data_lines=len(self._data),
        )
        if self.saw_done and record_issues:
            self._add_issue(
                FramingIssue("data_after_done", "an event arrived after 'data: [DONE]'", event.offset, index)
            )
        if data.strip() == "":
            self._add_issue(
                FramingIssue(
                    "empty_data",
                    "an event with empty data (SDK JSON decoders crash on it; keep-alives "
                    "belong in ':' comments)",
                    event.offset,
                    index,
                )
            )
        elif event.is_done:
            self.saw_done = True
        else:
            event.json, event.json_error = _decode(data)
            if event.json_error is not None:
                if len(self._data) > 1 and all(_is_json(part) for part in self._data):
                    self._add_issue(
                        FramingIssue(
                            "missing_blank_line",
                            f"{len(self._data)} 'data:' lines that are each a complete JSON "
                            "document arrived in one event: events are not separated by a "
                            "blank line",
                            event.offset,
                            index,
                        )
                    )
        self.events.append(event)


def _parse_plain(events: list[SSEEvent]) -> None:
    """The JSON of events that are one data line starting with '{': what _dispatch would make
    of them (json, or json_error)."""
    scan = _scan_json
    for event in events:
        data = event.data
        try:
            value, end = scan(data, 0)
        except Exception:  # noqa: BLE001 - json.loads says what it is (or raises as it would have)
            end = -1
        if end == len(data):
            event.json = value
            continue
        event.json, event.json_error = _decode(data)


def _decode(data: str) -> tuple[Any, str | None]:
    """An event's data as JSON: (value, None), or (None, why not), never an exception (a hostile
    event nested past the recursion limit included)."""
    try:
        return json.loads(data), None
    except RecursionError:
        return None, TOO_DEEP
    except ValueError as exc:
        return None, str(exc)


def _find_line_end(buf: str, pos: int) -> tuple[int, int] | None:
    """Index of the next line terminator at or after pos, and its length."""
    cr = buf.find("\r", pos)
    lf = buf.find("\n", pos)
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, 1
    if cr + 1 < len(buf) and buf[cr + 1] == "\n":
        return cr, 2
    return cr, 1


def _is_json(text: str) -> bool:
    return _decode(text)[1] is None


def parse(data: bytes, *, expect_done: bool = False, chunk_size: int = 0) -> SSEParser:
    """Parse a whole stream (optionally in chunks, to exercise incremental parsing)."""
    parser = SSEParser(expect_done=expect_done)
    if chunk_size:
        for start in range(0, len(data), chunk_size):
            parser.feed(data[start : start + chunk_size])
    else:
        parser.feed(data)
    parser.close()
    return parser
