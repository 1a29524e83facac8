"""Budgets and pacing for a paid, rate-limited API: the most requests and output tokens a run may
spend, how many requests per second it may send and how many at once. Enforced at the transport,
before every try (retries included), across the pytest-xdist workers of one run.

The workers share one small ledger (a JSON file under an exclusive ``flock`` in a folder of the
run): each try first takes its place there (one request, its output cap, its time slot), so the
run never sends past the budget and its tries are spaced by ``1 / rate_limit`` seconds whichever
worker sends them. A concurrency cap is a set of slot lock files, one held per request in flight.
The budget is per target (each target of a run is its own session with its own ledger).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from conformance.spend import output_cap, usage_from

try:  # POSIX; elsewhere the ledger is shared by the threads of one process only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LEDGER_ENV = "CONFORMANCE_LEDGER"  # the folder of the run's ledger, inherited by xdist workers


@dataclass(frozen=True)
class SpendLimits:
    max_requests: int | None = None  # tries sent to the target, retries included
    max_output_tokens: int | None = None  # the output caps of the requests sent (actual usage once known)
    rate_limit: float | None = None  # requests per second, across workers
    concurrency: int | None = None  # requests in flight at once, across workers

    @property
    def active(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class BudgetSpent(Exception):
    """A try was not sent: it would go past the run's budget. ``str()`` starts with "budget"."""


@dataclass
class Ticket:
    cap: int
    slot: Any = None


class Ledger:
    """Counters shared by the processes of one run: a JSON file read and written under a lock."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "ledger.json"
        self._lock_path = self.folder / "ledger.lock"
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        """The ledger's state, locked for the block; changes made to it are saved."""
        with self._thread_lock, open(self._lock_path, "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                try:
                    state = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    state = {}
                for key in ("requests", "reserved_output", "output_tokens", "input_tokens", "refused"):
                    state.setdefault(key, 0)
                state.setdefault("next_slot", 0.0)
                yield state
                tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(state))
                os.replace(tmp, self.path)
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        with self.state() as state:
            return dict(state)


class Gate:
    """What every try of one session passes through (see the module's docstring)."""

    def __init__(self, limits: SpendLimits, ledger: Ledger) -> None:
        self.limits = limits
        self.ledger = ledger

    def admit(self, body: Any) -> Ticket:
        """Take a place for one try of a request with this body; waits for its time slot and a
        concurrency slot. Raises :class:`BudgetSpent` when the try would go past the budget."""
        limits = self.limits
        cap = output_cap(body) if limits.max_output_tokens is not None else 0
        refusal = None
        with self.ledger.state() as state:
            committed = state["output_tokens"] + state["reserved_output"]
            if limits.max_requests is not None and state["requests"] + 1 > limits.max_requests:
                refusal = f"budget: the run's {limits.max_requests} requests are spent"
            elif limits.max_output_tokens is not None and committed + cap > limits.max_output_tokens:
                refusal = (f"budget: this request may use {cap} output tokens; {max(0, limits.max_output_tokens - committed)} of "
                           f"the run's {limits.max_output_tokens} remain")
            if refusal is not None:
                state["refused"] += 1
            else:
                state["requests"] += 1
                state["reserved_output"] += cap
                at = time.time()
                if limits.rate_limit:
                    at = max(at, float(state["next_slot"]))
                    state["next_slot"] = at + 1.0 / limits.rate_limit
        if refusal is not None:
            raise BudgetSpent(refusal)
        wait = at - time.time()
        if wait > 0:
            time.sleep(wait)
        ticket = Ticket(cap=cap)
        if limits.concurrency:
            ticket.slot = self._slot(limits.concurrency)
        return ticket

    def settle(self, ticket: Ticket, body: Any, events: Any = ()) -> None:
        """The try is over: free its concurrency slot; its reserved output becomes what the answer
        reports using (the cap when it reports nothing)."""
        if ticket.slot is not None:
            with contextlib.suppress(OSError):
                if fcntl is not None:
                    fcntl.flock(ticket.slot.fileno(), fcntl.LOCK_UN)
                ticket.slot.close()
        if self.limits.max_output_tokens is None:
            return
        usage = usage_from(body, events)
        with self.ledger.state() as state:
            state["reserved_output"] = max(0, state["reserved_output"] - ticket.cap)
            state["output_tokens"] += usage[1] if usage is not None else ticket.cap
            state["input_tokens"] += usage[0] if usage is not None else 0

    def _slot(self, count: int) -> Any:
        """Hold one of ``count`` slot lock files (waits until one is free)."""
        while True:
            for i in range(count):
                handle = open(self.ledger.folder / f"slot-{i}.lock", "a+b")
                if fcntl is None:
                    return handle
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return handle
                except OSError:
                    handle.close()
            time.sleep(0.005)


def gate_for(limits: SpendLimits | None) -> Gate | None:
    """The session's gate, on the run's ledger (the folder in $CONFORMANCE_LEDGER, shared by the
    workers), or None when no budget, rate or concurrency limit is set."""
    if limits is None or not limits.active:
        return None
    folder = os.environ.get(LEDGER_ENV)
    if not folder:  # a session of its own (plain pytest without xdist): a folder of its own
        folder = tempfile.mkdtemp(prefix="conformance-ledger-")
        os.environ[LEDGER_ENV] = folder
    return Gate(limits, Ledger(folder))
