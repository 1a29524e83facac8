"""judge(exchange, context) → findings: every applicable rule, for any exchange.

The one place that decides which rules apply to a recorded exchange, whatever produced it: a
suite's own request, the validating proxy relaying an application's traffic, or an offline
recording (HAR, raw capture, JSONL, a saved results.json). Rules are chosen by what the exchange
is (endpoint, protocol, stream or not, success or error) and by what its request asked for
(n, stop, max tokens, tools, tool_choice, include_usage, logprobs, response_format, …), so a
request-driven semantic rule ("n honoured", "stop honoured") applies wherever the request asked.

Suites call the same :func:`judge` for their exchanges and add only what is specific to their
case (the expectation of this request: it must succeed, it must be refused with 400, …).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from conformance.exchange import Exchange
from conformance.findings import Finding, Severity, Strictness

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
    for endpoint, suffix in (paths or {}).items():
        if suffix and path.endswith(suffix.rstrip("/")):
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
    )


# -- the run context -------------------------------------------------------------------------------
@dataclass
class JudgeContext:
    """The run's settings a verdict depends on: profiles, strictness, switched-off checks."""

    profiles: list[str] = field(default_factory=lambda: ["openai", "anthropic"])
    strictness: Strictness = Strictness.COMPATIBLE
    disabled: frozenset[str] = frozenset()
    now: float | None = None  # the clock time-dependent rules compare with (an offline capture's own time); None: the local clock
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


_TABLE: list[Applicable] | None = None


def table() -> list[Applicable]:
    """Every rule judge() can apply, built once (imports every check module)."""
    global _TABLE
    if _TABLE is None:
        from conformance import judge_table

        _TABLE = judge_table.build()
    return _TABLE


def applicable(exchange: Exchange, context: JudgeContext, facts: Facts | None = None) -> list[tuple[Applicable, tuple[Any, ...]]]:
    """The checks that apply to this exchange, with their arguments, in table order."""
    facts = facts or facts_of(exchange, context.paths())
    out = []
    for entry in table():
        if entry.name in context.disabled:
            continue
        try:
            if not entry.when(facts, exchange, context):
                continue
            args = entry.args(facts, exchange, context)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a malformed request: the rule cannot tell what was asked, so it does not apply
        if args is not None:
            out.append((entry, args))
    return out


def judge(exchange: Exchange, context: JudgeContext) -> list[Finding]:
    """Every finding of every applicable rule for one exchange. Never raises for a broken
    exchange: a check that cannot evaluate it reports that as a warning, never as a FAIL."""
    from conformance.checks import evaluate

    findings: list[Finding] = []
    for entry, args in applicable(exchange, context):
        findings.extend(run_check(entry.check, args, context.strictness, exchange))
    return findings


def run_check(check: Callable[..., Iterable[Any]], args: tuple[Any, ...], strictness: Strictness, exchange: Exchange | None = None) -> list[Finding]:
    """Evaluate one check; a check that crashes on a hostile exchange yields a warning finding."""
    from conformance.checks import evaluate, info_of

    try:
        return evaluate(check, *args, strictness=strictness)
    except RecursionError:
        reason = "the response is nested too deeply to evaluate"
    except Exception as exc:  # noqa: BLE001 - a hostile body must never crash a run
        reason = f"{type(exc).__name__}: {exc}"
    info = info_of(check)
    pointer = f"/exchanges/{exchange.index}/response" if exchange is not None else ""
    return [Finding(info.name, None, Severity.WARNING, f"the check could not evaluate this exchange ({reason[:200]})", pointer, info.source, rule=f"{info.rule_prefix}.not_evaluated")]
