"""Secrets never reach an artifact: the one place that scrubs them from what is recorded.

Credential headers are replaced by ``[REDACTED]`` and every known secret value is scrubbed from
URLs, headers, bodies and stream events at capture time, before anything is stored.
"""

from __future__ import annotations

from typing import Any, Iterable

REDACTED = "[REDACTED]"
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "set-cookie", "x-goog-api-key"}
)


class Redactor:
    """Scrubs secret values (and credential headers) out of anything recorded."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            value = REDACTED if key in SENSITIVE_HEADERS else self.text(value)
            out[key] = f"{out[key]}, {value}" if key in out else value
        return out

    def obj(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.obj(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.obj(v) for k, v in value.items()}
        return value
