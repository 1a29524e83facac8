"""Allure results for conformance cases (``--alluredir``, allure-pytest).

Called by the pytest plugin once per case, while allure-pytest's test result for it is still
open: labels for protocol, feature and target, the verdict and findings as the description,
each exchange (already redacted) as a JSON attachment, and the source of every rule the case
applied: a link when the source is a URL, a ``rule_source`` label otherwise.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

import pytest

from conformance.report.model import redact_headers

ALLURE_PLUGIN = "allure_listener"  # the name allure-pytest registers its listener under
_URL = re.compile(r"https?://[^\s)\]>,;]+")


def active(config: pytest.Config) -> bool:
    """True when allure-pytest is writing results (``--alluredir`` was given)."""
    return config.pluginmanager.get_plugin(ALLURE_PLUGIN) is not None


def annotate(case: Mapping[str, Any]) -> None:
    """Label, describe and attach one case record (a results.json case dict)."""
    import allure

    allure.dynamic.title(case["title"])
    allure.dynamic.label("protocol", case["protocol"])
    allure.dynamic.label("target", case["target"])
    allure.dynamic.label("verdict", case["verdict"])
    allure.dynamic.epic(case["protocol"])
    allure.dynamic.feature(case["feature"])
    allure.dynamic.tag(case["target"], case["protocol"], case["feature"], case["verdict"])
    allure.dynamic.description(_description(case))
    for kind, value, name in rule_sources(case):
        if kind == "url":
            allure.dynamic.link(value, name=name)
        else:
            allure.dynamic.label("rule_source", value)
    for n, exchange in enumerate(case.get("exchanges") or [], 1):
        allure.attach(
            json.dumps(_redacted(exchange), indent=2, ensure_ascii=False),
            name=exchange_name(n, exchange),
            attachment_type=allure.attachment_type.JSON,
        )


def exchange_name(n: int, exchange: Mapping[str, Any]) -> str:
    request = exchange.get("request") or {}
    response = exchange.get("response") or {}
    status = response.get("status")
    return f"exchange {n}: {request.get('method', '')} {request.get('url', '')} → {status if status is not None else 'no response'}"


def rule_sources(case: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, value, name) for the source of each finding and each check the case ran, once each.

    kind is "url" (value is the URL, name the text around it) or "text".
    """
    sources: list[tuple[str, str]] = []  # (check, source)
    for finding in case.get("findings") or []:
        if finding.get("source"):
            sources.append((finding["check"], finding["source"]))
    known = _check_sources()
    for check in case.get("checks") or []:
        if known.get(check):
            sources.append((check, known[check]))
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for check, source in sources:
        urls = _URL.findall(source)
        for url in urls or [None]:
            value = url or source
            if value in seen:
                continue
            seen.add(value)
            out.append(("url", url, f"{check}: {source}") if url else ("text", source, check))
    return out


def _check_sources() -> dict[str, str]:
    try:
        from conformance.checks import load_all

        return {name: info.source for name, info in load_all().items()}
    except Exception:  # a broken check module must not break the Allure output
        return {}


def _description(case: Mapping[str, Any]) -> str:
    lines = [f"**{case['verdict']}** — {case['title']}", "", f"`{case['id']}` on target `{case['target']}`"]
    if case.get("reason"):
        lines += ["", f"Reason: {case['reason']}"]
    findings = case.get("findings") or []
    if findings:
        lines += ["", "| check | class | severity | message | pointer | source |", "|---|---|---|---|---|---|"]
        for f in findings:
            cells = [f["check"], f.get("class") or "—", f["severity"], f.get("message", ""), f.get("pointer", ""), f.get("source", "")]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def _redacted(exchange: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(exchange)
    for side in ("request", "response"):
        part = out.get(side)
        if isinstance(part, dict) and part.get("headers") is not None:
            out[side] = {**part, "headers": redact_headers(part["headers"])}
    return out
