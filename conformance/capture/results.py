"""A results.json: re-judge a saved run with this version's rules, another strictness or
profile, without sending anything.

Each recorded exchange of each case is judged again. A stream is re-parsed from its raw text
when that was kept whole, so the framing rules are judged again too; a stream longer than what
results.json keeps is judged from its stored events, and the case says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from conformance.capture import CaptureError, Item, Skip
from conformance.capture.jsonl import entry_of, started_at


def read(path: Path, data: bytes) -> Iterator[Item]:
    try:
        doc = json.loads(data.decode("utf-8-sig", "replace"))
    except json.JSONDecodeError as exc:
        raise CaptureError(f"{path}: invalid results.json: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise CaptureError(f"{path}: invalid results.json: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise CaptureError(f"{path}: not a results.json: no cases list")
    started = started_at(doc.get("started_at"))
    for n, case in enumerate(doc["cases"]):
        if not isinstance(case, dict):
            yield Skip(f"{path.name}#case {n}", "not a case object", invalid=True)
            continue
        case_id = str(case.get("id") or f"case {n}")
        exchanges = case.get("exchanges")
        if not isinstance(exchanges, list):
            yield Skip(f"{path.name}#{case_id}", "the case has no exchanges list", invalid=True)
            continue
        if not exchanges:
            yield Skip(f"{path.name}#{case_id}", f"no exchange recorded (the case was {case.get('verdict', 'not run')})")
            continue
        origin = {key: case.get(key) for key in ("id", "target", "protocol", "feature", "title")}
        for i, exchange in enumerate(exchanges):
            label = f"{path.name}#{case_id}" + (f"/{i}" if len(exchanges) > 1 else "")
            yield entry_of(label, exchange, started, {**origin, "exchange": i})

