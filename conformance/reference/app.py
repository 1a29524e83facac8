"""The embedded reference server: a real ASGI (Starlette) app, conformant by construction.

What it emulates comes from the selected profiles (``specs/profiles``); which faults it
injects comes from the server's settings and from the per-request ``x-conformance-fault``
header (see :mod:`conformance.reference.faults`); which legal variations it shows, from the
settings and the ``x-conformance-tolerance`` header (:mod:`conformance.reference.tolerances`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.reference import anthropic_messages, openai_chat
from conformance.reference.context import (  # noqa: F401 - the server's public names, kept here for callers
    DEFAULT_PROFILES,
    RequestContext,
    ServerSettings,
    context_for,
    model_ids,
    new_api_key,
    not_emulated,
)

def build_app(settings: ServerSettings) -> Starlette:
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
    from conformance.reference.ratelimit import RetryAfterOnce

    app = RetryAfterOnce(app, settings.retry_after)  # type: ignore[assignment]
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
