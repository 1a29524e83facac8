"""Live progress of a run, in place of pytest's dots.

Registered by the conformance plugin on the controlling process (never on xdist workers) when
``--conformance-progress`` asks for it (``conformance run`` does, unless -q or -v):

* ``tty``: one line rewritten in place: ``progress: 12/40 cases · feature streaming · 2 failed``;
* ``plain`` (not a terminal, or ``CI`` is set): the same as a plain line every
  :data:`EVERY_CASES` cases or :data:`EVERY_SECONDS` seconds, and at the end;
* ``quiet``: nothing per case (only the final summary);
* ``auto``: ``tty`` on a terminal outside CI, ``plain`` otherwise.

pytest's own per-test letters are suppressed while this is active; pytest's outcome counts,
failure sections and final line are unchanged.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

MODES = ("off", "quiet", "auto", "tty", "plain")
EVERY_CASES = 20
EVERY_SECONDS = 10.0
PLUGIN_NAME = "conformance-progress"


def resolve_mode(mode: str, isatty: bool, env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if mode != "auto":
        return mode
    in_ci = env.get("CI", "").lower() not in ("", "0", "false", "no")
    return "tty" if isatty and not in_ci else "plain"


class Progress:
    def __init__(self, config: pytest.Config, mode: str) -> None:
        self.config = config
        self.mode = mode
        self.total: int | None = None
        self.done = 0
        self.failed = 0
        self.feature = ""
        self.started = time.monotonic()
        self.last_line = self.started
        self._failed_ids: set[str] = set()
        self._finished = False

    @property
    def _reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    # -- totals ------------------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.total is None and not hasattr(self.config, "workerinput"):
            self.total = len(session.items) or None

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.total = len(ids)

    # -- per case ----------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        """The usual outcome category, but no letter or word: the progress line says it."""
        if report.when != "call" and report.passed:
            return None
        from conformance.plugin.outcome import verdict_category

        category = verdict_category(report)
        if category is not None:  # counted under its verdict, as conformance.pytest_plugin does
            return category, "", category.upper()
        if report.passed:
            category, word = "passed", "PASSED"
        elif report.failed:
            category, word = ("failed", "FAILED") if report.when == "call" else ("error", "ERROR")
        else:
            category, word = "skipped", "SKIPPED"
        return category, "", word

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from conformance.plugin import CASE_PROPERTY

        for name, value in getattr(report, "user_properties", ()):
            if name == CASE_PROPERTY:
                try:
                    self.feature = json.loads(value).get("feature", self.feature)
                except ValueError:
                    pass
        if report.failed and report.nodeid not in self._failed_ids:
            self._failed_ids.add(report.nodeid)
            self.failed += 1

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.done += 1
        now = time.monotonic()
        last = self.total is not None and self.done >= self.total
        if self.mode == "tty":
            self._reporter.rewrite(self.line(), erase=True)
            if last:
                self._end_tty_line()
        elif self.mode == "plain" and (last or self.done % EVERY_CASES == 0 or now - self.last_line >= EVERY_SECONDS):
            self._reporter.write_line(self.line())
            self.last_line = now
            self._finished = last

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """An interrupted or -x run: end the progress line with what was done."""
        if self.done and not self._finished:
            if self.mode == "tty":
                self._end_tty_line()
            elif self.mode == "plain":
                self._reporter.write_line(self.line())
                self._finished = True

    def _end_tty_line(self) -> None:
        self._reporter.rewrite(self.line(), erase=True)
        self._reporter.write("\n")
        self._finished = True

    def line(self) -> str:
        total = f"/{self.total}" if self.total else ""
        parts = [f"progress: {self.done}{total} cases"]
        if self.feature:
            parts.append(f"feature {self.feature}")
        parts.append(f"{self.failed} failed")
        parts.append(f"{time.monotonic() - self.started:.0f} s")
        return ", ".join(parts)


def register(config: pytest.Config, mode: str) -> None:
    """Register the progress display for this session (controller process only)."""
    if mode == "off" or hasattr(config, "workerinput") or config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    config.pluginmanager.register(Progress(config, resolve_mode(mode, reporter.isatty)), PLUGIN_NAME)
