"""A rate-limited reference server: the first try of each distinct request is answered 429 with a
``Retry-After``; the same request sent again (a client's retry) is served normally.

Legal behaviour, not a fault (nothing in the answer breaks a rule): it proves that the tool waits
out a rate limit politely and the case then passes. Switched on for the whole server
(``ServerSettings.retry_after``) or per request with the header ``x-conformance-retry-after:
VALUE``, where VALUE is the Retry-After to send: seconds (``1``, ``0.5``) or ``date+N`` for an HTTP
date N seconds ahead. A request is "the same" when its method, path and body bytes are.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
import time
from collections import OrderedDict

RETRY_AFTER_HEADER = "x-conformance-retry-after"
REMEMBERED = 100_000  # distinct requests remembered (oldest forgotten first)


class RetryAfterOnce:
    """ASGI middleware around the reference app (see the module's docstring)."""

    def __init__(self, app, server_value: str | None = None) -> None:
        self.app = app
        self.state = getattr(app, "state", None)
        self.server_value = server_value
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        value = headers.get(RETRY_AFTER_HEADER) or self.server_value
        if not value:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        key = hashlib.sha256(b"\0".join([scope["method"].encode(), scope["path"].encode(), body])).hexdigest()
        with self._lock:
            first = key not in self._seen
            self._seen[key] = None
            if len(self._seen) > REMEMBERED:
                self._seen.popitem(last=False)
        if first:
            await _too_many_requests(send, scope["path"], _retry_after(value))
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _retry_after(value: str) -> str:
    value = value.strip()
    if value.startswith("date+"):
        return email.utils.formatdate(time.time() + float(value[5:] or 0), usegmt=True)
    return value


async def _too_many_requests(send, path: str, retry_after: str) -> None:
    if path.endswith("/messages"):
        payload = {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited: retry later."}}
    else:
        payload = {"error": {"message": "Rate limit reached: retry later.", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", retry_after.encode("latin-1")),
    ]})
    await send({"type": "http.response.body", "body": body})
