"""The session: one target, its credentials, and the embedded reference server when there is no target."""

from __future__ import annotations

import os

import pytest

from conformance import profiles
from conformance.plugin.options import run_config
from conformance.redact import Redactor, header_secrets
from conformance.transport import close_pooled_clients

SCRUB: list[Redactor | None] = [None]  # the session's redactor, for what cases print and record
from conformance.errors import ConfigError
from conformance.target import EMBEDDED_ENV, missing_key_error, option


class Session:
    def __init__(self, config: pytest.Config) -> None:
        self.run = run_config(config)
        self.target = self.run.targets[0]
        self.strictness = self.run.strictness
        self.disabled = set(self.run.disable_checks)
        self._server = None
        if self.target.embedded:
            self._start_embedded()
        self.api_key = self._api_key()
        from conformance.guard import RunGuard  # run deadline and breaker

        self.guard = RunGuard(deadline_at=self.run.deadline_at, deadline_s=self.run.deadline_s, threshold=self.run.breaker)
        self.redactor = Redactor([self.api_key, *header_secrets(self.target.headers)])
        SCRUB[0] = self.redactor
        from conformance.budget import gate_for

        self.gate = gate_for(self.target.spend_limits)  # budget and pacing, shared by the run's workers
        from conformance.schemas import registry

        self.schemas = registry()

    def _start_embedded(self) -> None:
        from conformance.reference.app import ServerSettings, model_ids, new_api_key
        from conformance.reference.server import EmbeddedServer

        inherited = os.environ.get(EMBEDDED_ENV)
        if inherited:
            url, _, key = inherited.partition("|")
        else:
            key = new_api_key()
            settings = ServerSettings(api_keys=frozenset({key}), profiles=tuple(self.target.profiles))
            self._server = EmbeddedServer(settings).start()
            url = self._server.base_url
        self.target.base_url = url
        self._embedded_key = key
        if not self.target.model:
            openai = profiles.for_protocol(self.target.profiles, "openai")
            default = openai.get("openai", "default_model") if openai else None
            served = model_ids(ServerSettings(api_keys=frozenset(), profiles=tuple(self.target.profiles)))
            self.target.model = default or served[0]
            self.models_from_profiles = True

    def _api_key(self) -> str | None:
        if self.target.embedded or getattr(self, "_embedded_key", None):
            return self._embedded_key
        if self.target.auth == "none":
            return None
        problem = missing_key_error(self.target, self.run.interface)
        if problem:
            raise ConfigError(problem)
        return self.target.api_key()

    def option(self, setting: str) -> str:
        """The option that sets ``setting`` in the interface in use (CLI or pytest), for hints."""
        return option(setting, self.run.interface)

    def close(self) -> None:
        close_pooled_clients()
        if self._server is not None:
            self._server.stop()


def open_ledger(config: pytest.Config) -> None:
    """Controller only, before the workers start: a fresh ledger folder for this session's budget
    and pacing (conformance.budget), in $CONFORMANCE_LEDGER so the xdist workers share it."""
    import tempfile

    from conformance.budget import LEDGER_ENV

    from conformance.target import RUN_CONFIG_ENV

    if hasattr(config, "workerinput") or not os.environ.get(RUN_CONFIG_ENV):  # budgets come from `conformance run`
        return
    if not run_config(config).targets[0].spend_limits.active:
        return
    config._conformance_ledger = (os.environ.get(LEDGER_ENV), tempfile.mkdtemp(prefix="conformance-ledger-"))  # type: ignore[attr-defined]
    os.environ[LEDGER_ENV] = config._conformance_ledger[1]  # type: ignore[attr-defined]


def close_ledger(config: pytest.Config) -> None:
    import shutil

    from conformance.budget import LEDGER_ENV

    saved = getattr(config, "_conformance_ledger", None)
    if saved is None:
        return
    previous, folder = saved
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop(LEDGER_ENV, None)
    else:
        os.environ[LEDGER_ENV] = previous


def open_referee(config: pytest.Config) -> None:
    """Controller only, before the workers start: the run's referee process (conformance.referee),
    in $CONFORMANCE_REFEREE so that the workers share it. ``auto``: with xdist workers (each would
    import the clients and start Node again) or under ``conformance run``."""
    from conformance.referee import REFEREE_ENV, start

    from conformance.target import RUN_CONFIG_ENV

    mode = config.getoption("--conformance-referee", "auto")
    if hasattr(config, "workerinput") or mode == "inline" or os.environ.get(REFEREE_ENV):
        return
    workers = config.getoption("numprocesses", None)
    if mode == "auto" and not (_runs_suites(config) and ((isinstance(workers, int) and workers >= 2) or os.environ.get(RUN_CONFIG_ENV))):
        return
    config._conformance_referee = start()  # type: ignore[attr-defined]


def _runs_suites(config: pytest.Config) -> bool:
    """True when the session runs conformance suites (not, say, a project's own tests that load the plugin)."""
    from pathlib import Path

    suites = (Path(__file__).resolve().parents[1] / "suites").resolve()
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        path = (Path(config.invocation_params.dir) / path).resolve() if not path.is_absolute() else path.resolve()
        if path == suites or suites in path.parents:
            return True
    return False


def close_referee(config: pytest.Config) -> None:
    from conformance.referee import stop

    stop(getattr(config, "_conformance_referee", None))


def prewarm_client_lane(session: pytest.Session) -> None:
    """Without workers, the client-lane cases (conformance/suites/clients) call the target through
    openai-python and anthropic-python in this process, which then imports them: about 2 s of CPU
    at the first such case. When the selection has such cases, a background thread imports them
    from the start instead, while the first cases wait on the network."""
    import importlib
    import threading

    if hasattr(session.config, "workerinput") or not any(item.get_closest_marker("client_lane") for item in session.items):
        return

    def warm() -> None:
        for name in ("openai", "anthropic"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - not installed, or broken: the case itself says so
                pass

    threading.Thread(target=warm, name="conformance-sdk-warm", daemon=True).start()
