"""HAR 1.2 (browser devtools, mitmproxy, Charles exports): one entry per exchange.

``text/event-stream`` bodies are the raw stream text, so they go through the same strict SSE
parser as a live run. A truncated file gives the entries before the cut (and says where it was
cut); an entry without the data needed to judge it is skipped with the reason.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterator

from conformance.capture import CaptureError, Entry, Item, Skip, pairs


def read(path: Path, data: bytes) -> Iterator[Item]:
    text = data.decode("utf-8-sig", "replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        yield from _recover(path, text, exc)
        return
    except RecursionError:
        raise CaptureError(f"{path}: invalid HAR: nested too deeply") from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        raise CaptureError(f"{path}: not a HAR file: no log.entries list")
    for i, raw in enumerate(entries):
        yield entry(path, i, raw)


def _recover(path: Path, text: str, exc: json.JSONDecodeError) -> Iterator[Item]:
    """A cut HAR: the complete entries before the cut, then one invalid marker naming it."""
    where = f"line {exc.lineno} column {exc.colno}"
    start = text.find('"entries"')
    bracket = text.find("[", start) if start >= 0 else -1
    if bracket < 0:
        raise CaptureError(f"{path}: invalid HAR: {exc.msg} at {where}") from None
    decoder = json.JSONDecoder()
    pos, i = bracket + 1, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            raw, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            yield Skip(f"{path.name}#{i}", f"the file is cut or invalid here ({exc.msg} at {where}); entries from #{i} on are not judged", invalid=True)
            return
        yield entry(path, i, raw)
        i += 1
    yield Skip(f"{path.name}#{i}", f"invalid HAR after the entries ({exc.msg} at {where})", invalid=True)


def _started(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _content(content: dict[str, Any]) -> bytes | None:
    text = content.get("text")
    if not isinstance(text, str):
        return None
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return None
    return text.encode("utf-8")


def entry(path: Path, i: int, raw: Any) -> Item:
    label = f"{path.name}#{i}"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict) or not isinstance(raw.get("response"), dict):
        return Skip(label, "not a HAR entry (no request and response objects)", invalid=True)
    req, resp = raw["request"], raw["response"]
    method, url = req.get("method"), req.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not url:
        return Skip(label, "the request has no method or url", invalid=True)
    post = req.get("postData") if isinstance(req.get("postData"), dict) else {}
    body: Any = post.get("text")
    if body is None and isinstance(post.get("params"), list):
        body = ""  # a form post: not an LLM API call, the endpoint filter skips it
    status = resp.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        return Skip(label, "the response has no status", invalid=True)
    content = resp.get("content") if isinstance(resp.get("content"), dict) else {}
    response_body = _content(content)
    notes = []
    error = raw.get("_error") or resp.get("_error")
    if status == 0:  # blocked, aborted or failed: devtools record no response
        return Skip(label, f"no response was recorded (status 0{': ' + str(error) if error else ''})")
    mime = str(content.get("mimeType") or "").split(";")[0].strip().lower()
    if response_body is None and status not in (204, 304) and method.upper() != "HEAD":
        # judging a body that was simply not exported would be a false FAIL
        return Skip(label, "the response body is not in the capture (export the HAR with content)")
    if not response_body and mime == "text/event-stream":
        return Skip(label, "the stream's body is not in the capture (browser devtools often leave event-stream bodies out of HAR exports; a proxy such as mitmproxy keeps them)")
    response_body = response_body or b""
    headers = pairs(resp.get("headers"))
    if content.get("mimeType") and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", str(content["mimeType"])))
    return Entry(
        label=label,
        method=method,
        url=url,
        request_headers=pairs(req.get("headers")),
        request_body=body,
        status=status,
        headers=headers,
        body=response_body,
        started=_started(raw.get("startedDateTime")),
        notes=notes,
        error=str(error) if error else None,
    )


def write(exchanges: list[dict[str, Any]], started_at: str = "1970-01-01T00:00:00Z") -> dict[str, Any]:
    """A HAR 1.2 document from exchange dictionaries (results.json's shape): used to turn a
    saved run into a capture, e.g. to check it with other tools or attach it to a bug report."""
    entries = []
    for x in exchanges:
        req, resp = x.get("request") or {}, x.get("response") or {}
        body = req.get("body")
        post = None
        if body is not None:
            post = {"mimeType": "application/json", "text": body if isinstance(body, str) else json.dumps(body)}
        headers = resp.get("headers") or {}
        if resp.get("raw_sse") is not None:
            text, mime = resp["raw_sse"], "text/event-stream"
        else:
            value = resp.get("body")
            text = value if isinstance(value, str) else "" if value is None else json.dumps(value)
            mime = headers.get("content-type", "application/json")
        entries.append({
            "startedDateTime": started_at,
            "time": 0,
            "request": {"method": req.get("method", "POST"), "url": req.get("url", ""), "httpVersion": "HTTP/1.1",
                        "headers": [{"name": k, "value": v} for k, v in (req.get("headers") or {}).items()],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1,
                        **({"postData": post} if post else {})},
            "response": {"status": resp.get("status") or 0, "statusText": "", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": k, "value": v} for k, v in headers.items()], "cookies": [],
                         "content": {"size": len(text), "mimeType": mime, "text": text},
                         "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
        })
    return {"log": {"version": "1.2", "creator": {"name": "conformance", "version": "1"}, "entries": entries}}
