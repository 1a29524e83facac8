"""Named faults of the reference server: one per rule the suite enforces.

A fault is switched on for the whole server (``conformance serve --fault NAME``) or for one
request (header ``x-conformance-fault: NAME[,NAME...]``). Each fault names the rule ids that
must fire when the suite runs against it (``expect``), the rule ids that may fire as a direct
consequence (``may_also``), and a pytest ``-k`` expression selecting the cases that exercise it
(``select``). The self-test (``tests/test_faults.py``, ``conformance selftest``) runs the suite
against every fault and proves each expected rule fires in the fault's cases and nothing else
does, and that the clean server produces no finding at all. Every rule has a fault that
triggers it (``conformance faults --coverage``; exemptions in :data:`NO_FAULT_NEEDED`).
"""

from __future__ import annotations

from typing import Any

from conformance.reference import faults_anthropic, faults_openai  # noqa: E402,F401 - the declarations register themselves
from conformance.reference.fault_registry import FAULT_HEADER, FAULTS, Fault, active_faults, fault, rule_id  # noqa: F401 - the public names


# -- rule × fault coverage ----------------------------------------------------------------------------
# Rules no reference-server fault needs to prove, each with the reason (checked by tests/test_faults.py:
# every other rule has a fault that expects it). A check name stands for all of its rules.
NO_FAULT_NEEDED: dict[str, str] = {
    "stream_finish_reason": "the check's umbrella rule: every violation it reports is one of its named rules "
                            "(missing, repeated, unknown, content_after), each proven by its own fault",
    "extension_fields.missing": "no shipped profile documents an extension field as always present, so no reference "
                                "server emulation can leave one out; proven by tests/test_faults.py::"
                                "test_a_required_extension_field_that_is_missing_is_reported",
    "check_openai_sdk": "the SDK replay's own rules: proven by replaying every fault through the SDK (tests/test_sdk.py)",
    "check_anthropic_sdk": "the SDK replay's own rules: proven by replaying every fault through the SDK (tests/test_sdk.py)",
    "check_client_call": "the client lane's rules: proven by the client lane tests (tests/test_sdk.py)",
    "check_node_clients": "the Node clients' rules: proven by the fault × client table (tests/test_node_clients.py)",
}

# Rules that have no fault yet. Each is a gap in the proof, not an exemption: add the fault (its
# behaviour in openai_chat.py / anthropic_messages.py) and delete the line; the test fails when a
# rule listed here has a fault (so the list only shrinks).
NO_FAULT_YET: tuple[str, ...] = ()


def _exempt(rule: Any, table: dict[str, str]) -> str | None:
    return table.get(rule.id) or table.get(rule.check)


def coverage() -> dict[str, list[str]]:
    """Rule id (internal not_evaluated rules left out) → the faults that expect it."""
    from conformance.checks import load_all, rule_ids

    load_all()
    table: dict[str, list[str]] = {rid: [] for rid in rule_ids()}
    for item in FAULTS.values():
        for rid in item.expect:
            if rid in table:
                table[rid].append(item.name)
    return table


def uncovered() -> list[str]:
    """Rules with no fault, no exemption and not listed as a known gap."""
    from conformance.checks import RULES

    return [rid for rid, faults in coverage().items()
            if not faults and not _exempt(RULES[rid], NO_FAULT_NEEDED) and rid not in NO_FAULT_YET]


def exemption(rule: str) -> str | None:
    from conformance.checks import RULES

    return _exempt(RULES[rule], NO_FAULT_NEEDED)
