"""``conformance check FILE…``: judge recorded traffic offline, write the usual reports.

Every exchange of every file goes through :func:`conformance.judge.judge` with the run's
profiles, strictness and switched-off checks; the cases, verdicts and reports are those of a
live run (results.json, summary.md, junit.xml, index.html). Entries that are not LLM API calls
(other URLs, static assets, CORS preflights) are counted and skipped; unreadable entries are
named, the rest is judged, and the exit code is then 2.

A capture gives one case per exchange (id ``<file>#<entry>``). A saved results.json keeps its
cases (same ids, so ``conformance report diff`` compares the two runs): each of its exchanges is
judged again, and the findings of the case's own expectations (which only the suite can
re-evaluate, e.g. "must be refused with 400") are carried over with their severity for the new
strictness.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from conformance import __version__
from conformance.capture import Entry, Skip, capture_time, exchange_of, read, secrets_of
from conformance.errors import EXIT_FAILURES, EXIT_OK, EXIT_USAGE, ConfigError
from conformance.findings import CaseRecord, Finding, Severity, Strictness, Verdict, derive_verdict, summarise
from conformance.judge import MODEL, MODELS, OTHER, JudgeContext, applicable, facts_of, judge
from conformance.redact import Redactor

DEFAULT_PROFILES = ["openai", "anthropic"]
# rules that fire on what the request did *not* ask for: off when the request body is unknown
UNKNOWN_REQUEST_OFF = frozenset({"check_stream_no_unrequested_usage"})
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclasses.dataclass
class Outcome:
    results: dict[str, Any]
    judged: int = 0
    not_llm: int = 0
    invalid: list[Skip] = dataclasses.field(default_factory=list)
    skipped: list[Skip] = dataclasses.field(default_factory=list)
    notes: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.invalid or not self.judged:
            return EXIT_USAGE
        summary = self.results["summary"]
        return EXIT_FAILURES if summary["failed"] or summary["errors"] else EXIT_OK


def feature_of(facts: Any) -> str:
    if facts.endpoint in (MODELS, MODEL):
        return "models"
    if facts.error_status:
        return "errors"
    if facts.asked("tools"):
        return "tools"
    return "streaming" if facts.stream else "basic"


def _carried(finding: dict[str, Any], old: Strictness, new: Strictness) -> Finding | None:
    """A saved finding of the case's own expectations, at its severity for the new strictness."""
    from conformance.checks import RULES

    rule = RULES.get(finding.get("rule") or str(finding.get("check", "")).removeprefix("check_"))
    try:
        severity = Severity(finding.get("severity"))
    except ValueError:
        return None
    if rule is not None and old is not new:
        if new is Strictness.COMPATIBLE:
            severity = min(severity, rule.compatible, key=SEVERITY_RANK.get)
        elif severity is rule.compatible:
            severity = rule.strict
    return Finding(str(finding.get("check")), finding.get("class"), severity, str(finding.get("message", "")),
                   str(finding.get("pointer", "")), str(finding.get("source", "")), rule=str(finding.get("rule", "")))


