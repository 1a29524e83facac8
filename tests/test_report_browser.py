"""The HTML reports in a real headless Chromium (Debian's `chromium`; .ci/run installs it).

A run against a faulty embedded server makes a failing report; the browser must show the feature
matrix and the failing case's evidence (findings, and the exchange opened by the URL hook), and
the JavaScript filter must hide the passing case. Screenshots are saved in the test's tmp folder.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FAILING_CASE = "case-openai-chat-test-stream-py-test-stream-chunk-sequence"


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


pytestmark = pytest.mark.skipif(
    _browser() is None,
    reason="no headless Chromium on PATH (apt-get install chromium; .ci/run installs it)",
)


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            _browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)


def dump_dom(url: str) -> str:
    proc = chromium("--dump-dom", url)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def screenshot(url: str, path: Path, width: int = 1280, height: int = 1600) -> tuple[int, int]:
    proc = chromium(f"--screenshot={path}", f"--window-size={width},{height}", "--hide-scrollbars", url)
    assert proc.returncode == 0 and path.is_file(), proc.stderr[-2000:]
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert len(data) > 20_000, "the screenshot is (nearly) blank"
    return struct.unpack(">II", data[16:24])


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text under each element id (flat)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        attributes["<tag>"] = tag
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.by_id[attributes["id"]] = attributes


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_XDIST_")) and k not in ("CI", "GITHUB_STEP_SUMMARY")}
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def failing_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faulty-report")
    proc = cli("run", "--fault", "repeat_role", "-k", "stream", "--report-dir", str(out))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_failing_report_shows_matrix_and_evidence_in_chromium(failing_report, tmp_path):
    index = failing_report / "index.html"
    url = f"{index.as_uri()}?verdict=FAIL,ERROR&open={FAILING_CASE}-x1"
    page = dump_dom(url)
    dom = Elements(page)

    # the feature matrix: a row for openai streaming whose worst verdict is FAIL, colour and text
    assert "feature-matrix" in dom.by_id
    matrix = page.split('id="feature-matrix"', 1)[1].split("</table>", 1)[0]
    assert "<td>streaming</td>" in matrix and 'class="v-FAIL"><strong>FAIL</strong>' in matrix

    # the failing case: visible, its findings named, its first exchange opened by the URL hook
    article = dom.by_id[FAILING_CASE]
    assert article["data-verdict"] == "FAIL" and "hidden" not in article
    assert "open" in dom.by_id[f"{FAILING_CASE}-x1"], "the exchange evidence was not opened"
    case_html = page.split(f'id="{FAILING_CASE}"', 1)[1].split("</article>", 1)[0]
    assert "check_stream_role_first_only" in case_html and "repeats role" in case_html
    assert "/exchanges/0/response/events/1/json/choices/0/delta/role" in case_html
    assert "Stream events" in case_html and "[REDACTED]" in case_html

    # the JavaScript filter ran: only failing cases are shown, and the count says so
    cases = [attrs for tag, attrs in dom.tags if tag == "article"]
    shown = [a for a in cases if "hidden" not in a]
    assert shown and all(a["data-verdict"] == "FAIL" for a in shown)
    assert any("hidden" in a for a in cases), "the passing case was not filtered out"
    assert f"{len(shown)} of {len(cases)} cases shown" in page
    assert dom.by_id["filters"].get("hidden") is None  # the form is revealed by the script

    # other exchanges stay collapsed by default
    closed = [a for tag, a in dom.tags if tag == "details" and "exchange" in (a.get("class") or "") and "open" not in a]
    assert closed

    # the screenshot: the matrix, then that one failing case with its evidence opened
    width, height = screenshot(f"{url}&q=test_stream_chunk_sequence", tmp_path / "index-failing.png")
    assert (width, height) == (1280, 1600)
    screenshot(index.as_uri(), tmp_path / "index-all.png")


def test_text_filter_hides_cases_that_do_not_match(failing_report):
    page = dump_dom(f"{(failing_report / 'index.html').as_uri()}?q=test_stream_include_usage")
    cases = [attrs for tag, attrs in Elements(page).tags if tag == "article"]
    shown = [a["id"] for a in cases if "hidden" not in a]
    assert shown == ["case-openai-chat-test-stream-py-test-stream-include-usage"]
    assert f"1 of {len(cases)} cases shown" in page


def test_matrix_of_two_runs_in_chromium(failing_report, tmp_path):
    clean = tmp_path / "clean"
    proc = cli("run", "-k", "stream", "--report-dir", str(clean))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path / "matrix.html"
    proc = cli("report", "matrix", str(clean / "results.json"), str(failing_report / "results.json"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    page = dump_dom(out.as_uri())
    row = page.split("<td>openai</td><td>streaming</td>", 1)[1].split("</tr>", 1)[0]
    assert row.index('data-verdict="PASS"') < row.index('data-verdict="FAIL"')  # clean run left, faulty right
    assert "case-matrix" in Elements(page).by_id
    screenshot(out.as_uri(), tmp_path / "matrix.png", height=1000)


def test_root_causes_come_first_grouped_by_rule_with_fix_and_links(failing_report, tmp_path):
    """Issue 13: one server fault is one root cause (not a card per case): the rule, its case count,
    source, fix hint and links to every case it hits, before the matrix; the cards keep their evidence."""
    import json

    results = json.loads((failing_report / "results.json").read_text())
    failing = [c["id"] for c in results["cases"] if c["verdict"] == "FAIL"]
    assert len(failing) > 1
    page = dump_dom((failing_report / "index.html").as_uri())
    dom = Elements(page)
    assert page.index('id="root-causes"') < page.index('id="feature-matrix"') < page.index('id="cases"')
    section = page.split('id="root-causes"', 1)[1].split("</ol>", 1)[0]
    causes = [a for tag, a in dom.tags if tag == "li" and "root-cause" in (a.get("class") or "")]
    assert [c["data-rule"] for c in causes] == ["stream_role_first_only"], "one fault, one root cause"
    assert f"{len(failing)} cases" in section
    assert "Fix:" in section and 'delta.role = "assistant"' in section  # the rule's declared hint
    assert "Source:" in section and "openai-python" in section
    assert "repeats role" in section  # the first evidence line
    links = [a["href"] for tag, a in Elements(section).tags if tag == "a" and (a.get("href") or "").startswith("#case-")]
    assert len(links) == len(failing) == len(set(links))
    for href in links:  # every link lands on a FAIL card that still holds its evidence
        assert dom.by_id[href[1:]]["data-verdict"] == "FAIL"
        card = page.split(f'id="{href[1:]}"', 1)[1].split("</article>", 1)[0]
        assert "repeats role" in card and "<details" in card
    assert "Clients that break on it:" in section and "openai-python" in section  # the SDK replay, folded into its cause
    screenshot((failing_report / "index.html").as_uri(), tmp_path / "root-causes.png", height=900)


def test_client_readiness_matrix_shows_each_client_and_what_broke(failing_report):
    """Issue 9: the client-readiness matrix is in the page: per client and version × feature, works
    or breaks with the exception or difference."""
    import json

    results = json.loads((failing_report / "results.json").read_text())
    rows = results["client_readiness"]
    assert any(r["client"] == "openai-python" and r["outcome"] == "breaks" for r in rows), rows
    page = dump_dom((failing_report / "index.html").as_uri())
    assert "Client readiness" in page
    section = page.split("Client readiness", 1)[1]
    assert "openai-python" in section and "breaks" in section and "works" in section
