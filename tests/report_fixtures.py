"""Synthetic results.json dictionaries for the report tests (no network, no engine)."""

from __future__ import annotations

import copy
from typing import Any

from conformance.findings import summarise

SECRET = "sk-test-SECRET-0123456789"


def finding(check: str, message: str, severity: str = "error", cls: str | None = "4") -> dict[str, Any]:
    return {
        "check": check,
        "class": cls,
        "severity": severity,
        "message": message,
        "pointer": "/exchanges/0/response/body",
        "source": "CrossModel 000 §Streaming response",
    }


def exchange(status: int | None = 200, stream: bool = False) -> dict[str, Any]:
    events = None
    if stream:
        events = [
            {"event": None, "data": '{"choices":[{"delta":{"role":"assistant"}}]}',
             "json": {"choices": [{"delta": {"role": "assistant"}}]}},
            {"event": None, "data": "[DONE]", "json": None},
        ]
    return {
        "request": {
            "method": "POST",
            "url": "http://127.0.0.1:8000/v1/chat/completions",
            "headers": {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET, "content-type": "application/json"},
            "body": {"model": "ref-chat", "messages": [{"role": "user", "content": "hi"}], "stream": stream},
        },
        "response": {
            "status": status,
            "headers": {"content-type": "text/event-stream" if stream else "application/json"},
            "body": None if stream else {"id": "chatcmpl-1", "choices": []},
            "events": events,
            "raw_sse": "data: [DONE]\n\n" if stream else None,
            "error": None,
        },
        "timings": {"connect_s": 0.001, "total_s": 0.01},
    }


def case(
    verdict: str,
    name: str,
    *,
    target: str = "embedded",
    protocol: str = "openai",
    feature: str = "streaming",
    findings: list[dict[str, Any]] | None = None,
    reason: str = "",
) -> dict[str, Any]:
    return {
        "id": f"openai_chat/test_stream.py::{name}",
        "target": target,
        "protocol": protocol,
        "feature": feature,
        "title": name.removeprefix("test_").replace("_", " "),
        "verdict": verdict,
        "reason": reason,
        "duration_s": 0.01,
        "checks": sorted({f["check"] for f in findings or []}),
        "findings": findings or [],
        "exchanges": [exchange(stream=feature == "streaming")],
    }


def results(cases: list[dict[str, Any]], targets: tuple[str, ...] = ("embedded",)) -> dict[str, Any]:
    return {
        "schema_version": "1",
        "tool": {"name": "conformance", "version": "0.1.0"},
        "started_at": "2026-11-22T03:40:00Z",
        "duration_s": 12.3,
        "strictness": "compatible",
        "targets": [
            {"name": name, "base_url": "http://127.0.0.1:8000/v1",
             "profile": ["crossmodel-openai", "crossmodel-anthropic"], "models": {"default": "ref-chat"}}
            for name in targets
        ],
        "summary": summarise(cases),
        "cases": cases,
    }


def every_verdict() -> dict[str, Any]:
    """One run holding every verdict, with a hostile finding message."""
    return results([
        case("PASS", "test_first_delta_carries_role"),
        case("PASS", "test_models_list", protocol="openai", feature="models"),
        case("FAIL", "test_done_last",
             findings=[finding("check_stream_done_last", "stream ended without [DONE] <script>alert(1)</script>"),
                       finding("check_stream_keepalive", "keep-alive comment seen", "warning", None)]),
        case("FAIL", "test_single_finish_reason",
             findings=[finding("check_stream_single_finish_reason", "two finish_reason values"),
                       finding("check_stream_done_last", "no [DONE]")]),
        case("ERROR", "test_timeout", reason="read timeout after 30 s"),
        case("WARN", "test_keepalive", findings=[finding("check_stream_keepalive", "keep-alive comment", "warning")]),
        case("UNSUPPORTED", "test_logprobs", feature="logprobs", reason="logprobs refused with 400 in the documented shape"),
        case("SKIP", "test_vision", protocol="anthropic", feature="content", reason="no vision model configured"),
    ])


def clone(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)
