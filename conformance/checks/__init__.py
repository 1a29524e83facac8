"""Named checks and the rules they enforce.

A **check** is a function declared with :func:`check`: a generator of :class:`Violation` for the
arguments it is given (usually one exchange). A check enforces one or more **rules**: each
distinct violation it can report has a rule id, its own severity per strictness, the evidence
for that severity and a source. ``conformance checks`` lists every rule; ``--disable-check``
switches a check (all its rules) or a single rule off by name.

Rule ids: the check's name without ``check_`` for its main rule (``stream_done_terminator``), and
``<that>.<name>`` for the other distinct violations it reports
(``stream_finish_reason.missing``), declared with :func:`rule` in the check's ``rules``.

Severity is data next to the rule, per strictness: ``strict`` keeps every spec rule a FAIL
(``Severity.ERROR``); in ``compatible`` a rule is a FAIL only when an official client breaks on
it (``breaks`` names the clients, ``evidence`` says how) or when the behaviour the request asked
for was not delivered (``semantic`` says which); otherwise it is a WARN. INFO findings are
recorded but never change a verdict.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

from conformance.findings import Finding, Severity, Strictness


class Violation(NamedTuple):
    message: str
    pointer: str = ""
    severity: Severity | None = None  # overrides the rule's severity (e.g. a WARN case); only ever softened in compatible
    cls: str | None = None  # overrides the rule's incompatibility class (or names a profile rule)
    rule: str | None = None  # the local name of the rule violated (declared in the check's ``rules``); None: the main rule


@dataclass(frozen=True)
class RuleSpec:
    """A rule as a check declares it (see :func:`rule`)."""

    name: str
    title: str
    severity: Severity | None = None
    compatible: Severity | None = None
    cls: Any = ...
    breaks: tuple[str, ...] = ()
    semantic: str = ""
    evidence: str = ""
    source: str = ""
    hint: str = ""


def rule(
    name: str,
    title: str,
    *,
    severity: Severity | None = None,
    compatible: Severity | None = None,
    cls: Any = ...,
    breaks: Iterable[str] = (),
    semantic: str = "",
    evidence: str = "",
    source: str = "",
    hint: str = "",
) -> RuleSpec:
    """Declare one distinct violation of a check: its local name, title, severities, evidence,
    and a one-line fix hint for the server's developer (default: one made from the title)."""
    return RuleSpec(name, title, severity, compatible, cls, tuple(breaks), semantic, evidence, source, hint)


