"""Proof that every rule can fire: each named fault of the reference server trips exactly the rule
ids it names, in the cases it selects (and the clean server trips none: tests/test_end_to_end.py);
every rule has such a fault, or a reasoned exemption.

The faults run as fault matrices (conformance/selftest.py): a few pytest sessions in which each
case runs once per fault that selects it. They are split into shards so that ``pytest -n auto``
spreads them over the workers.
"""

import pytest

from conformance.checks import RULES, load_all
from conformance.reference.faults import FAULTS, NO_FAULT_NEEDED, NO_FAULT_YET, coverage, uncovered
from conformance.selftest import FAULT_SEPARATOR, describe, judge_fault, run_matrix

DEFAULT_SHARDS = 4  # faults on the default profiles, round-robin; the faults of other profiles form one more shard


def shards() -> dict[str, list[str]]:
    default = sorted(n for n, f in FAULTS.items() if not f.profiles)
    out = {f"default-{i}": default[i::DEFAULT_SHARDS] for i in range(DEFAULT_SHARDS)}
    out["other-profiles"] = sorted(n for n, f in FAULTS.items() if f.profiles)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("shard", sorted(shards()))
def test_every_fault_is_caught_by_exactly_its_rules(shard):
    names = shards()[shard]
    results = run_matrix([FAULTS[n] for n in names])
    bad = [describe(results[n]) for n in names if not results[n].ok]
    assert not bad, f"{len(bad)} of {len(names)} faults not caught exactly:\n" + "\n".join(bad)


def test_every_rule_has_a_fault():
    missing = uncovered()
    assert not missing, "rules without a fault (add one in conformance/reference/faults_*.py): " + ", ".join(missing)


def test_the_lists_of_rules_without_a_fault_are_current():
    load_all()
    table = coverage()
    checks = {r.check for r in RULES.values()}
    proven_yet_listed = [r for r in NO_FAULT_YET if table.get(r)]
    assert not proven_yet_listed, f"these rules have a fault now: delete them from NO_FAULT_YET: {proven_yet_listed}"
    unknown = [r for r in NO_FAULT_YET if r not in table]
    assert not unknown, f"NO_FAULT_YET names unknown rules: {unknown}"
    # an exemption names a rule or a check; checks of other lanes (SDK, Node) may not be loaded here
    stale = [k for k in NO_FAULT_NEEDED if k in table and table[k]]
    assert not stale, f"these exempt rules have a fault: drop the exemption: {stale}"
    assert all(reason.strip() for reason in NO_FAULT_NEEDED.values())
    assert all(k in table or k in checks or k.startswith("check_") for k in NO_FAULT_NEEDED)


def test_every_fault_names_known_rules():
    table = coverage()
    checks = {r.check for r in RULES.values()}
    unknown = {f.name: [r for r in f.expect if r not in table] + [r for r in f.may_also if r not in table and r not in checks]
               for f in FAULTS.values()}
    unknown = {k: v for k, v in unknown.items() if v}
    assert not unknown, f"faults name rules that do not exist: {unknown}"
    assert all(f.expect for f in FAULTS.values())


def test_a_fault_is_judged_by_the_rules_of_its_own_cases():
    """judge_fault: expected rules must fire in the fault's cases; any other rule is unexpected."""
    fault = FAULTS["no_done"]
    case = {"id": f"openai_chat/test_stream.py::test_stream_basic{FAULT_SEPARATOR}no_done",
            "findings": [{"check": "check_stream_done_terminator", "rule": "stream_done_terminator", "severity": "warning"}]}
    assert judge_fault(fault, [case]).ok
    other = {**case, "findings": [{"check": "check_sse_framing", "rule": "sse_framing.empty_data", "severity": "error"}]}
    result = judge_fault(fault, [other])
    assert result.missing == {"stream_done_terminator"} and result.unexpected == {"sse_framing.empty_data"}
    assert result.where["sse_framing.empty_data"] == ["openai_chat/test_stream.py::test_stream_basic"]
    assert not judge_fault(fault, []).ok  # a selection that matches no case proves nothing
    framing = {**case, "findings": [*case["findings"], {"check": "check_sse_framing", "rule": "sse_framing.empty_data", "severity": "error"}]}
    assert "sse_framing.empty_data" in judge_fault(fault, [framing]).unexpected
    from dataclasses import replace

    loose = replace(fault, may_also=("check_sse_framing",))  # a check name in may_also allows any of its rules
    assert "sse_framing.empty_data" not in judge_fault(loose, [framing]).unexpected
    referee = {**case, "findings": [*case["findings"], {"check": "check_openai_sdk", "rule": "openai_sdk.differs", "severity": "error"}]}
    assert judge_fault(fault, [referee]).ok  # the client referees are judged by their own fault table


def test_a_required_extension_field_that_is_missing_is_reported():
    """extension_fields.missing (exempt from the fault table: no shipped profile has a required extension)."""
    from conformance.checks import evaluate
    from conformance.checks.profile_rules import check_extension_fields
    from conformance.exchange import record

    extensions = {"cost": {"location": "/usage/cost", "schema": {"type": "number"}, "required": True, "source": "vendor doc"}}
    without = record(method="POST", url="http://h/v1/chat/completions", request_headers={}, request_body=b"{}", status=200,
                     headers={"content-type": "application/json"}, body=b'{"usage": {"prompt_tokens": 1}}')
    found = evaluate(check_extension_fields, without, extensions, "vendor")
    assert [f.rule for f in found] == ["extension_fields.missing"]
    with_it = record(method="POST", url="http://h/v1/chat/completions", request_headers={}, request_body=b"{}", status=200,
                     headers={"content-type": "application/json"}, body=b'{"usage": {"prompt_tokens": 1, "cost": 0.5}}')
    assert evaluate(check_extension_fields, with_it, extensions, "vendor") == []
