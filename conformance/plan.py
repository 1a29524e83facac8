"""``conformance plan``: what a run would send, without sending anything to the target.

A case's requests are whatever its code sends, so the plan runs the selected cases (the same
options as ``conformance run``: -k, -m, --profile, models, config) against the embedded reference
server, which answers every request conformantly, and counts what they sent: requests per
protocol and feature, streams, the output tokens the requests ask for at most, a tokenizer-free
estimate of their input tokens, and the cost at ``[prices]`` (an upper bound: every reply at its
cap). A case sends a target the same requests when the target answers conformantly; retries of
429/5xx answers and cases that stop early on a failure are what can make a real run differ.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from conformance.errors import EXIT_OK, ConfigError
from conformance.spend import (
    ESTIMATE_NOTE,
    cost_of,
    estimate_input_tokens,
    exchange_attempts,
    output_cap,
)

FIELDS = ("cases", "requests", "streams", "max_output_tokens", "input_tokens")
PREFLIGHT_REQUESTS = 1  # `conformance run` checks a real target with one GET /models before the cases


def register(sub: Any) -> None:
    run = sub.choices.get("run")
    plan = sub.add_parser("plan", add_help=False,
                          help="what a run would send, without sending anything: requests, streams, tokens, cost")
    if run is not None:
        plan._add_container_actions(run)  # every option of `run` (selection, models, config, budget), as argparse parents do
    plan.add_argument("--json", dest="plan_json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(handler=command_plan)


class _Collector:
    """A pytest plugin object: each case's capability marker, and the session's results."""

    def __init__(self) -> None:
        self.capabilities: dict[str, str | None] = {}
        self.results: dict[str, Any] | None = None

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        from conformance.plugin.case import _case_identity

        for item in items:
            marker = item.get_closest_marker("capability")
            self.capabilities[_case_identity(item)["id"]] = marker.args[0] if marker else None

    def pytest_unconfigure(self, config: Any) -> None:
        self.results = getattr(config, "_conformance_results", None)


def command_plan(args: argparse.Namespace) -> int:
    from conformance.cli import resolve_run

    for option in ("fault", "tolerance"):
        if getattr(args, option, None):
            raise ConfigError(f"--{option} does not apply to plan: the plan is made against the plain reference server")
    with tempfile.TemporaryDirectory(prefix="conformance-plan-") as tmp:
        args.report_dir = str(Path(tmp) / "reports")  # the plan writes no report
        run = resolve_run(args)
        plans = [plan_target(target, args, Path(tmp)) for target in run.targets]
    if args.plan_json:
        print(json.dumps({"targets": plans, "notes": notes()}, indent=2))
    else:
        for plan in plans:
            print("\n".join(render(plan)))
        print("\n".join(f"- {line}" for line in notes()))
    return EXIT_OK


def plan_target(target: Any, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The plan of one target: its selected cases run against the reference server, counted."""
    import pytest

    from conformance import runner
    from conformance.reference.app import DEFAULT_PROFILES
    from conformance.target import EXTERNAL_PROFILES, RUN_CONFIG_ENV, RunConfig, Target
    from conformance.transport import Limits

    profiles = list(target.profiles) or list(DEFAULT_PROFILES if target.embedded else EXTERNAL_PROFILES)
    # the target's settings that shape what a case sends (profiles, token caps, image URL); never its URL, key or headers
    stub = Target(name=target.name, profiles=profiles, image_url=target.image_url, limits=Limits(), budgets=dict(target.budgets))
    config_file = tmp / f"plan-{len(list(tmp.glob('plan-*.json')))}.json"
    config_file.write_text(RunConfig(targets=[stub], report_dir=str(tmp / "reports")).to_json())
    quiet = argparse.Namespace(**{**vars(args), "workers": None, "exitfirst": False, "alluredir": None, "quiet": True, "verbose": False})
    collector = _Collector()
    output = io.StringIO()
    previous = os.environ.get(RUN_CONFIG_ENV)
    os.environ[RUN_CONFIG_ENV] = str(config_file)
    try:
        with runner.embedded_server(stub, []), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = int(pytest.main([*runner.pytest_args(quiet), "--no-conformance-report", "-p", "no:cacheprovider"], plugins=[collector]))
    finally:
        if previous is None:
            os.environ.pop(RUN_CONFIG_ENV, None)
        else:
            os.environ[RUN_CONFIG_ENV] = previous
    if code == 5 or (collector.results is None and code == 0):
        runner.exit_code(5, args)  # raises: no case matched the selection
    if collector.results is None:
        tail = output.getvalue().strip().splitlines()[-5:]
        raise ConfigError(f"the plan's run against the reference server failed (pytest exit {code}): {' / '.join(tail)}")
    return summarise(target, collector.results["cases"], collector.capabilities)


