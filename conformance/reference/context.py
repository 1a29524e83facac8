"""What every endpoint of the reference server shares: its settings, the per-request context
(emulated profile, active faults and tolerances), the models it serves. The endpoints import this,
and :mod:`conformance.reference.app` puts them together (no import circle between them).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from conformance import profiles as profiles_mod
from conformance.reference.faults import FAULT_HEADER, active_faults

DEFAULT_PROFILES = ("crossmodel-openai", "crossmodel-anthropic")


class ApiError(Exception):
    """A request an OpenAI endpoint refuses: the scenario names the profile's error row."""

    def __init__(self, scenario: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.scenario, self.message, self.param = scenario, message, param


@dataclass(frozen=True)
class ServerSettings:
    api_keys: frozenset[str]
    profiles: tuple[str, ...] = DEFAULT_PROFILES
    faults: frozenset[str] = frozenset()
    tolerances: frozenset[str] = frozenset()  # legal variations (conformance.reference.tolerances)
    latency_ms: float = 0.0  # added before each /v1 response starts (conformance serve --latency)
    chunk_delay_ms: float = 0.0  # added before each further body chunk, e.g. each SSE event (--chunk-delay)
    open_access: bool = False  # a server without authentication: every request is accepted, with or without a key
    retry_after: str | None = None  # answer each distinct request's first try 429 with this Retry-After (reference/ratelimit.py)

    def profile(self, protocol: str) -> profiles_mod.Profile | None:
        return profiles_mod.for_protocol(list(self.profiles), protocol)


@dataclass
class RequestContext:
    """What a handler needs for one request: settings, the emulated profile and active faults."""

    settings: ServerSettings
    protocol: str
    profile: profiles_mod.Profile
    faults: frozenset[str]
    tolerances: frozenset[str] = frozenset()
    request_id: str = field(default_factory=lambda: "req_" + uuid.uuid4().hex[:24])

    def fault(self, name: str) -> bool:
        return name in self.faults

    def tolerate(self, name: str) -> bool:
        return name in self.tolerances

    def emulated(self, *keys: str, default: Any = None) -> Any:
        return self.profile.get(self.protocol, *keys, default=default)


def model_ids(settings: ServerSettings) -> list[str]:
    """Every model the server serves: the ids named by each emulated profile."""
    ids: list[str] = []
    for name in settings.profiles:
        profile = profiles_mod.load(name)
        for protocol in profile.protocols:
            for model in [profile.get(protocol, "default_model")] + list(profile.get(protocol, "model_ids", default=[])):
                if model and model not in ids:
                    ids.append(model)
    return ids or ["reference-chat"]


def context_for(request: Request, protocol: str) -> RequestContext | None:
    settings: ServerSettings = request.app.state.settings
    profile = settings.profile(protocol)
    if profile is None:
        return None
    faults = active_faults(settings.faults, request.headers.get(FAULT_HEADER))
    from conformance.reference.tolerate import request_tolerances

    return RequestContext(settings, protocol, profile, faults, request_tolerances(request.scope))


def not_emulated(protocol: str) -> Response:
    return PlainTextResponse(f"this reference server does not emulate the {protocol} protocol", status_code=404)


def new_api_key() -> str:
    return "sk-ref-" + secrets.token_hex(16)
