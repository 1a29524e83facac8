"""What changed between two runs: verdict changes per (target, case id)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from conformance.report.model import RANK

KINDS = ("regression", "new", "removed", "fix")  # also the order changes are listed in


@dataclass(frozen=True)
class Change:
    kind: str  # regression (got worse), fix (got better), new (case added), removed (case gone)
    target: str
    case: str
    old: str | None  # verdict before (None for a new case)
    new: str | None  # verdict after (None for a removed case)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff_results(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every case whose verdict changed, appeared or disappeared; regressions first."""
    before = {(c["target"], c["id"]): c["verdict"] for c in old["cases"]}
    after = {(c["target"], c["id"]): c["verdict"] for c in new["cases"]}
    changes = []
    for key in before.keys() | after.keys():
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        if was is None:
            kind = "new"
        elif now is None:
            kind = "removed"
        else:
            kind = "regression" if RANK[now] > RANK[was] else "fix"
        changes.append(Change(kind, *key, was, now))
    return sorted(changes, key=lambda c: (KINDS.index(c.kind), c.target, c.case))


def render_diff_text(changes: list[Change]) -> str:
    """A plain-text table for the terminal."""
    if not changes:
        return "no verdict changed\n"
    head = ("CHANGE", "TARGET", "CASE", "OLD", "NEW")
    rows = [head] + [(c.kind, c.target, c.case, c.old or "-", c.new or "-") for c in changes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    counts = ", ".join(f"{sum(c.kind == kind for c in changes)} {kind}" for kind in KINDS)
    plural = "s" if len(changes) != 1 else ""
    return "\n".join(lines) + f"\n\n{len(changes)} change{plural}: {counts}\n"
