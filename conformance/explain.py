"""``conformance checks show RULE`` (or ``explain``): one rule as a developer needs it to act on a
finding: what it says, its source, its severity per strictness with the evidence for it, the fix
hint, the reference server's fault that proves it, and an example violating exchange (that fault's
cases run against the embedded server, the finding and the exchange excerpt printed)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from conformance.errors import EXIT_OK, ConfigError
from conformance.findings import Severity, Strictness

VERDICT_OF = {Severity.ERROR: "FAIL", Severity.WARNING: "WARN", Severity.INFO: "INFO"}


def find_rule(name: str) -> Any:
    """The rule named ``name`` (a rule id, or a check name for its main rule); one line otherwise."""
    import difflib

    from conformance.checks import REGISTRY, RULES, load_all, rule_ids

    load_all()
    if name in RULES:
        return RULES[name]
    if name in REGISTRY:
        return REGISTRY[name].rules[""]
    if f"check_{name}" in REGISTRY:
        return REGISTRY[f"check_{name}"].rules[""]
    close = difflib.get_close_matches(name, rule_ids(), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ConfigError(f"unknown rule '{name}'{hint}; 'conformance checks' lists every check, 'conformance checks rules' every rule id")


def proving_faults(rule: Any) -> list[Any]:
    """Faults whose ``expect`` names the rule (rule ids), else its check (the older form: check names)."""
    from conformance.reference.faults import FAULTS

    exact = [f for f in FAULTS.values() if rule.id in f.expect]
    if exact:
        return exact
    return [f for f in FAULTS.values() if rule.check in f.expect or rule.check.removeprefix("check_") in f.expect]


def describe(rule: Any) -> list[str]:
    lines = [f"rule {rule.id}" + (f"  (check {rule.check}" + (f", class {rule.cls})" if rule.cls else ")")), f"  {rule.title}"]
    lines.append(f"source: {rule.source or 'not recorded'}")
    for strictness in (Strictness.COMPATIBLE, Strictness.STRICT):
        severity = rule.severity_for(strictness)
        lines.append(f"severity ({strictness.value}): {VERDICT_OF[severity]}" + (f" ({severity.value})" if severity is Severity.INFO else ""))
    if rule.breaks:
        lines.append(f"  breaks: {', '.join(rule.breaks)}")
    if rule.semantic:
        lines.append(f"  not delivered: {rule.semantic}")
    if rule.evidence:
        lines.append(f"  evidence: {rule.evidence}")
    if rule.hint:
        lines.append(f"fix: {rule.hint}")
    faults = proving_faults(rule)
    if faults:
        for fault in faults:
            lines.append(f"proved by: fault {fault.name} ({fault.protocol}): {fault.description}  (conformance serve --fault {fault.name})")
    else:
        lines.append("proved by: no fault of the reference server yet")
    return lines


def example(rule: Any, fault: Any) -> list[str]:
    """Run the fault's cases against the embedded server; the first finding of this rule and its exchange."""
    from conformance.selftest import run_suite

    with tempfile.TemporaryDirectory(prefix="conformance-explain-") as tmp:
        extra = ["--fault", fault.name]
        if fault.select:
            extra += ["-k", fault.select]
        if fault.profiles:
            extra += ["--profile", ",".join(fault.profiles)]
        results, output = run_suite(extra, Path(tmp))
    if results is None:
        last = output.strip().splitlines()[-1] if output.strip() else "no results"
        return [f"example: the run with fault {fault.name} wrote no results ({last})"]
    for case in results["cases"]:
        for finding in case.get("findings") or []:
            if finding.get("rule") == rule.id:
                return _excerpt(case, finding, fault)
    return [f"example: the cases of fault {fault.name} did not report {rule.id} (it proves another rule of {rule.check})"]


def _excerpt(case: dict[str, Any], finding: dict[str, Any], fault: Any) -> list[str]:
    lines = [f"example (fault {fault.name}, case {case['id']}, {case['verdict']}):"]
    lines.append(f"  finding: {finding['severity']}: {finding['rule']}: {finding['message']}" + (f" at {finding['pointer']}" if finding.get("pointer") else ""))
    pointer = str(finding.get("pointer") or "")
    parts = pointer.split("/")
    index = int(parts[2]) if len(parts) > 2 and parts[1] == "exchanges" and parts[2].isdigit() else 0
    exchanges = case.get("exchanges") or []
    if not exchanges:
        return lines
    ex = exchanges[min(index, len(exchanges) - 1)]
    request, response = ex.get("request") or {}, ex.get("response") or {}
    lines.append(f"  request: {request.get('method', '')} {request.get('url', '')}")
    if request.get("body") is not None:
        lines.append(f"    {_short(request['body'], 300)}")
    content_type = next((v for k, v in (response.get("headers") or {}).items() if k.lower() == "content-type"), "")
    lines.append(f"  response: {response.get('status')} {content_type}".rstrip())
    events = response.get("events")
    if events and len(parts) > 5 and parts[4] == "events" and parts[5].isdigit():
        at = int(parts[5])
        for i in range(max(0, at - 1), min(len(events), at + 1)):
            lines.append(f"    event {i}{' <- here' if i == at else ''}: {_short(events[i].get('data'), 300)}")
    elif events:
        for i, event in enumerate(events[-2:], len(events) - 2 if len(events) > 1 else 0):
            lines.append(f"    event {i}: {_short(event.get('data'), 300)}")
    elif response.get("body") is not None:
        lines.append(f"    {_short(response['body'], 400)}")
    return lines


def _short(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def command_show(name: str, with_example: bool = True) -> int:
    rule = find_rule(name)
    for line in describe(rule):
        print(line, flush=True)
    faults = proving_faults(rule)
    if with_example and faults:
        print(f"running the cases of fault {faults[0].name} against the embedded server…", flush=True)
        for line in example(rule, faults[0]):
            print(line)
    return EXIT_OK


def command_rules() -> int:
    """Every rule id with its severity per strictness and title."""
    from conformance.checks import RULES, load_all, rule_ids

    load_all()
    for rule_id in rule_ids():
        rule = RULES[rule_id]
        print(f"{rule_id:48} {VERDICT_OF[rule.compatible]:4}/{VERDICT_OF[rule.strict]:4} {rule.title}")
    return EXIT_OK
