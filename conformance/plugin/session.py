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
