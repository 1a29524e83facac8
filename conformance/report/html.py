"""The self-contained HTML report (one file, inline CSS and JS), rendered with Jinja2."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Mapping

import jinja2

from conformance.report.model import (
    FAILING,
    VERDICTS,
    baselined_reasons,
    case_slug,
    feature_matrix,
    profiles,
    redact_headers,
    root_causes,
    sort_cases,
    summary_line,
)

TEMPLATES = Path(__file__).parent / "templates"


def pretty(value: Any) -> str:
    """JSON pretty-printed (a string holding JSON too); other strings as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to show as such
            return value
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return str(value)


def compact(value: Any) -> str:
    """JSON on one line (a stream event); other strings as they are."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


_EXCHANGE_POINTER = re.compile(r"^/exchanges/(\d+)(/|$)")


def exchange_number(pointer: Any) -> int | None:
    """The 1-based number of the exchange a finding's JSON pointer points into, if any."""
    match = _EXCHANGE_POINTER.match(str(pointer or ""))
    return int(match.group(1)) + 1 if match else None


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment shared by the report and the matrix templates."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = pretty
    env.filters["redact"] = redact_headers
    env.filters["slug"] = case_slug
    env.filters["exchange_number"] = exchange_number
    env.filters["compact"] = compact
    env.globals["VERDICTS"] = VERDICTS
    return env


def render_html(results: Mapping[str, Any]) -> str:
    rows = feature_matrix(results["cases"])
    views = _case_views(results)
    anchors = {(v["case"]["target"], v["case"]["id"]): v["anchor"] for v in views}
    causes = [
        {"cause": cause, "links": [(case_id, anchors.get((target, case_id), "")) for target, case_id in cause.cases]}
        for cause in root_causes(results)
    ]
    return environment().get_template("index.html.j2").render(
        causes=causes,
        results=results,
        profiles=profiles(results),
        summary_line=summary_line(results["summary"]),
        rows=rows,
        several_targets=len({row.target for row in rows}) > 1,
        cases=views,
        baseline=results.get("baseline"),
        coverage=results.get("coverage") or [],
    )


def _case_views(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cases worst first, each with a unique anchor, search text and baseline note."""
    baselined = baselined_reasons(results)
    taken: set[str] = set()
    views = []
    for case in sort_cases(results["cases"]):
        anchor = "case-" + case_slug(case["id"])
        if anchor in taken:  # the same id on another target
            anchor += "--" + case_slug(case["target"])
        while anchor in taken:
            anchor += "-x"
        taken.add(anchor)
        words = [case["id"], case["title"], case["target"], case["protocol"], case["feature"],
                 case.get("reason", "")]
        words += [f"{f['check']} {f.get('message', '')}" for f in case.get("findings", [])]
        views.append({
            "case": case,
            "anchor": anchor,
            "search": " ".join(words).lower(),
            "baselined": baselined.get((case["target"], case["id"])),
            "new_failure": bool(results.get("baseline")) and case["verdict"] in FAILING
                           and (case["target"], case["id"]) not in baselined,
        })
    return views
