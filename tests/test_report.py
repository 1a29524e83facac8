"""The report layer: schema, Markdown, JUnit, HTML, matrix, diff and baseline (no network)."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

import conformance.report as report
from report_fixtures import SECRET, case, clone, every_verdict, finding, results

TODAY = dt.date(2026, 11, 22)


# --- schema and loading -------------------------------------------------------------------


def test_schema_is_valid_2020_12_and_accepts_every_verdict():
    jsonschema.Draft202012Validator.check_schema(report.results_schema())
    report.validate_results(every_verdict())


def test_schema_allows_extra_properties_and_optional_sections():
    data = every_verdict()
    data["future_field"] = {"x": 1}
    data["cases"][0]["future_field"] = 1
    data["coverage"] = [{"profile": "crossmodel-openai", "rows": [
        {"item": "n > 1", "kind": "parameter", "source": "CrossModel 000", "cases": [], "reason": "no case yet"}]}]
    report.validate_results(data)


@pytest.mark.parametrize("breakage, where", [
    (lambda d: d["cases"][0].update(verdict="MAYBE"), "/cases/0/verdict"),
    (lambda d: d["cases"][2]["findings"][0].update(severity="fatal"), "/cases/2/findings/0/severity"),
    (lambda d: d["summary"].pop("failed"), "/summary"),
    (lambda d: d.update(schema_version="2"), "/schema_version"),
    (lambda d: d.update(strictness="lenient"), "/strictness"),
    (lambda d: d["cases"][0].pop("id"), "/cases/0"),
])
def test_schema_rejects_bad_results(breakage, where):
    data = every_verdict()
    breakage(data)
    with pytest.raises(report.ReportInputError) as info:
        report.validate_results(data, "run.json")
    message = str(info.value)
    assert message.startswith("run.json: ") and f"at {where}:" in message and "\n" not in message


def _one_line_error(path: Path) -> str:
    with pytest.raises(report.ReportInputError) as info:
        report.load_results(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_load_results_reports_bad_input_in_one_line(tmp_path):
    assert "no such file" in _one_line_error(tmp_path / "missing.json")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"schema_version": "1",', encoding="utf-8")
    assert "invalid JSON" in _one_line_error(bad_json)
    wrong = tmp_path / "wrong.json"
    data = every_verdict()
    data["cases"][1]["verdict"] = "GREEN"
    wrong.write_text(json.dumps(data), encoding="utf-8")
    assert "/cases/1/verdict" in _one_line_error(wrong)


def test_write_all_round_trips_and_never_writes_secrets(tmp_path):
    paths = report.write_all(every_verdict(), tmp_path / "out")
    assert [p.name for p in paths] == ["results.json", "summary.md", "junit.xml", "index.html"]
    assert report.load_results(paths[0])["summary"]["failed"] == 2
    for path in paths:
        assert SECRET not in path.read_text(encoding="utf-8"), path.name


# --- the shared matrix --------------------------------------------------------------------


def test_feature_matrix_counts_and_worst_verdict():
    rows = {(r.protocol, r.feature): r for r in report.feature_matrix(every_verdict()["cases"])}
    streaming = rows["openai", "streaming"]
    assert streaming.worst == "FAIL"
    assert streaming.text == "FAIL 2 / ERROR 1 / WARN 1 / PASS 1"
    assert rows["openai", "logprobs"].worst == "UNSUPPORTED"
    assert report.VERDICTS == ["FAIL", "ERROR", "WARN", "UNSUPPORTED", "SKIP", "PASS"]


# --- markdown -----------------------------------------------------------------------------


def test_markdown_has_totals_matrix_and_failure_lines():
    text = report.render_markdown(every_verdict())
    assert "**Totals:** 8 cases: 2 failed, 1 errors, 1 warned, 1 unsupported, 1 skipped, 2 passed" in text
    assert "| openai | streaming | **FAIL** | FAIL 2 / ERROR 1 / WARN 1 / PASS 1 |" in text
    assert "conformance 0.1.0" in text and "crossmodel-openai" in text and "12.3 s" in text
    failures, warnings = text.split("## Failures (3)")[1].split("## Warnings (1)")
    assert "`openai_chat/test_stream.py::test_done_last`: check_stream_done_last (class 4): stream ended" in failures
    assert "`openai_chat/test_stream.py::test_timeout`: read timeout after 30 s" in failures
    assert "test_keepalive" in warnings and "test_keepalive" not in failures
    assert "<script>" not in text and r"\<script\>" in text


# --- junit --------------------------------------------------------------------------------


def test_junit_counts_and_elements():
    root = ET.fromstring(report.render_junit(every_verdict()))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("8", "2", "1", "2")
    assert [s.get("name") for s in root.iter("testsuite")] == ["embedded.openai", "embedded.anthropic"]
    cases = {c.get("name"): c for c in root.iter("testcase")}
    done = cases["done last [openai_chat/test_stream.py::test_done_last]"]
    assert done.get("classname") == "openai.streaming"
    failure = done.find("failure")
    assert failure.get("message").startswith("check_stream_done_last (class 4): stream ended without [DONE] <script>")
    assert "check_stream_keepalive" in failure.text  # every finding listed
    assert cases["timeout [openai_chat/test_stream.py::test_timeout]"].find("error").get("message") == "read timeout after 30 s"
    skipped = cases["logprobs [openai_chat/test_stream.py::test_logprobs]"].find("skipped")
    assert skipped.get("message").startswith("UNSUPPORTED: logprobs refused")
    warn = cases["keepalive [openai_chat/test_stream.py::test_keepalive]"]
    assert warn.find("failure") is None and "keep-alive comment" in warn.find("system-out").text


def test_junit_is_valid_xml_with_control_characters():
    data = results([case("FAIL", "test_ctrl", findings=[finding("check_x", "bad byte \x00\x1b[31m and \ufffe here")])])
    root = ET.fromstring(report.render_junit(data))
    assert r"\x00\x1b[31m" in root.find(".//failure").get("message")


# --- html ---------------------------------------------------------------------------------


def test_html_structure_ids_and_order():
    data = every_verdict()
    page = report.render_html(data)
    assert 'id="feature-matrix"' in page
    for item in data["cases"]:
        anchor = "case-" + report.case_slug(item["id"])
        assert re.search(rf'<article class="case" id="{anchor}" data-verdict="{item["verdict"]}"', page), anchor
    verdicts = re.findall(r'class="case" id="[^"]+" data-verdict="(\w+)"', page)
    assert verdicts == ["FAIL", "FAIL", "ERROR", "WARN", "UNSUPPORTED", "SKIP", "PASS", "PASS"]
    assert page.count('<table class="findings">') == 3  # the cases that have findings
    assert "<details" in page and "<details open" not in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"<link|<img|src=|@import|url\(", page)  # self-contained: nothing fetched at view time


def test_html_never_shows_secret_header_values():
    data = every_verdict()
    data["cases"][0]["exchanges"][0]["request"]["headers"].update({"api-key": SECRET, "Proxy-Authorization": SECRET})
    page = report.render_html(data)
    assert SECRET not in page and "[REDACTED]" in page


def test_html_same_case_on_two_targets_gets_distinct_ids():
    data = results([case("PASS", "test_a", target="one"), case("FAIL", "test_a", target="two")], targets=("one", "two"))
    ids = re.findall(r'class="case" id="([^"]+)"', report.render_html(data))
    assert len(set(ids)) == 2


# --- matrix across results files ----------------------------------------------------------


def _two_runs():
    first = results([case("PASS", "test_a"), case("FAIL", "test_b", findings=[finding("check_b", "bad")]),
                     case("PASS", "test_c", feature="tools")])
    second = results([case("PASS", "test_a"), case("PASS", "test_b"), case("SKIP", "test_d", feature="tools")])
    return first, second


def test_build_matrix_disambiguates_columns_and_fills_cells():
    matrix = report.build_matrix(_two_runs(), ["runs/vendor-a.json", "runs/vendor-b.json"])
    assert [c["name"] for c in matrix["columns"]] == ["embedded (vendor-a)", "embedded (vendor-b)"]
    streaming = next(r for r in matrix["features"] if r["feature"] == "streaming")
    assert [c["worst"] for c in streaming["cells"]] == ["FAIL", "PASS"]
    assert streaming["cells"][0]["text"] == "FAIL 1 / PASS 1"
    by_id = {c["id"].split("::")[1]: c["cells"] for c in matrix["cases"]}
    assert by_id == {"test_a": ["PASS", "PASS"], "test_b": ["FAIL", "PASS"],
                     "test_c": ["PASS", None], "test_d": [None, "SKIP"]}


def test_matrix_html_and_markdown():
    runs = _two_runs()
    page = report.render_matrix_html(runs, ["a.json", "b.json"])
    assert 'id="target-matrix"' in page and 'id="case-matrix"' in page
    assert "embedded (a)" in page and "FAIL 1 / PASS 1" in page and "not run" in page
    text = report.render_matrix_markdown(runs, ["a.json", "b.json"])
    assert "| Protocol | Feature | embedded (a) | embedded (b) |" in text
    assert "| openai | streaming | **FAIL** (FAIL 1 / PASS 1) | **PASS** (PASS 2) |" in text


# --- diff ---------------------------------------------------------------------------------


def test_diff_kinds_and_text():
    old = results([case("PASS", "test_a"), case("FAIL", "test_b"), case("PASS", "test_c"), case("WARN", "test_e")])
    new = results([case("FAIL", "test_a"), case("PASS", "test_b"), case("SKIP", "test_d"), case("WARN", "test_e")])
    changes = report.diff_results(old, new)
    kinds = {c.case.split("::")[1]: (c.kind, c.old, c.new) for c in changes}
    assert kinds == {"test_a": ("regression", "PASS", "FAIL"), "test_b": ("fix", "FAIL", "PASS"),
                     "test_c": ("removed", "PASS", None), "test_d": ("new", None, "SKIP")}
    assert changes[0].kind == "regression"
    text = report.render_diff_text(changes)
    assert text.splitlines()[0].split() == ["CHANGE", "TARGET", "CASE", "OLD", "NEW"]
    assert "4 changes: 1 regression, 1 new, 1 removed, 1 fix" in text
    assert report.render_diff_text(report.diff_results(old, old)) == "no verdict changed\n"


# --- baseline -----------------------------------------------------------------------------


def _baseline(tmp_path, text, name="known.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run_for_baseline():
    return results([
        case("FAIL", "test_done_last", findings=[finding("check_stream_done_last", "no [DONE]")]),
        case("FAIL", "test_two_checks", findings=[finding("check_stream_done_last", "no [DONE]"),
                                                  finding("check_usage", "no usage"),
                                                  finding("check_keepalive", "comment", "warning")]),
        case("FAIL", "test_done_only", findings=[finding("check_stream_done_last", "no [DONE]"),
                                                 finding("check_keepalive", "comment", "warning")]),
        case("ERROR", "test_tool_timeout", feature="tools", reason="timeout"),
        case("FAIL", "test_role", findings=[finding("check_role", "role missing")]),
        case("PASS", "test_fine"),
    ])


BASELINE = """
[[known]]
case = "openai_chat/test_stream.py::test_tool_*"       # glob
reason = "tools time out on vendor X"

