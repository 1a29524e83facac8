"""Proof that every check can fail: each named fault of the reference server trips exactly the
checks it names (and the clean server trips none: tests/test_end_to_end.py)."""

import pytest

from conformance.reference.faults import FAULTS
from conformance.selftest import run_fault

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_caught_by_its_named_checks(name):
    result = run_fault(FAULTS[name])
    assert not result.error, result.error
    assert result.fault.expect, f"fault {name} names no check that must fire"
    assert not result.missing, f"{name}: expected checks did not fire: {sorted(result.missing)} (fired: {sorted(result.fired)})"
    assert not result.unexpected, f"{name}: checks fired that the fault does not name: {sorted(result.unexpected)}"