@dataclass(frozen=True)
class Rule:
    """One distinct violation a check can report, with its severity per strictness and why."""

    id: str
    check: str
    title: str
    cls: str | None
    source: str
    strict: Severity
    compatible: Severity
    breaks: tuple[str, ...] = ()  # official clients that break on a violation: "openai-python", "anthropic-python", …
    semantic: str = ""  # the behaviour the request asked for that a violation proves was not delivered
    evidence: str = ""  # how the clients behave (what breaks, or what they tolerate), in a sentence
    hint: str = ""  # one line: what to change in the server (declared, or made from the title)

    def severity_for(self, strictness: Strictness) -> Severity:
        return self.compatible if strictness is Strictness.COMPATIBLE else self.strict

    @property
    def local(self) -> str:
        return self.id.partition(".")[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "title": self.title,
            "class": self.cls,
            "source": self.source,
            "severity": {"compatible": self.compatible.value, "strict": self.strict.value},
            "breaks": list(self.breaks),
            "semantic": self.semantic,
            "evidence": self.evidence,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class CheckInfo:
    name: str
    cls: str | None
    source: str
    title: str
    severity: Severity
    compatible: Severity | None
    func: Callable[..., Iterable[Violation]]
    rules: dict[str, Rule] = field(default_factory=dict)  # local name ("" for the main rule) → rule

    @property
    def rule_prefix(self) -> str:
        return self.name.removeprefix("check_")

    def severity_for(self, strictness: Strictness) -> Severity:
        """The main rule's severity (kept for callers that think in checks)."""
        return self.rules[""].severity_for(strictness)

    def rule_for(self, local: str | None) -> Rule:
        try:
            return self.rules[local or ""]
        except KeyError:
            raise KeyError(f"check {self.name} reported undeclared rule {local!r}") from None


REGISTRY: dict[str, CheckInfo] = {}
RULES: dict[str, Rule] = {}
NOT_EVALUATED = "not_evaluated"


def _make_rule(check_name: str, prefix: str, spec: RuleSpec, defaults: dict[str, Any]) -> Rule:
    strict = spec.severity or defaults["severity"]
    if spec.compatible is not None:
        compatible = spec.compatible
    elif spec.severity is not None:
        compatible = spec.severity
    else:
        compatible = defaults["compatible"] or strict
    inherits = not spec.name or (spec.severity is None and spec.compatible is None)
    return Rule(
        id=f"{prefix}.{spec.name}" if spec.name else prefix,
        check=check_name,
        title=spec.title,
        cls=defaults["cls"] if spec.cls is ... else spec.cls,
        source=spec.source or defaults["source"],
        strict=strict,
        compatible=compatible,
        # a rule that keeps the check's severities keeps the evidence for them (issue 11 split the
        # checks' violations into rules without changing any severity)
        breaks=spec.breaks or (defaults["breaks"] if inherits else ()),
        semantic=spec.semantic or (defaults["semantic"] if inherits else ""),
        evidence=spec.evidence or (defaults["evidence"] if inherits else ""),
        hint=spec.hint or (defaults.get("hint", "") if not spec.name else "") or generic_hint(spec.title),
    )


def generic_hint(title: str) -> str:
    """A fix hint made from a rule's title, for rules that declare none."""
    return f"Make the server meet this rule: {title.strip().rstrip('.')}." if title else ""


def check(
    *,
    cls: str | None,
    source: str,
    title: str,
    severity: Severity = Severity.ERROR,
    compatible: Severity | None = None,
    name: str | None = None,
    rules: Iterable[RuleSpec] = (),
    breaks: Iterable[str] = (),
    semantic: str = "",
    evidence: str = "",
    hint: str = "",
) -> Callable[[Callable[..., Iterable[Violation]]], Callable[..., Iterable[Violation]]]:
    """Register a check function under its name (the function's name unless given).

    ``severity``/``compatible``/``breaks``/``semantic``/``evidence`` describe the check's main
    rule (and are the defaults of the others); ``rules`` declares its other distinct violations.
    """

    def decorate(func: Callable[..., Iterable[Violation]]) -> Callable[..., Iterable[Violation]]:
        check_name = name or func.__name__
        if check_name in REGISTRY and REGISTRY[check_name].func is not func:
            raise RuntimeError(f"check {check_name!r} is registered twice")
        prefix = check_name.removeprefix("check_")
        defaults = {"severity": severity, "compatible": compatible, "cls": cls, "source": source,
                    "breaks": tuple(breaks), "semantic": semantic, "evidence": evidence, "hint": hint}
        specs = [RuleSpec("", title)] + list(rules)
        specs.append(RuleSpec(NOT_EVALUATED, "the check could not evaluate the exchange (a hostile or broken body)",
                              Severity.WARNING, Severity.WARNING, None,
                              evidence="never a FAIL: the other rules of the exchange still judge it",
                              hint="Send a body the protocol allows (the message says what could not be read)."))
        table: dict[str, Rule] = {}
        for spec in specs:
            if spec.name in table:
                raise RuntimeError(f"check {check_name!r} declares rule {spec.name!r} twice")
            table[spec.name] = _make_rule(check_name, prefix, spec, defaults)
        info = CheckInfo(check_name, cls, source, title, severity, compatible, func, table)
        REGISTRY[check_name] = info
        for item in table.values():
            RULES[item.id] = item

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Iterable[Violation]:
            return func(*args, **kwargs)

        wrapper.check_info = info  # type: ignore[attr-defined]
        return wrapper

    return decorate


def info_of(func: Callable[..., Any]) -> CheckInfo:
    try:
        return func.check_info  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"{func!r} is not a registered check") from None


def evaluate(
    func: Callable[..., Iterable[Violation]],
    *args: Any,
    strictness: Strictness = Strictness.COMPATIBLE,
    **kwargs: Any,
) -> list[Finding]:
    """Run one check and turn its violations into findings, each under its rule."""
    info = info_of(func)
    findings = []
    for violation in func(*args, **kwargs) or ():
        if isinstance(violation, str):
            violation = Violation(violation)
        item = info.rule_for(violation.rule)
        default = item.severity_for(strictness)
        severity = violation.severity or default
        if violation.severity is not None and strictness is Strictness.COMPATIBLE:
            # an explicit severity can only be softened by the compatible reading, never hardened
            severity = min(severity, default, key=_rank)
        findings.append(
            Finding(
                info.name,
                violation.cls or item.cls,
                severity,
                violation.message,
                violation.pointer,
                item.source,
                rule=item.id,
            )
        )
    return findings


def rule_ids(include_internal: bool = False) -> list[str]:
    """Every rule id of every check (``load_all`` first for a complete list)."""
    return sorted(r for r in RULES if include_internal or not r.endswith("." + NOT_EVALUATED))


def _rank(severity: Severity) -> int:
    return {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}[severity]


def load_all() -> dict[str, CheckInfo]:
    """Import every check module so the registry is complete."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
