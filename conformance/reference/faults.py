"""Named faults of the reference server: one per rule the suite enforces.

A fault is switched on for the whole server (``conformance serve --fault NAME``) or for one
request (header ``x-conformance-fault: NAME[,NAME...]``). Each fault names the checks that
must fire when the suite runs against it (``expect``), the checks that may fire as a direct
consequence (``may_also``), and a pytest ``-k`` expression selecting the cases that exercise it
(``select``). The self-test (``tests/test_faults.py``, ``conformance selftest``) runs the suite
against every fault and proves each expected check fires, and that the clean server produces
no finding at all.
"""

from __future__ import annotations

from dataclasses import dataclass

FAULT_HEADER = "x-conformance-fault"


@dataclass(frozen=True)
class Fault:
    name: str
    protocol: str  # openai | anthropic
    description: str
    expect: tuple[str, ...]
    may_also: tuple[str, ...] = ()
    select: str = ""  # pytest -k expression limiting the self-test run to the relevant cases
    profiles: tuple[str, ...] = ()  # profiles to run the self-test with (default: the embedded defaults)


FAULTS: dict[str, Fault] = {}


def fault(name: str, protocol: str, description: str, expect, may_also=(), select: str = "", profiles=()) -> Fault:
    if name in FAULTS:
        raise RuntimeError(f"fault {name!r} declared twice")
    item = Fault(name, protocol, description, tuple(expect), tuple(may_also), select, tuple(profiles))
    FAULTS[name] = item
    return item


def active_faults(server_faults: frozenset[str], header_value: str | None) -> frozenset[str]:
    requested = {part.strip() for part in (header_value or "").split(",") if part.strip()}
    return server_faults | requested


def _load_declarations() -> None:
    """Import the per-protocol fault declarations (they register themselves above)."""
    from conformance.reference import faults_anthropic, faults_openai  # noqa: F401


_load_declarations()
