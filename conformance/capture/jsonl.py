"""JSONL: one ``{"request": {...}, "response": {...}}`` object per line.

The objects have the shape of results.json's exchanges (so a saved run's exchanges, one per
line, are a valid capture)::

    {"request": {"method": "POST", "url": "https://host/v1/chat/completions",
                 "headers": {"authorization": "Bearer ..."}, "body": {...}},
     "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
                  "body": "data: {...}\\n\\n" or {...}, "raw_sse": "...", "events": [...]},
     "started_at": "2026-11-30T03:00:00Z"}

A response body that is a string is the bytes as received (an SSE stream is given as its raw
text, in ``body`` or ``raw_sse``); an object is a JSON body. A line that is not such an object is
skipped and named; the other lines are judged.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterator

from conformance.capture import CaptureError, Entry, Item, Skip, pairs
from conformance.exchange import MAX_RAW_SSE_CHARS


def read(path: Path, data: bytes) -> Iterator[Item]:
    items = list(_read(path, data))
    if items and all(isinstance(item, Skip) and item.invalid and item.reason.startswith("invalid JSON") for item in items):
        raise CaptureError(f"{path}: not JSONL (one JSON object per line): {items[0].label.partition('#')[2]}: {items[0].reason}")
    yield from items


def _read(path: Path, data: bytes) -> Iterator[Item]:
    text = data.decode("utf-8-sig", "replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label = f"{path.name}#line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skip(label, f"invalid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})", invalid=True)
            continue
        except RecursionError:
            yield Skip(label, "invalid JSON (nested too deeply)", invalid=True)
            continue
        yield entry_of(label, obj, started_at(obj.get("started_at") if isinstance(obj, dict) else None))


def started_at(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _sse_text(events: list[Any]) -> str:
    """A stream re-serialised from parsed events (when its raw text was not kept whole)."""
    out = []
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("event") is not None:
            out.append(f"event: {event['event']}\n")
        for line in str(event.get("data", "")).split("\n"):
            out.append(f"data: {line}\n")
        out.append("\n")
    return "".join(out)


def entry_of(label: str, obj: Any, started: float | None, origin: dict[str, Any] | None = None) -> Item:
    """An entry from one exchange object (results.json's shape)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("request"), dict):
        return Skip(label, "not a {request, response} object", invalid=True)
    req = obj["request"]
    resp = obj.get("response")
    method, url = req.get("method", "POST"), req.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not url:
        return Skip(label, "the request has no url", invalid=True)
    if not isinstance(resp, dict):
        return Skip(label, "no response was recorded", invalid=resp is not None)
    status = resp.get("status")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
        return Skip(label, f"the response status {status!r} is not a number", invalid=True)
    headers = pairs(resp.get("headers") or {})
    notes: list[str] = []
    raw_sse, events, body = resp.get("raw_sse"), resp.get("events"), resp.get("body")
    truncated = isinstance(raw_sse, str) and (len(raw_sse) >= MAX_RAW_SSE_CHARS or resp.get("raw_sse_truncated") is True)
    if isinstance(raw_sse, str) and not truncated:
        payload = raw_sse.encode("utf-8")
    elif isinstance(events, list):
        payload = _sse_text(events).encode("utf-8")
        if truncated:
            notes.append(f"the stream was longer than the {MAX_RAW_SSE_CHARS} characters kept in raw_sse: judged from its stored events, so its framing (blank lines, [DONE], comments) is not judged again")
        else:
            notes.append("no raw stream text was recorded: judged from the stored events, so its framing is not judged again")
    elif isinstance(raw_sse, str):
        payload = raw_sse.encode("utf-8")
        notes.append(f"the stream was cut at the {MAX_RAW_SSE_CHARS} characters kept in raw_sse: judged on what was kept")
    elif isinstance(body, str):
        payload = body.encode("utf-8")
    elif body is None:
        payload = b""
    else:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    if (isinstance(raw_sse, str) or isinstance(events, list)) and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", "text/event-stream"))
    error = resp.get("error")
    return Entry(
        label=label,
        method=method,
        url=url,
        request_headers=pairs(req.get("headers") or {}),
        request_body=req.get("body"),
        status=status,
        headers=headers,
        body=payload,
        started=started,
        notes=notes,
        error=str(error) if error else None,
        origin=origin or {},
    )