def check_files(
    paths: list[Path],
    *,
    fmt: str | None = None,
    profiles: list[str] | None = None,
    strictness: Strictness = Strictness.COMPATIBLE,
    disabled: Iterable[str] = (),
    saved: dict[str, Any] | None = None,
) -> Outcome:
    """Read, judge and build the results of the given captures (nothing is written)."""
    started_wall, started = time.time(), time.monotonic()
    items: list[tuple[Path, Entry | Skip]] = []
    for path in paths:
        items.extend((path, item) for item in read(path, fmt))
    redactor = Redactor()
    for _, item in items:  # every secret of the capture first, so that echoes anywhere are scrubbed
        if isinstance(item, Entry):
            for secret in secrets_of(item):
                redactor.add(secret)
    context = JudgeContext(profiles=list(profiles or DEFAULT_PROFILES), strictness=strictness, disabled=frozenset(disabled))
    context.schemas  # load once: the per-exchange contexts below share it
    outcome = Outcome(results={})
    groups: dict[str, CaseRecord] = {}
    saved_findings: dict[str, tuple[list[dict[str, Any]], Strictness]] = {}
    applied: dict[str, set[str]] = {}
    hosts: dict[str, str] = {}
    for path, item in items:
        if isinstance(item, Skip):
            (outcome.invalid if item.invalid else outcome.skipped).append(item)
            continue
        origin = item.origin
        index = int(origin.get("exchange", 0)) if origin else 0
        exchange = exchange_of(item, redactor, index)
        facts = facts_of(exchange, context.paths())
        if facts.endpoint == OTHER or exchange.method not in ("GET", "POST"):  # CORS preflights, HEAD, …
            outcome.not_llm += 1
            continue
        outcome.judged += 1
        when = capture_time(item)
        here = dataclasses.replace(context, now=when) if when else context
        if exchange.method == "POST" and exchange.request_body in (None, ""):
            # what the request asked for is unknown: a rule that fires on something *not* asked
            # for (usage without include_usage) would be a false FAIL
            here = dataclasses.replace(here, disabled=here.disabled | UNKNOWN_REQUEST_OFF)
            if not item.notes:
                item.notes.append("the request body is not in the capture: rules that depend on what it asked for were not applied")
        findings = judge(exchange, here)
        checks = [entry.name for entry, _ in applicable(exchange, here, facts)]
        parts = urlsplit(exchange.url)
        target = str(origin.get("target") or parts.netloc or "capture")
        if parts.netloc:
            hosts.setdefault(target, f"{parts.scheme}://{parts.netloc}")
        case_id = str(origin.get("id") or item.label)
        case = groups.get(f"{target}\0{case_id}")
        if case is None:
            model = facts.asked("model")
            title = origin.get("title") or " ".join(filter(None, [exchange.method, parts.path or exchange.url, model if isinstance(model, str) else "",
                                                                 "(stream)" if facts.stream else ""]))
            case = CaseRecord(id=case_id, target=target, protocol=str(origin.get("protocol") or facts.protocol or "other"),
                              feature=str(origin.get("feature") or feature_of(facts)), title=str(title))
            groups[f"{target}\0{case_id}"] = case
            if origin and saved is not None:
                saved_findings[f"{target}\0{case_id}"] = saved.get(case_id, ([], strictness))
        case.findings.extend(findings)
        case.checks_run.extend(checks)
        applied.setdefault(f"{target}\0{case_id}", set()).update(checks)
        case.exchanges.append(exchange.to_dict())
        if exchange.error and not findings:
            case.verdict = Verdict.ERROR
            case.reason = (f"not judged: {exchange.error}" if exchange.error_kind == "too_large"
                           else f"the capture records a transport error: {exchange.error}")
        for note in item.notes:
            outcome.notes.append((item.label, note))
            case.reason = "; ".join(filter(None, [case.reason, note]))
    for key, case in groups.items():
        old_findings, old_strictness = saved_findings.get(key, ([], strictness))
        carried = [f for f in (_carried(d, old_strictness, strictness) for d in old_findings
                               if d.get("check") not in applied.get(key, set()) and d.get("check") not in context.disabled) if f]
        if carried:
            case.findings.extend(carried)
            case.reason = "; ".join(filter(None, [case.reason, f"{len(carried)} finding(s) of the case's own expectations carried over from the saved run"]))
        if case.verdict is None:
            case.verdict = derive_verdict(case.findings)
    cases = sorted((c.to_dict() for c in groups.values()), key=lambda c: c["target"])  # capture order within a target
    outcome.results = {
        "schema_version": "1",
        "tool": {"name": "conformance", "version": __version__},
        "started_at": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(time.monotonic() - started, 3),
        "strictness": strictness.value,
        "targets": [{"name": name, "base_url": redactor.text(hosts.get(name, "")) or "offline capture", "profile": list(context.profiles)}
                    for name in sorted({c["target"] for c in cases})],
        "summary": summarise(cases),
        "cases": cases,
        "client_readiness": _client_readiness(cases),
        "capture": {
            "files": [str(p) for p in paths],
            "judged": outcome.judged,
            "skipped_not_llm": outcome.not_llm,
            "skipped_no_exchange": len(outcome.skipped),
            "skipped_invalid": len(outcome.invalid),
        },
    }
    return outcome


