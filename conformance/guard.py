"""A run that ends on time: the run deadline and the breaker, shared by every case of a process.

- **Deadline**: an absolute time (``RunConfig.deadline_at``, from ``--deadline``/``deadline``).
  Each exchange's timeouts are capped by the time left; once it has passed, nothing more is
  sent and the remaining cases end ERROR with that reason.
- **Breaker**: after ``threshold`` consecutive transport failures of the same kind (timeouts,
  refused or reset connections) against one target, the remaining exchanges with that target
  are not sent: their cases end ERROR with the reason, instead of each waiting its timeout out.
  Any exchange that got an answer resets the count.

The transport consults the guard before sending and reports every exchange to it
(:meth:`RunGuard.before_send`, :meth:`RunGuard.after`); it never raises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

BREAKER_KINDS = frozenset({"timeout", "connect", "read"})
DEFAULT_BREAKER = 3


@dataclass
class RunGuard:
    deadline_at: float | None = None  # time.time() after which nothing more is sent
    deadline_s: float | None = None  # as configured, for messages
    threshold: int = DEFAULT_BREAKER  # 0: no breaker
    _streaks: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # origin -> (kind, count, message)
    _open: dict[str, str] = field(default_factory=dict)  # origin -> reason

    def remaining(self) -> float | None:
        if self.deadline_at is None:
            return None
        return self.deadline_at - time.time()

    def before_send(self, origin: str) -> str | None:
        """Why nothing may be sent to ``origin`` now (None: go ahead)."""
        left = self.remaining()
        if left is not None and left <= 0:
            return f"run deadline of {self.deadline_s:g}s reached; not sent" if self.deadline_s else "run deadline reached; not sent"
        return self._open.get(origin)

    def after(self, origin: str, exchange: Any) -> None:
        kind = exchange.error_kind
        if kind not in BREAKER_KINDS:
            if exchange.status is not None or kind is None:
                self._streaks.pop(origin, None)
            return
        last_kind, count, _ = self._streaks.get(origin, (kind, 0, ""))
        count = count + 1 if last_kind == kind else 1
        self._streaks[origin] = (kind, count, exchange.error or kind)
        if self.threshold and count >= self.threshold and origin not in self._open:
            self._open[origin] = (
                f"not sent: the last {count} exchanges with {origin} failed the same way "
                f"({kind}: {exchange.error or kind}); breaker open"
            )
