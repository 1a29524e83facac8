"""Baselines: a TOML file of known deviations, so only new failures fail a build.

```toml
[[known]]
case = "openai_chat/test_stream.py::test_done_last"   # a case id or fnmatch glob, and/or:
check = "check_stream_done_last"                      # a check name
reason = "vendor X omits [DONE]; ticket 123"          # required
expires = 2027-01-31                                  # optional TOML date (last day it applies)
target = "prod"                                       # optional target name
```

Semantics:

* An entry applies to a case when its ``target`` (if given) equals the case's target and its
  ``case`` (if given) equals the case id or matches it as an fnmatch glob.
* Only failing cases (FAIL, ERROR) are judged. A failing case is an *expected failure* when an
  applicable entry without ``check`` matches it, or when it has error-severity findings and
  every one of them comes from a check named by an applicable entry. Otherwise it is a *new
  failure*.
* An entry is *stale* when it matches nothing that fails now (a case entry: no failing case;
  a check entry: no error finding of a failing case): the deviation it excuses is gone.
* An entry whose ``expires`` date is before ``today`` is *expired*: it no longer applies, and
  is reported as expired (not as stale).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Mapping

from conformance.report.model import FAILING, BaselineError

_KEYS = {"case": str, "check": str, "reason": str, "target": str, "expires": dt.date}


@dataclass(frozen=True)
class BaselineEntry:
    number: int  # 1-based position in the file
    reason: str
    case: str | None = None
    check: str | None = None
    target: str | None = None
    expires: dt.date | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def applies_to(self, case: Mapping[str, Any]) -> bool:
        if self.target is not None and self.target != case["target"]:
            return False
        return self.case is None or self.case == case["id"] or fnmatchcase(case["id"], self.case)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"entry": self.number}
        for key in ("case", "check", "target", "reason"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.expires is not None:
            data["expires"] = self.expires.isoformat()
        return data


@dataclass(frozen=True)
class Baseline:
    file: str
    entries: tuple[BaselineEntry, ...]


@dataclass
class BaselineOutcome:
    file: str
    today: dt.date
    expected: list[dict[str, Any]] = field(default_factory=list)  # {case, target, verdict, reason, entries}
    new: list[dict[str, Any]] = field(default_factory=list)  # {case, target, verdict}
    stale: list[BaselineEntry] = field(default_factory=list)
    expired: list[BaselineEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every failure is a known one (the CI gate)."""
        return not self.new

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "today": self.today.isoformat(),
            "expected": self.expected,
            "new": self.new,
            "stale": [entry.to_dict() for entry in self.stale],
            "expired": [entry.to_dict() for entry in self.expired],
        }


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file; any problem raises :class:`BaselineError` (one line)."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise BaselineError(f"{name}: no such file") from None
    except OSError as exc:
        raise BaselineError(f"{name}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BaselineError(f"{name}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{name}: not UTF-8 text; TOML files must be UTF-8: save it as UTF-8") from None
    unknown = sorted(set(data) - {"known"})
    if unknown:
        raise BaselineError(f"{name}: unknown top-level key {unknown[0]!r} (expected [[known]] entries)")
    known = data.get("known", [])
    if not isinstance(known, list) or not all(isinstance(item, dict) for item in known):
        raise BaselineError(f"{name}: 'known' must be an array of tables ([[known]])")
    return Baseline(name, tuple(_entry(name, number, item) for number, item in enumerate(known, 1)))


def _entry(name: str, number: int, item: Mapping[str, Any]) -> BaselineEntry:
    where = f"{name}: entry {number}"
    for key, value in item.items():
        if key not in _KEYS:
            allowed = ", ".join(sorted(_KEYS))
            raise BaselineError(f"{where}: unknown key {key!r} (allowed: {allowed})")
        wanted = _KEYS[key]
        if not isinstance(value, wanted) or isinstance(value, dt.datetime):
            hint = "a TOML date such as 2027-01-31, unquoted" if wanted is dt.date else "a string"
            raise BaselineError(f"{where}: {key!r} must be {hint}")
        if wanted is str and not value.strip():
            raise BaselineError(f"{where}: {key!r} is empty")
    if "reason" not in item:
        raise BaselineError(f"{where}: missing 'reason'")
    if "case" not in item and "check" not in item:
        raise BaselineError(f"{where}: missing 'case' or 'check' (one of them is required)")
    return BaselineEntry(number=number, **item)


def apply_baseline(
    results: dict[str, Any], baseline: Baseline, today: dt.date | None = None
) -> BaselineOutcome:
    """Judge the failing cases of ``results`` against ``baseline``.

    Records the outcome in ``results["baseline"]`` (so every report shows it) and returns it.
    """
    today = today or dt.date.today()
    outcome = BaselineOutcome(baseline.file, today)
    active = [e for e in baseline.entries if not e.expired(today)]
    outcome.expired = [e for e in baseline.entries if e.expired(today)]
    used: set[int] = set()
    for case in results["cases"]:
        if case["verdict"] not in FAILING:
            continue
        entries = [e for e in active if e.applies_to(case)]
        whole = [e for e in entries if e.check is None]
        errors = [f["check"] for f in case.get("findings", []) if f.get("severity") == "error"]
        by_check = [e for e in entries if e.check is not None and e.check in errors]
        used.update(e.number for e in whole + by_check)
        covered = {e.check for e in by_check}
        if whole or (errors and covered.issuperset(errors)):
            reasons = dict.fromkeys(e.reason for e in whole + by_check)
            outcome.expected.append({
                "case": case["id"], "target": case["target"], "verdict": case["verdict"],
                "reason": "; ".join(reasons), "entries": sorted(e.number for e in whole + by_check),
            })
        else:
            outcome.new.append({"case": case["id"], "target": case["target"], "verdict": case["verdict"]})
    outcome.stale = [e for e in active if e.number not in used]
    results["baseline"] = outcome.to_dict()
    return outcome
