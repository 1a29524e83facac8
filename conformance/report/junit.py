"""JUnit XML: one <testsuite> per target and protocol, one <testcase> per case."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Mapping

from conformance.report.model import baselined_reasons, finding_text, lead_finding

# Characters XML 1.0 cannot carry at all, even escaped.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """Text XML 1.0 accepts: forbidden characters become visible ``\\xNN`` escapes."""
    return _FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def render_junit(results: Mapping[str, Any]) -> str:
    suites: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for case in results["cases"]:
        suites.setdefault((case["target"], case["protocol"]), []).append(case)
    baselined = baselined_reasons(results)

    root = ET.Element("testsuites", name=xml_text(results["tool"]["name"]))
    for (target, protocol), cases in suites.items():
        suite = ET.SubElement(root, "testsuite", name=xml_text(f"{target}.{protocol}"))
        for case in cases:
            _testcase(suite, case, baselined.get((case["target"], case["id"])))
        _count(suite, cases, sum(case.get("duration_s", 0) for case in cases))
    _count(root, results["cases"], results["duration_s"])
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _count(element: ET.Element, cases: list[Mapping[str, Any]], seconds: float) -> None:
    verdicts = [case["verdict"] for case in cases]
    element.set("tests", str(len(verdicts)))
    element.set("failures", str(verdicts.count("FAIL")))
    element.set("errors", str(verdicts.count("ERROR")))
    element.set("skipped", str(verdicts.count("SKIP") + verdicts.count("UNSUPPORTED")))
    element.set("time", f"{seconds:.3f}")


def _testcase(suite: ET.Element, case: Mapping[str, Any], baselined: str | None) -> None:
    testcase = ET.SubElement(
        suite,
        "testcase",
        classname=xml_text(f"{case['protocol']}.{case['feature']}"),
        name=xml_text(f"{case['title']} [{case['id']}]"),
        time=f"{case.get('duration_s', 0):.3f}",
    )
    verdict, reason = case["verdict"], case.get("reason", "")
    lines = [f"{f['severity']}: {finding_text(f)}" + (f" at {f['pointer']}" if f.get("pointer") else "")
             for f in case.get("findings", [])]
    if baselined is not None:
        lines.insert(0, f"baselined (expected failure): {baselined}")
    lead = lead_finding(case)
    if verdict == "FAIL":
        message = finding_text(lead) if lead else reason or "failed"
        _child(testcase, "failure", message, lines, type="conformance")
    elif verdict == "ERROR":
        message = reason or (finding_text(lead) if lead else "error")
        _child(testcase, "error", message, [reason, *lines] if reason else lines, type="transport")
    elif verdict in ("SKIP", "UNSUPPORTED"):
        _child(testcase, "skipped", f"{verdict}: {reason}" if reason else verdict, [])
    elif lines or reason:  # WARN (or a PASS with info findings): passes, findings shown
        _child(testcase, "system-out", None, [f"{verdict}: {reason}" if reason else verdict, *lines])


def _child(parent: ET.Element, tag: str, message: str | None, lines: list[str], **attrs: str) -> None:
    element = ET.SubElement(parent, tag, **attrs)
    if message is not None:
        element.set("message", xml_text(message))
    if lines:
        element.text = xml_text("\n".join(lines))
