"""Named checks: small functions that inspect exchanges and yield violations.

A check is declared with :func:`check`. It is a generator (or a function returning an
iterable) of :class:`Violation`; the registry turns each violation into a
:class:`~conformance.findings.Finding` carrying the check's name, incompatibility class,
severity and source. Checks can be listed (``conformance checks``) and switched off by name
(``--disable-check NAME``), and appear by name in every report.

Severity: ``severity`` applies in the ``strict`` reading; ``compatible`` (if given) overrides it
in the ``compatible`` reading, so a rule only the spec cares about can be a FAIL in strict mode
and a WARN in compatible mode. A check that only matters in strict mode sets
``compatible=Severity.INFO``; INFO findings are recorded but never change a verdict.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple

from conformance.findings import Finding, Severity, Strictness


class Violation(NamedTuple):
    message: str
    pointer: str = ""
    severity: Severity | None = None  # overrides the check's own severity (e.g. a WARN case)
    cls: str | None = None  # overrides the check's incompatibility class (or names a profile rule)


@dataclass(frozen=True)
class CheckInfo:
    name: str
    cls: str | None
    source: str
    title: str
    severity: Severity
    compatible: Severity | None
    func: Callable[..., Iterable[Violation]]

    def severity_for(self, strictness: Strictness) -> Severity:
        if strictness is Strictness.COMPATIBLE and self.compatible is not None:
            return self.compatible
        return self.severity


REGISTRY: dict[str, CheckInfo] = {}


def check(
    *,
    cls: str | None,
    source: str,
    title: str,
    severity: Severity = Severity.ERROR,
    compatible: Severity | None = None,
    name: str | None = None,
) -> Callable[[Callable[..., Iterable[Violation]]], Callable[..., Iterable[Violation]]]:
    """Register a check function under its name (the function's name unless given)."""

    def decorate(func: Callable[..., Iterable[Violation]]) -> Callable[..., Iterable[Violation]]:
        check_name = name or func.__name__
        if check_name in REGISTRY and REGISTRY[check_name].func is not func:
            raise RuntimeError(f"check {check_name!r} is registered twice")
        info = CheckInfo(check_name, cls, source, title, severity, compatible, func)
        REGISTRY[check_name] = info

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
    """Run one check and turn its violations into findings."""
    info = info_of(func)
    default = info.severity_for(strictness)
    findings = []
    for violation in func(*args, **kwargs) or ():
        if isinstance(violation, str):
            violation = Violation(violation)
        severity = violation.severity or default
        if violation.severity is not None and strictness is Strictness.COMPATIBLE:
            # an explicit severity can only be softened by the compatible reading, never hardened
            severity = min(severity, default, key=_rank)
        findings.append(
            Finding(
                info.name,
                violation.cls or info.cls,
                severity,
                violation.message,
                violation.pointer,
                info.source,
            )
        )
    return findings


def _rank(severity: Severity) -> int:
    return {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}[severity]


def load_all() -> dict[str, CheckInfo]:
    """Import every check module so the registry is complete."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
