"""Anthropic Messages endpoint of the reference server (``POST /v1/messages``).

Placeholder until the Anthropic issue lands: answers in the Anthropic error shape.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


async def messages(request: Request) -> JSONResponse:
    return JSONResponse(
        {"type": "error", "error": {"type": "not_found_error", "message": "the Messages endpoint is not implemented yet"}},
        status_code=404,
    )
