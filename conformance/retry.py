"""The one retry policy: 429 and 5xx answers are retried a bounded number of times, honouring
``Retry-After`` (seconds or an HTTP date), within a bounded total wait; what is still refused
after that is the final answer (a case turns it into ERROR, never UNSUPPORTED or FAIL).

Shared by every request the tool sends (suites, client lane, preflight), so a rate-limited
target is waited out politely everywhere and a budget counts every attempt.
"""

from __future__ import annotations

import email.utils
import math
import time
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first included
    max_wait_s: float = 30.0  # total time spent waiting between tries, across one request
    base_delay_s: float = 0.5  # first back-off when the answer names no Retry-After; doubles each try
    statuses: frozenset[int] = RETRY_STATUSES

    def should_retry(self, status: int | None, attempt: int) -> bool:
        return status in self.statuses and attempt < self.attempts

    def delay(self, retry_after: str | None, attempt: int, waited: float, now: float | None = None) -> float | None:
        """Seconds to wait before try ``attempt + 1``; None when the wait would exceed the budget."""
        wanted = retry_after_seconds(retry_after, now)
        if wanted is None:
            wanted = self.base_delay_s * (2 ** (attempt - 1))
        if waited + wanted > self.max_wait_s:
            return None
        return wanted


NO_RETRY = RetryPolicy(attempts=1)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
