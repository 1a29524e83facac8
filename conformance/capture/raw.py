"""Raw HTTP captures: ``curl -i -N`` output, one or more exchanges per file.

Each exchange is an HTTP response (status line, headers, blank line, body as received), which
may be preceded by its request, as an HTTP request message or ``.http`` file block::

    POST https://api.example.com/v1/chat/completions
    Authorization: Bearer sk-...
    Content-Type: application/json

    {"model": "m", "stream": true, "messages": [...]}

    HTTP/1.1 200 OK
    content-type: text/event-stream

    data: {...}

``curl -v`` lines are understood too (``> `` request lines, ``< `` response lines, ``* `` notes
are dropped). Without its request, an exchange's endpoint is inferred from the response (a chat
completion, a message, a model list) and the rules that depend on what the request asked for are
not applied; the case says so.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any, Iterator

from conformance.capture import Entry, Item, Skip

STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})(?: .*)?$")
REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)(?: HTTP/\d(?:\.\d)?)?$")
HEADER_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$")


def looks_raw(head: bytes) -> bool:
    for line in head.splitlines():
        line = _unprefix(line.rstrip(b"\r"))
        if line is None or not line.strip():
            continue
        return bool(STATUS_LINE.match(line) or REQUEST_LINE.match(line))
    return False


def _unprefix(line: bytes) -> bytes | None:
    """A curl -v line without its marker; None for curl's own notes."""
    if line.startswith((b"> ", b"< ")) or line in (b">", b"<"):
        return line[2:]
    if line.startswith((b"* ", b"{ [", b"} [")):
        return None
    return line


def _lines(data: bytes) -> list[bytes]:
    """Lines with their endings kept (bodies are sliced back together byte for byte)."""
    return data.splitlines(keepends=True)


def _strip_eol(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def read(path: Path, data: bytes) -> Iterator[Item]:
    lines = _lines(data)
    i, n, count = 0, len(lines), 0
    pending: dict[str, Any] | None = None  # a request waiting for its response
    while i < n:
        line = _strip_eol(lines[i])
        clean = _unprefix(line)
        if clean is None or not clean.strip():
            i += 1
            continue
        if REQUEST_LINE.match(clean):
            if pending is not None:
                yield Skip(f"{path.name}#{count}", f"the request at line {pending['line']} has no response", invalid=True)
                count += 1
            m = REQUEST_LINE.match(clean)
            headers, i = _headers(lines, i + 1)
            body_start = i
            i = _next_message(lines, i)
            pending = {"method": m.group(1).decode(), "target": m.group(2).decode("utf-8", "replace"), "headers": headers,
                       "body": b"".join(lines[body_start:i]).strip(), "line": body_start}
            continue
        m = STATUS_LINE.match(clean)
        if not m:
            yield Skip(f"{path.name}#{count}", f"line {i + 1} is neither an HTTP status line nor a request line: {clean[:60].decode('utf-8', 'replace')!r}", invalid=True)
            return
        status = int(m.group(1))
        headers, i = _headers(lines, i + 1)
        if 100 <= status < 200:  # 100 Continue and friends: the real response follows
            continue
        body_start = i
        i = _next_message(lines, i)
        body = b"".join(lines[body_start:i])
        yield _entry(path, count, pending, status, headers, body)
        pending = None
        count += 1
    if pending is not None:
        yield Skip(f"{path.name}#{count}", f"the request at line {pending['line']} has no response (the capture is cut)", invalid=True)


def _headers(lines: list[bytes], i: int) -> tuple[list[tuple[str, str]], int]:
    headers = []
    while i < len(lines):
        line = _unprefix(_strip_eol(lines[i]))
        i += 1
        if line is None:
            continue
        if not line.strip():
            break
        m = HEADER_LINE.match(line)
        if m:
            headers.append((m.group(1).decode("latin-1"), m.group(2).decode("utf-8", "replace").strip()))
    return headers, i


def _next_message(lines: list[bytes], i: int) -> int:
    """Where the next request or response starts (after a body starting at ``i``)."""
    while i < len(lines):
        line = _strip_eol(lines[i])
        stripped = line[2:] if line.startswith((b"> ", b"< ")) else line
        if STATUS_LINE.match(stripped) or (REQUEST_LINE.match(stripped) and (i == 0 or not _strip_eol(lines[i - 1]).strip() or line.startswith(b"> "))):
            return i
        i += 1
    return i


def _decode(body: bytes, headers: list[tuple[str, str]]) -> bytes | None:
    encoding = next((v.lower().strip() for k, v in headers if k.lower() == "content-encoding"), "")
    if encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError):
        return body if body.lstrip()[:1] in (b"{", b"[", b"d", b"e", b":") else None  # curl --compressed already decoded it
    return body if body.lstrip()[:1] in (b"{", b"[", b"d", b"e", b":") else None


def _infer(body: bytes, headers: list[tuple[str, str]]) -> str | None:
    """The endpoint a response without its request came from, from what it contains."""
    text = body[:4096].decode("utf-8", "replace")
    if '"chat.completion' in text:
        return "/v1/chat/completions"
    if "message_start" in text or re.search(r'"type"\s*:\s*"message"', text):
        return "/v1/messages"
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("object") == "list" and isinstance(doc.get("data"), list):
        return "/v1/models"
    return None


def _entry(path: Path, count: int, request: dict[str, Any] | None, status: int, headers: list[tuple[str, str]], body: bytes) -> Item:
    label = f"{path.name}#{count}"
    decoded = _decode(body, headers)
    if decoded is None:
        return Skip(label, "the body is compressed and could not be decoded (capture with curl --compressed)", invalid=True)
    media = next((v.split(";")[0].strip().lower() for k, v in headers if k.lower() == "content-type"), "")
    if media != "text/event-stream":
        decoded = decoded.rstrip(b"\r\n")  # the separator before the next exchange is not part of the body
    notes = []
    if request is None:
        path_guess = _infer(decoded, headers)
        if path_guess is None:
            return Skip(label, "no request in the capture and the response is not recognisably an LLM API reply")
        method = "GET" if path_guess == "/v1/models" else "POST"
        url = path_guess
        request_headers: list[tuple[str, str]] = []
        request_body: Any = None
        notes.append(f"the capture has no request: endpoint {path_guess} inferred from the response; rules that depend on what the request asked for were not applied")
    else:
        method = request["method"]
        url = request["target"]
        request_headers = request["headers"]
        if url.startswith("/"):
            host = next((v for k, v in request_headers if k.lower() == "host"), "")
            url = f"https://{host}{url}" if host else url
        request_body = request["body"] or None
    return Entry(label=label, method=method, url=url, request_headers=request_headers, request_body=request_body,
                 status=status, headers=headers, body=decoded, notes=notes)
