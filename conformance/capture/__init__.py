"""Offline readers: recorded traffic becomes exchanges, judged without sending anything.

Each reader turns one file into :class:`Entry` objects (what was captured, as bytes and headers,
not yet redacted) or :class:`Skip` markers (an entry it could not read). :func:`exchanges`
then collects every secret the capture itself carries (credential headers, cookies, key query
parameters) so that their echoes are scrubbed everywhere, and builds each
:class:`~conformance.exchange.Exchange` through :func:`conformance.exchange.record`: the same
recording path, SSE parser and redaction as a live run.

Formats (``--format``; by default sniffed from the content):

- ``har``: HAR 1.2 (browser devtools, mitmproxy, Charles);
- ``raw``: raw HTTP captures (``curl -i -N`` output, optionally preceded by the request), one or
  more exchanges per file;
- ``jsonl``: one ``{"request": {...}, "response": {...}}`` object per line;
- ``results``: a results.json written by ``conformance run`` (re-judged with this version's rules).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, urlsplit

from conformance.errors import ConformanceError
from conformance.exchange import Exchange, record
from conformance.redact import SENSITIVE_HEADERS, Redactor

FORMATS = ("har", "raw", "jsonl", "results")
SECRET_QUERY_PARAMS = frozenset({"api_key", "api-key", "apikey", "key", "access_token", "token"})


class CaptureError(ConformanceError):
    """A capture file that cannot be read at all (one line naming the file, exit 2)."""


@dataclass
class Entry:
    """One captured exchange as it was on the wire (before redaction)."""

    label: str  # "<file>#<entry>"
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: Any  # bytes, text or parsed JSON
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    started: float | None = None  # when the capture says the request was sent (epoch seconds)
    notes: list[str] = field(default_factory=list)  # said in the case's reason (truncated, inferred…)
    error: str | None = None  # a transport error recorded with the exchange
    origin: dict[str, Any] = field(default_factory=dict)  # results.json: the original case


@dataclass
class Skip:
    """An entry that is not judged: not an LLM API call, or unreadable (``invalid``)."""

    label: str
    reason: str
    invalid: bool = False


Item = Entry | Skip


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def pairs(value: Any) -> list[tuple[str, str]]:
    """Headers as (name, value) pairs from a dict, a list of pairs or HAR's [{name, value}]."""
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            for item in v if isinstance(v, list) else [v]:
                out.append((str(k), "" if item is None else str(item)))
        return out
    out = []
    for item in value or []:
        if isinstance(item, dict) and "name" in item:
            out.append((str(item["name"]), str(item.get("value", ""))))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
    return [(k, v) for k, v in out if not k.startswith(":")]  # HTTP/2 pseudo-headers


# -- secrets -----------------------------------------------------------------------------------------
def secrets_of(entry: Entry) -> set[str]:
    """Every secret value this entry's own request (and cookies) carry."""
    found: set[str] = set()
    for name, value in [*entry.request_headers, *entry.headers]:
        key = name.lower()
        if key not in SENSITIVE_HEADERS:
            continue
        value = value.strip()
        found.add(value)
        scheme, _, credential = value.partition(" ")
        if credential and scheme.lower() in ("bearer", "basic", "token"):
            found.add(credential.strip())
        if key in ("cookie", "set-cookie"):
            for part in value.split(";"):
                _, eq, cookie_value = part.partition("=")
                if eq:
                    found.add(cookie_value.strip())
    for name, value in parse_qsl(urlsplit(entry.url).query, keep_blank_values=False):
        if name.lower() in SECRET_QUERY_PARAMS:
            found.add(value)
    return {s for s in found if len(s) >= 4 and s != "[REDACTED]"}


# -- reading -----------------------------------------------------------------------------------------
def sniff(path: Path, data: bytes) -> str:
    """The format of a capture, from its content (then its name)."""
    head = data.lstrip()[:4096]
    if head.startswith(b"{") or head.startswith(b"["):
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            if "log" in doc:
                return "har"
            if "cases" in doc and "schema_version" in doc:
                return "results"
            if "request" in doc:
                return "jsonl"
        first = head.split(b"\n", 1)[0].strip()
        if path.suffix.lower() in (".jsonl", ".ndjson") or (first.endswith(b"}") and b'"request"' in first):
            return "jsonl"
        if path.suffix.lower() == ".har" or b'"log"' in head:
            return "har"
        if b'"schema_version"' in head or b'"cases"' in head:
            return "results"
        return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "har"
    from conformance.capture import raw

    if raw.looks_raw(head):
        return "raw"
    raise CaptureError(f"{path}: not a recognised capture (HAR, raw HTTP, JSONL or results.json); use --format to say which")


def read(path: Path, fmt: str | None = None) -> Iterator[Item]:
    """Every entry of one capture file, in order."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, expected a capture file") from None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise CaptureError(f"{path}: the file is empty")
    fmt = fmt or sniff(path, data)
    from conformance.capture import har, jsonl, raw, results

    reader = {"har": har, "raw": raw, "jsonl": jsonl, "results": results}[fmt]
    yield from reader.read(path, data)


def capture_time(entry: Entry) -> float | None:
    """When the exchange happened: the capture's own time, else the response's Date header."""
    if entry.started is not None:
        return entry.started
    date = header(entry.headers, "date")
    if date:
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
    return None


def exchange_of(entry: Entry, redactor: Redactor, index: int = 0) -> Exchange:
    """The entry recorded through the one recording path (SSE parser, redaction)."""
    ex = record(
        method=entry.method,
        url=entry.url,
        request_headers=entry.request_headers,
        request_body=entry.request_body,
        status=entry.status,
        headers=entry.headers,
        body=entry.body,
        redactor=redactor,
        index=index,
    )
    if entry.error:
        ex.error = redactor.text(entry.error)
        ex.error_kind = "read"
    return ex