def _saved_run(paths: list[Path], fmt: str | None) -> tuple[dict[str, Any], list[str], Strictness | None]:
    """The findings and settings of the saved runs among the inputs (results.json files)."""
    import json

    from conformance.capture import sniff

    saved: dict[str, Any] = {}
    profiles: list[str] = []
    strictness = None
    for path in paths:
        try:
            data = path.read_bytes()
            kind = fmt or sniff(path, data)
            doc = json.loads(data) if kind == "results" else None
        except (OSError, ValueError, RecursionError):
            continue
        except Exception:  # noqa: BLE001 - the reader reports unreadable files with one line
            continue
        if not isinstance(doc, dict):
            continue
        try:
            old = Strictness(doc.get("strictness", "compatible"))
        except ValueError:
            old = Strictness.COMPATIBLE
        strictness = strictness or old
        for case in doc.get("cases") or []:
            if isinstance(case, dict) and isinstance(case.get("findings"), list):
                saved[str(case.get("id"))] = ([f for f in case["findings"] if isinstance(f, dict)], old)
        target = (doc.get("targets") or [{}])[0] if isinstance(doc.get("targets"), list) else {}
        profile = target.get("profile") if isinstance(target, dict) else None
        for name in [profile] if isinstance(profile, str) else profile or []:
            for p in str(name).split(","):
                if p.strip() and p.strip() not in profiles:
                    profiles.append(p.strip())
    return saved, profiles, strictness


def command_check(args: Any, out: Callable[[str], None] = print, err: Callable[[str], None] | None = None) -> int:
    """The ``conformance check`` command (cli.py parses; this judges and writes)."""
    import sys

    from conformance import report
    from conformance.target import check_profiles, profile_list

    err = err or (lambda line: print(line, file=sys.stderr))
    paths = [Path(p) for p in args.files]
    saved, saved_profiles, saved_strictness = _saved_run(paths, args.format)
    profiles = [p for value in (args.profile or []) for p in profile_list(value)] or saved_profiles or DEFAULT_PROFILES
    check_profiles(profiles)
    from conformance.checks import RULES, load_all

    known = load_all()
    for name in args.disable_check:
        if name not in known and name not in RULES:
            raise ConfigError(f"unknown check '{name}' (see 'conformance checks')")
    strictness = Strictness(args.strictness) if args.strictness else (saved_strictness or Strictness.COMPATIBLE)
    outcome = check_files(paths, fmt=args.format, profiles=profiles, strictness=strictness, disabled=args.disable_check, saved=saved)
    for skip in outcome.invalid[:10]:
        err(f"conformance: error: {skip.label}: {skip.reason}")
    if len(outcome.invalid) > 10:
        err(f"conformance: error: {len(outcome.invalid) - 10} more unreadable entries")
    if not outcome.judged:
        skipped = outcome.not_llm + len(outcome.skipped)
        names = ", ".join(str(p) for p in paths)
        err(f"conformance: error: {names}: no LLM API exchange to judge" + (f" ({skipped} other entr{'y' if skipped == 1 else 'ies'} skipped)" if skipped else ""))
        return EXIT_USAGE
    written = report.write_all(outcome.results, Path(args.report_dir or "reports"))
    s = outcome.results["summary"]
    for label, note in outcome.notes[:10]:
        out(f"note: {label}: {note}")
    if len(outcome.notes) > 10:
        out(f"note: {len(outcome.notes) - 10} more exchange(s) with notes (see the report)")
    skipped = [f"{outcome.not_llm} non-LLM entr{'y' if outcome.not_llm == 1 else 'ies'} skipped"] if outcome.not_llm else []
    if outcome.skipped:
        skipped.append(f"{len(outcome.skipped)} without a judgeable exchange skipped")
    if outcome.invalid:
        skipped.append(f"{len(outcome.invalid)} unreadable skipped")
    out(f"{outcome.judged} exchange(s) judged ({strictness.value}; {', '.join(profiles)}) in {s['total']} case(s): "
        f"{s['passed']} PASS, {s['failed']} FAIL, {s['warned']} WARN, {s['errors']} ERROR"
        + (f"; {', '.join(skipped)}" if skipped else ""))
    for path in written:
        out(f"wrote {path}")
    return outcome.exit_code


def _client_readiness(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded exchanges replayed through the real clients (conformance/clients)."""
    from conformance.clients import readiness

    return readiness(cases)
