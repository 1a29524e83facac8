"""The official SDKs as referees: replay a recorded exchange through openai-python and
anthropic-python, with no second request.

Each replay serves the exchange's recorded status, headers and body bytes to the SDK's own
client through an ``httpx.MockTransport``, so the real client code path parses them: the
response parser, the SSE decoder, the stream classes and the stream helpers with their
accumulators (openai ``ChatCompletionStreamState``, anthropic ``accumulate_event``). What the
client does is an :class:`Outcome`: it works, it breaks (an exception, or a final object that
differs from what the server sent), or the exchange did not exercise it.

The SDKs construct their models leniently (``construct``, no validation): a client breaks when
its ordinary code path raises, or when the values it reads are not what the server meant (a
tool name concatenated from repeated deltas, arguments that ``json.loads`` cannot take, chunks
the stream helper drops). A strict validation failure (what a client created with
``_strict_response_validation=True`` would raise) is reported apart: the default client
tolerates it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from conformance.exchange import MAX_RAW_SSE_CHARS, Exchange

WORKS, BREAKS, NOT_EXERCISED = "works", "breaks", "not_exercised"
OPENAI, ANTHROPIC = "openai-python", "anthropic-python"
PACKAGE = {OPENAI: "openai", ANTHROPIC: "anthropic"}


@dataclass
class Outcome:
    """What one client did with one exchange, for one feature (the way a client uses it)."""

    client: str  # openai-python | anthropic-python
    version: str
    feature: str  # e.g. "chat.completions.create(stream)", "chat.completions.stream", "messages.stream"
    result: str  # works | breaks | not_exercised
    detail: str = ""  # the exception, or the difference, in a sentence
    kind: str = ""  # exception | difference | wrong_class | unreadable | strict_validation | ""
    pointer: str = ""

    @property
    def label(self) -> str:
        return f"{self.client} {self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"client": self.client, "version": self.version, "feature": self.feature, "result": self.result,
                "detail": self.detail, "kind": self.kind}


def version(client: str) -> str | None:
    """The installed version of a client (None when it is not installed)."""
    try:
        module = __import__(PACKAGE[client])
    except ImportError:
        return None
    return str(getattr(module, "__version__", "?"))


def versions() -> dict[str, str]:
    """Every installed official client and its version."""
    return {name: v for name in PACKAGE if (v := version(name)) is not None}


def body_bytes(exchange: Exchange) -> bytes | None:
    """The response body as the client received it (None when the recording is incomplete)."""
    if getattr(exchange, "truncated", False):
        return None
    if exchange.is_sse:
        text = exchange.text or exchange.raw_sse or ""
        if not exchange.text and len(text) >= MAX_RAW_SSE_CHARS:
            return None  # only the truncated raw text is left: the stream cannot be replayed faithfully
        return text.encode("utf-8")
    if exchange.text:
        return exchange.text.encode("utf-8")
    if exchange.body is None:
        return b""
    import json

    return (exchange.body if isinstance(exchange.body, str) else json.dumps(exchange.body)).encode("utf-8")


_DROP = {"content-length", "content-encoding", "transfer-encoding", "connection"}


def http_module(client: str) -> Any:
    """The HTTP library the client is built on (httpx, or httpx2 for newer anthropic releases)."""
    import importlib

    base = importlib.import_module(f"{PACKAGE[client]}._base_client")
    return getattr(base, "httpx2", None) or getattr(base, "httpx")


def mock_http_client(exchange: Exchange, data: bytes, client: str) -> Any:
    """An HTTP client (the SDK's own library) whose every request is answered with the recorded response."""
    httpx = http_module(client)

    headers = [(k, v) for k, v in (exchange.headers or {}).items() if k.lower() not in _DROP]
    if exchange.is_sse and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", "text/event-stream"))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(exchange.status or 200, headers=headers, content=data, request=request)

    return httpx.Client(transport=httpx.MockTransport(handler), timeout=10)


def describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


TRUNCATED = "the recording is truncated"


@dataclass(frozen=True)
class Replayer:
    """One official client replaying recorded exchanges: ``client(exchange, data)`` is the SDK's
    client over the recorded bytes (a context manager). :meth:`call` and :meth:`error` are the two
    replays of one call; :meth:`outcome` says what the client did."""

    name: str  # openai-python | anthropic-python
    client: Callable[[Exchange, bytes], Any]

    def outcome(self, feature: str, result: str, detail: str = "", kind: str = "", pointer: str = "") -> Outcome:
        return Outcome(self.name, version(self.name) or "?", feature, result, detail, kind, pointer)

    def call(self, exchange: Exchange, feature: str, call: Callable[[Any], Any], read: Callable[[Any], list[str]],
             strict: Callable[[], str]) -> list[Outcome]:
        """A success through ``call(client)``: it breaks when the call raises (``exception``) or when
        ``read(result)`` names problems (``difference``, the first three); otherwise it works, and
        ``strict()``, when it says something, is what strict validation rejects (``strict_validation``)."""

        def judged(exc: BaseException | None, result: Any, pointer: str) -> list[Outcome]:
            if exc is not None:
                return [self.outcome(feature, BREAKS, describe(exc), "exception", pointer)]
            problems = read(result)
            if problems:
                return [self.outcome(feature, BREAKS, "; ".join(problems[:3]), "difference", pointer)]
            out = [self.outcome(feature, WORKS)]
            rejected = strict()
            if rejected:
                out.append(self.outcome(feature, WORKS, rejected, "strict_validation", pointer))
            return out

        return self._replayed(exchange, feature, call, judged)

    def error(self, exchange: Exchange, feature: str, call: Callable[[Any], Any], raised: type[BaseException],
              judge: Callable[[Any, int, str], list[Outcome]]) -> list[Outcome]:
        """An error response through ``call(client)``: the client must raise ``raised`` (its
        APIStatusError), which ``judge(exc, status, pointer)`` reads; any other exception, or none,
        is the wrong class."""

        def judged(exc: BaseException | None, result: Any, pointer: str) -> list[Outcome]:
            if isinstance(exc, raised):
                return judge(exc, exchange.status or 0, pointer)
            if exc is not None:
                return [self.outcome(feature, BREAKS, f"HTTP {exchange.status} raised {describe(exc)}, not an APIStatusError", "wrong_class", pointer)]
            return [self.outcome(feature, BREAKS, f"HTTP {exchange.status} raised no exception", "wrong_class", pointer)]

        return self._replayed(exchange, feature, call, judged)

    def _replayed(self, exchange: Exchange, feature: str, call: Callable[[Any], Any],
                  judged: Callable[[BaseException | None, Any, str], list[Outcome]]) -> list[Outcome]:
        """``call(client)`` over the recorded bytes (not exercised when the recording is truncated),
        then ``judged(exception or None, result, pointer)``."""
        data = body_bytes(exchange)
        if data is None:
            return [self.outcome(feature, NOT_EXERCISED, TRUNCATED)]
        pointer = exchange.ptr()
        result, caught = None, None
        try:
            with self.client(exchange, data) as client:
                result = call(client)
        except Exception as exc:  # noqa: BLE001 - what the client raises is the finding
            caught = exc
        return judged(caught, result, pointer)


def quiet() -> None:
    """The SDKs log what they tolerate; the findings say it instead."""
    for name in ("openai", "anthropic", "httpx"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