[[known]]
check = "check_stream_done_last"
reason = "vendor X omits [DONE]; ticket 123"

[[known]]
case = "openai_chat/test_stream.py::test_fine"
reason = "used to fail"

[[known]]
case = "openai_chat/test_stream.py::test_role"
reason = "expired excuse"
expires = 2026-11-21

[[known]]
case = "openai_chat/test_stream.py::test_role"
reason = "only on prod"
target = "prod"
expires = 2026-11-22
"""


def test_apply_baseline(tmp_path):
    baseline = report.load_baseline(_baseline(tmp_path, BASELINE))
    data = _run_for_baseline()
    outcome = report.apply_baseline(data, baseline, TODAY)
    expected = {e["case"].split("::")[1]: e for e in outcome.expected}
    assert set(expected) == {"test_done_last", "test_done_only", "test_tool_timeout"}
    assert expected["test_done_last"]["reason"] == "vendor X omits [DONE]; ticket 123"
    assert expected["test_tool_timeout"]["entries"] == [1]
    # a check entry covers a case only if all its error findings are baselined
    assert {n["case"].split("::")[1] for n in outcome.new} == {"test_two_checks", "test_role"}
    assert [e.number for e in outcome.stale] == [3, 5]  # 5: target prod matches nothing here
    assert [e.number for e in outcome.expired] == [4]
    assert not outcome.ok
    # recorded in results, valid against the schema, shown by the reports
    assert data["baseline"]["expired"] == [{"entry": 4, "case": "openai_chat/test_stream.py::test_role",
                                            "reason": "expired excuse", "expires": "2026-11-21"}]
    report.validate_results(data)
    text = report.render_markdown(data)
    assert "*baselined: vendor X omits \\[DONE\\]; ticket 123*" in text
    assert "test_role`: check_role (class 4): role missing — **new failure** (not in the baseline)" in text
    assert "entry 3: case `openai_chat/test_stream.py::test_fine` — now passes: used to fail" in text
    page = report.render_html(data)
    assert page.count('class="new-failure"') == 2
    assert "baselined: tools time out on vendor X" in page and "now passes" in page and "expired excuse" in page
    assert "baselined (expected failure)" in report.render_junit(data)


def test_baseline_target_and_expiry_day_itself(tmp_path):
    baseline = report.load_baseline(_baseline(tmp_path, BASELINE))
    data = _run_for_baseline()
    for item in data["cases"]:
        item["target"] = "prod"
    outcome = report.apply_baseline(data, baseline, TODAY)
    assert "openai_chat/test_stream.py::test_role" in {e["case"] for e in outcome.expected}  # expires today: still applies
    assert report.apply_baseline(data, baseline, TODAY + dt.timedelta(days=1)).expired[-1].number == 5


def test_baseline_case_id_with_brackets_matches_literally(tmp_path):
    path = _baseline(tmp_path, '[[known]]\ncase = "openai_chat/test_stream.py::test_p[gpt-4]"\nreason = "r"\n')
    data = results([case("FAIL", "test_p[gpt-4]")])
    assert report.apply_baseline(data, report.load_baseline(path), TODAY).ok


@pytest.mark.parametrize("text, problem", [
    ('[[known]]\ncase = "a"\nreason = "r"\n[[known]]\ncase = "b"\n', "entry 2: missing 'reason'"),
    ('[[known]]\ncase = "a"\nreason = "r"\nexpire = 2027-01-31\n', "entry 1: unknown key 'expire'"),
    ('[[known]]\nreason = "r"\n', "entry 1: missing 'case' or 'check'"),
    ('[[known]]\ncase = "a"\nreason = "r"\nexpires = "2027-01-31"\n', "entry 1: 'expires' must be a TOML date"),
    ('[[known]]\ncase = "a"\nreason = ""\n', "entry 1: 'reason' is empty"),
    ('[[knwon]]\ncase = "a"\n', "unknown top-level key 'knwon'"),
    ('[[known]\n', "invalid TOML"),
])
def test_baseline_errors_are_one_line(tmp_path, text, problem):
    path = _baseline(tmp_path, text)
    with pytest.raises(report.BaselineError) as info:
        report.load_baseline(path)
    assert str(info.value).startswith(f"{path}: {problem}") and "\n" not in str(info.value)


def test_baseline_error_names_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _baseline(tmp_path, '[[known]]\ncase = "a"\nreason = "r"\n[[known]]\ncase = "b"\n')
    with pytest.raises(report.BaselineError, match=r"^known\.toml: entry 2: missing 'reason'$"):
        report.load_baseline("known.toml")
    with pytest.raises(report.ReportInputError, match="no such file"):
        report.load_baseline("absent.toml")


def test_results_are_not_mutated_by_rendering():
    data = every_verdict()
    before = clone(data)
    report.render_html(data), report.render_markdown(data), report.render_junit(data)
    assert data == before
