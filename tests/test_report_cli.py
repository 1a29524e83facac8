"""`conformance report matrix|diff` on saved results files, as a user runs them (no target needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from report_fixtures import case, finding, results


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_XDIST_"))}
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def save(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def two_runs(tmp_path):
    old = results([case("PASS", "test_a"), case("FAIL", "test_b", findings=[finding("check_b", "bad")]), case("PASS", "test_c")])
    new = results([case("FAIL", "test_a", findings=[finding("check_a", "worse")]), case("PASS", "test_b"), case("PASS", "test_c")])
    return save(tmp_path / "old" / "results.json", old), save(tmp_path / "new" / "results.json", new)


def test_diff_lists_changes_and_exits_1_on_a_regression(two_runs):
    old, new = two_runs
    proc = cli("report", "diff", str(old), str(new))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["CHANGE", "TARGET", "CASE", "OLD", "NEW"]
    assert lines[1].split() == ["regression", "embedded", "openai_chat/test_stream.py::test_a", "PASS", "FAIL"]
    assert lines[2].split() == ["fix", "embedded", "openai_chat/test_stream.py::test_b", "FAIL", "PASS"]
    assert "2 changes: 1 regression, 0 new, 0 removed, 1 fix" in proc.stdout


def test_diff_exits_0_without_a_regression(two_runs):
    old, _ = two_runs
    same = cli("report", "diff", str(old), str(old))
    assert same.returncode == 0 and same.stdout == "no verdict changed\n"
    fixed = save(old.parent.parent / "fixed.json", results([case("PASS", "test_a"), case("PASS", "test_b"), case("PASS", "test_c")]))
    proc = cli("report", "diff", str(old), str(fixed), "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == [{"kind": "fix", "target": "embedded", "case": "openai_chat/test_stream.py::test_b", "old": "FAIL", "new": "PASS"}]


def test_matrix_writes_html_and_markdown(two_runs, tmp_path):
    old, new = two_runs
    out = tmp_path / "audit" / "matrix.html"
    proc = cli("report", "matrix", str(old), str(new), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out} (2 targets from 2 files)"
    page = out.read_text()
    assert 'id="target-matrix"' in page and "embedded (old/results)" in page and "embedded (new/results)" in page
    md = tmp_path / "matrix.md"
    assert cli("report", "matrix", str(old), str(new), "-o", str(md)).returncode == 0
    assert "| Protocol | Feature | embedded (old/results) | embedded (new/results) |" in md.read_text()


def test_matrix_default_output_is_matrix_html_in_the_current_folder(two_runs, tmp_path):
    old, _ = two_runs
    proc = cli("report", "matrix", str(old), cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "matrix.html").is_file()


@pytest.mark.parametrize("args, expected", [
    (["report", "diff", "missing.json", "missing.json"], "missing.json: no such file"),
    (["report", "matrix", "bad.json"], "bad.json: invalid JSON"),
    (["report", "diff", "wrong.json", "wrong.json"], "wrong.json: not a valid results file: at /cases/0/verdict"),
    (["report", "matrix"], "the following arguments are required: RESULTS.json"),
    (["report", "diff", "only-one.json"], "the following arguments are required: NEW.json"),
    (["report"], "report needs a subcommand: matrix, diff or baseline"),
    (["report", "baseline", "wrong.json", "missing.toml"], "wrong.json: not a valid results file"),
    (["report", "baseline", "bad.json", "missing.toml"], "bad.json: invalid JSON"),
    (["report", "nope"], "invalid choice: 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, expected):
    (tmp_path / "bad.json").write_text('{"schema_version": ', encoding="utf-8")
    broken = results([case("PASS", "test_a")])
    broken["cases"][0]["verdict"] = "GREEN"
    save(tmp_path / "wrong.json", broken)
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("conformance: error: "), proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_html_pointer_links_open_the_exchange_it_points_into():
    from conformance.report import render_html

    data = results([case("FAIL", "test_a", findings=[finding("check_a", "bad")])])
    data["cases"][0]["findings"][0]["pointer"] = "/exchanges/0/response/events/1/json"
    page = render_html(data)
    anchor = "case-openai-chat-test-stream-py-test-a"
    assert f'<a href="#{anchor}-x1" title="open exchange 1">' in page
    assert f'<details class="exchange" id="{anchor}-x1">' in page
    assert '<ol class="events" start="0">' in page  # event numbers match the pointers


def test_baseline_on_a_saved_run(two_runs, tmp_path):
    _, new = two_runs  # test_a fails with check_a
    known = tmp_path / "known.toml"
    known.write_text('[[known]]\ncheck = "check_a"\nreason = "ticket 1"\n\n[[known]]\ncase = "*::test_c"\nreason = "fixed since"\n')
    proc = cli("report", "baseline", str(new), str(known), "--report-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "1 expected failure(s), 0 new, 1 stale entry" in proc.stdout and "entry 2 stale" in proc.stdout
    assert json.loads((tmp_path / "out" / "results.json").read_text())["baseline"]["stale"][0]["entry"] == 2
    known.write_text('[[known]]\ncheck = "check_other"\nreason = "not this one"\n')
    proc = cli("report", "baseline", str(new), str(known))
    assert proc.returncode == 1 and "new failure: openai_chat/test_stream.py::test_a" in proc.stdout
    missing = cli("report", "baseline", str(new), str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "nope.toml: no such file" in missing.stderr
