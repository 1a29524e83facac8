"""What judge() decides on: the facts of an exchange, the run context, and the form of an entry
of its selection table. No check is imported here, so the table and judge() can both use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from conformance.exchange import Exchange
from conformance.findings import Strictness

# -- what an exchange is ---------------------------------------------------------------------------
CHAT, MESSAGES, MODELS, MODEL, OTHER = "chat", "messages", "models", "model", "other"
PROTOCOL_OF = {CHAT: "openai", MODELS: "openai", MODEL: "openai", MESSAGES: "anthropic"}


@dataclass(frozen=True)
class Facts:
    """What an exchange is and what its request asked for: the inputs of rule selection."""

    endpoint: str
    protocol: str | None
    request: dict[str, Any]
    stream: bool  # the request asked for a stream
    status: int | None
    transport_error: str | None
    request_known: bool = True  # False when the recording has no request body (curl -i, some HAR exports)

    @property
    def success(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_status(self) -> bool:
        return self.status is not None and self.status >= 400

    def asked(self, key: str) -> Any:
        return self.request.get(key)


def endpoint_of(method: str, url: str, paths: dict[str, str] | None = None) -> str:
    """The API endpoint a request went to, from its method and path (profile paths first)."""
    path = urlsplit(url).path.rstrip("/")
    method = method.upper()
    for endpoint, suffix in (paths or {}).items():
        if suffix and path.endswith(suffix.rstrip("/")) and method == "POST":
            return endpoint
    if method == "POST" and path.endswith("/chat/completions"):
        return CHAT
    if method == "POST" and path.endswith("/messages"):
        return MESSAGES
    if method == "GET" and path.endswith("/models"):
        return MODELS
    if method == "GET" and "/models/" in path:
        return MODEL
    return OTHER


def facts_of(exchange: Exchange, paths: dict[str, str] | None = None) -> Facts:
    endpoint = endpoint_of(exchange.method, exchange.url, paths)
    request = exchange.request_body if isinstance(exchange.request_body, dict) else {}
    return Facts(
        endpoint=endpoint,
        protocol=PROTOCOL_OF.get(endpoint),
        request=request,
        stream=request.get("stream") is True,
        status=exchange.status,
        transport_error=exchange.error,
        request_known=exchange.request_body not in (None, ""),
    )


# -- the run context -------------------------------------------------------------------------------
@dataclass
class JudgeContext:
    """The run's settings a verdict depends on: profiles, strictness, switched-off checks."""

    profiles: list[str] = field(default_factory=lambda: ["openai", "anthropic"])
    strictness: Strictness = Strictness.COMPATIBLE
    disabled: frozenset[str] = frozenset()
    now: float | None = None  # the clock time-dependent rules compare with (an offline capture's own time); None: the reply's Date header, never the local clock
    _schemas: Any = None
    _profile_cache: dict[str, Any] = field(default_factory=dict)

    @property
    def schemas(self) -> Any:
        if self._schemas is None:
            from conformance.schemas import registry

            self._schemas = registry()
        return self._schemas

    def profile(self, protocol: str | None) -> Any:
        if protocol is None:
            return None
        if protocol not in self._profile_cache:
            from conformance import profiles

            self._profile_cache[protocol] = profiles.for_protocol(list(self.profiles), protocol)
        return self._profile_cache[protocol]

    def rule(self, protocol: str | None, *keys: str, default: Any = None) -> Any:
        profile = self.profile(protocol)
        return profile.get(protocol, *keys, default=default) if profile is not None else default

    def paths(self) -> dict[str, str]:
        return {
            CHAT: self.rule("openai", "chat_path", default="") or "",
            MESSAGES: self.rule("anthropic", "messages_path", default="") or "",
        }


# -- the selection table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Applicable:
    """One check as judge() applies it: when it applies, and the arguments it gets."""

    check: Callable[..., Iterable[Any]]
    when: Callable[[Facts, Exchange, JudgeContext], bool]
    args: Callable[[Facts, Exchange, JudgeContext], tuple[Any, ...] | None] = lambda f, x, c: (x,)

    @property
    def name(self) -> str:
        from conformance.checks import info_of

        return info_of(self.check).name
