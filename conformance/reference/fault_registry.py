"""The fault registry: what a named fault is and how one is declared (:func:`fault`). The
declarations live in ``faults_openai.py`` and ``faults_anthropic.py``; the complete catalogue,
with the rule × fault coverage, is :mod:`conformance.reference.faults`.
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
    same_as: str = ""  # behave as this other fault (the same break, proven on other cases: e.g. the streamed variant)


FAULTS: dict[str, Fault] = {}


def fault(name: str, protocol: str, description: str, expect, may_also=(), select: str = "", profiles=(), same_as: str = "") -> Fault:
    if name in FAULTS:
        raise RuntimeError(f"fault {name!r} declared twice")
    if same_as and same_as not in FAULTS:
        raise RuntimeError(f"fault {name!r} behaves as {same_as!r}, which is not declared (declare it first)")
    item = Fault(name, protocol, description, tuple(map(rule_id, expect)), tuple(may_also), select, tuple(profiles), same_as)
    FAULTS[name] = item
    return item


def rule_id(name: str) -> str:
    """A rule id; in ``expect`` a check name (``check_x``) stands for its main rule (``x``). (In
    ``may_also`` a check name allows any rule of that check: the SDK checks' rules, for instance.)"""
    return name.removeprefix("check_")


def active_faults(server_faults: frozenset[str], header_value: str | None) -> frozenset[str]:
    requested = {part.strip() for part in (header_value or "").split(",") if part.strip()}
    active = server_faults | requested
    return active | {FAULTS[n].same_as for n in active if n in FAULTS and FAULTS[n].same_as}