def summarise(target: Any, cases: list[dict[str, Any]], capabilities: dict[str, str | None]) -> dict[str, Any]:
    """Per protocol × feature and in total: cases, requests, streams, max output tokens, estimated
    input tokens and (with prices) the estimated cost at most."""
    priced = bool(target.prices)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    total: dict[str, Any] = {field: 0 for field in FIELDS}
    per_case = []
    for case in cases:
        key = (case["protocol"], case["feature"])
        row = rows.setdefault(key, {"protocol": key[0], "feature": key[1], **{field: 0 for field in FIELDS}})
        model = None if target.embedded else target.model_for(capabilities.get(case["id"]), case["protocol"])
        counted = {field: 0 for field in FIELDS}
        skipped = case["verdict"] == "SKIP"
        counted["cases"] = 0 if skipped else 1
        total["skipped_cases"] = total.get("skipped_cases", 0) + skipped
        cost: float | None = 0.0
        for exchange in case.get("exchanges") or []:
            body = (exchange.get("request") or {}).get("body")
            tries = exchange_attempts(exchange)
            cap, tokens_in = output_cap(body) * tries, estimate_input_tokens(body) * tries
            counted["requests"] += tries
            counted["streams"] += tries if isinstance(body, dict) and body.get("stream") is True else 0
            counted["max_output_tokens"] += cap
            counted["input_tokens"] += tokens_in
            if priced and (cap or tokens_in):
                sent_model = body.get("model") if isinstance(body, dict) else None
                one = cost_of(model or sent_model, tokens_in, cap, target.prices)
                cost = None if one is None or cost is None else cost + one
        for group in (row, total):
            for field in FIELDS:
                group[field] += counted[field]
            if priced:
                group["cost"] = None if cost is None or group.get("cost", 0.0) is None else group.get("cost", 0.0) + cost
        per_case.append({"id": case["id"], "protocol": case["protocol"], "feature": case["feature"],
                         "skipped": skipped, **{f: counted[f] for f in FIELDS if f != "cases"}})
    for group in [total, *rows.values()]:
        if group.get("cost") is not None:
            group["cost"] = round(group["cost"], 6)
    limits = target.spend_limits
    plan: dict[str, Any] = {
        "target": target.name,
        "base_url": target.base_url or "embedded reference server",
        "planned_against": "the embedded reference server (nothing was sent to the target)",
        "models": {"default": target.model, **target.models},
        "total": total,
        "preflight_requests": 0 if target.embedded else PREFLIGHT_REQUESTS,
        "by_feature": [rows[k] for k in sorted(rows) if rows[k]["cases"] or rows[k]["requests"]],
        "cases": per_case,
        "retry_attempts": target.limits.retry.attempts,
    }
    if limits.active:
        plan["budget"] = limits.public()
    if limits.rate_limit:
        plan["min_duration_s"] = round(total["requests"] / limits.rate_limit, 1)
    return plan


def notes() -> list[str]:
    return [
        ("requests: counted by running the selected cases against the embedded reference server; a case sends "
         "any target the same requests when its answers are conformant. Retries of 429/5xx answers add to it; "
         "a case that stops early on a failure sends fewer"),
        ("max output tokens: the sum of the requests' caps (max_tokens / max_completion_tokens, times n); "
         "what a reply really uses is at most that"),
        ESTIMATE_NOTE,
        "cost: at [prices] (per million tokens), an upper bound: the estimated input tokens and every reply at its cap",
    ]


def render(plan: dict[str, Any]) -> list[str]:
    priced = "cost" in plan["total"]
    head = ["protocol", "feature", "cases", "requests", "streams", "max output tokens", "est. input tokens"] + ["est. cost"] * priced
    rows = [[r["protocol"], r["feature"], *(_n(r[f]) for f in FIELDS)] + [_cost(r.get("cost"))] * priced for r in plan["by_feature"]]
    rows.append(["total", "", *(_n(plan["total"][f]) for f in FIELDS)] + [_cost(plan["total"].get("cost"))] * priced)
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    lines = [f"plan for target {plan['target']} ({plan['base_url']}), planned against the embedded reference server: nothing is sent"]
    for row in [head, *rows]:
        lines.append("  ".join(str(cell).ljust(w) if i < 2 else str(cell).rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    total = plan["total"]
    if total.get("skipped_cases"):
        lines.append(f"cases: the ones that run; {total['skipped_cases']} more selected cases skip (not applicable to the profiles or models)")
    if plan["preflight_requests"]:
        lines.append(f"plus {plan['preflight_requests']} preflight request (GET /models) before the cases; "
                     f"each request may be tried up to {plan['retry_attempts']} times on 429/5xx")
    budget = plan.get("budget") or {}
    if "max_requests" in budget:
        fits = total["requests"] <= budget["max_requests"]
        lines.append(f"budget: {budget['max_requests']} requests: " + ("the plan fits" if fits else
                     f"the plan needs {total['requests']}: cases past the budget will be SKIP (budget)"))
    if "max_output_tokens" in budget:
        fits = total["max_output_tokens"] <= budget["max_output_tokens"]
        lines.append(f"budget: {budget['max_output_tokens']:,} output tokens: " + ("the plan fits" if fits else
                     f"the requests ask for up to {total['max_output_tokens']:,}: cases past the budget will be SKIP (budget)"))
    if "min_duration_s" in plan:
        lines.append(f"rate limit {budget['rate_limit']:g} requests/s: the run takes at least {plan['min_duration_s']:g} s")
    if priced and total.get("cost") is None:
        lines.append("cost: a model the plan uses has no price in [prices]")
    return lines + [""]


def _n(value: int) -> str:
    return f"{value:,}"


def _cost(value: float | None) -> str:
    return "?" if value is None else f"{value:.4f}"


