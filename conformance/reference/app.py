"""The embedded reference server: a real ASGI (Starlette) app, conformant by construction.

What it emulates comes from the selected profiles (``specs/profiles``); which faults it
injects comes from the server's settings and from the per-request ``x-conformance-fault``
header (see :mod:`conformance.reference.faults`); which legal variations it shows, from the
settings and the ``x-conformance-tolerance`` header (:mod:`conformance.reference.tolerances`).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from conformance import profiles as profiles_mod
from conformance.reference.faults import FAULT_HEADER, active_faults

DEFAULT_PROFILES = ("crossmodel-openai", "crossmodel-anthropic")


@dataclass(frozen=True)
class ServerSettings:
    api_keys: frozenset[str]
    profiles: tuple[str, ...] = DEFAULT_PROFILES
    faults: frozenset[str] = frozenset()
    tolerances: frozenset[str] = frozenset()  # legal variations (conformance.reference.tolerances)
    latency_ms: float = 0.0  # added before each /v1 response starts (conformance serve --latency)
    chunk_delay_ms: float = 0.0  # added before each further body chunk, e.g. each SSE event (--chunk-delay)
    open_access: bool = False  # a server without authentication: every request is accepted, with or without a key

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


def build_app(settings: ServerSettings) -> Starlette:
    from conformance.reference import anthropic_messages, openai_chat

    routes = [
        Route("/v1/chat/completions", openai_chat.chat_completions, methods=["POST"]),
        Route("/v1/models", openai_chat.list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", openai_chat.get_model, methods=["GET"]),
        Route("/v1/messages", anthropic_messages.messages, methods=["POST"]),
        Route("/health", lambda request: JSONResponse({"status": "ok"}), methods=["GET"]),
    ]
    from starlette.middleware import Middleware

    from conformance.reference.tolerate import Tolerate

    app = Starlette(routes=routes, middleware=[Middleware(Tolerate, server_tolerances=frozenset(settings.tolerances))])
    app.state.settings = settings
    if settings.latency_ms > 0 or settings.chunk_delay_ms > 0:
        return Delayed(app, settings.latency_ms / 1000, settings.chunk_delay_ms / 1000)
    return app


class Delayed:
    """ASGI middleware simulating a slow network or model: ``latency_s`` before each /v1 response
    starts, ``chunk_s`` before each further chunk of its body (a stream's events arrive spaced)."""

    def __init__(self, app: Starlette, latency_s: float, chunk_s: float) -> None:
        self.app, self.latency_s, self.chunk_s = app, latency_s, chunk_s
        self.state = app.state

    async def __call__(self, scope, receive, send) -> None:
        import asyncio

        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        sent_body = False

        async def delayed_send(message) -> None:
            nonlocal sent_body
            if message["type"] == "http.response.body":
                if sent_body and self.chunk_s:
                    await asyncio.sleep(self.chunk_s)
                sent_body = True
            await send(message)

        await self.app(scope, receive, delayed_send if self.chunk_s else send)


def new_api_key() -> str:
    return "sk-ref-" + secrets.token_hex(16)
