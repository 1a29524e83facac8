"""Command-line options of the plugin and the run's settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.findings import Strictness
from conformance.target import (
    CAPABILITIES,
    DEFAULT_KEY_ENV,
    PROTOCOLS,
    EXTERNAL_PROFILES,
    RUN_CONFIG_ENV,
    RunConfig,
    Target,
    check_base_url,
    parse_header,
    profile_list,
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "conformance: target under test")
    group.addoption("--target-url", help="base URL of the target, e.g. http://127.0.0.1:8000/v1 (default: the embedded reference server)")
    group.addoption("--target-model", help="model for general cases")
    for capability in CAPABILITIES:
        group.addoption(f"--target-model-{capability}", help=f"model for {capability} cases (default: --target-model)")
    for protocol in PROTOCOLS:
        group.addoption(f"--target-{protocol}-model", help=f"model for {protocol} cases (default: --target-model)")
        for capability in CAPABILITIES:
            group.addoption(f"--target-{protocol}-model-{capability}", help=f"model for {protocol} {capability} cases")
    group.addoption("--target-no-auth", action="store_true", help="the target has no authentication: send no key; auth-rejection cases are skipped")
    group.addoption("--target-api-key-env", default=None, help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV}, then OPENAI_API_KEY)")
    group.addoption("--target-profile", action="append", default=[], help="profile(s) to check against (repeatable or comma separated)")
    group.addoption("--target-header", action="append", default=[], help="extra header sent with every request, 'Name: value'")
    group.addoption("--target-image-url", help="an https image URL the target can fetch, for image-by-URL cases")
    group.addoption("--strictness", choices=[s.value for s in Strictness], default=None, help="compatible (default) or strict")
    group.addoption("--disable-check", action="append", default=[], help="switch a check off by name (repeatable)")
    group.addoption("--conformance-report-dir", default=None, help="where to write results.json and its renderings (default: reports)")
    group.addoption("--no-conformance-report", action="store_true", help="do not write report files")
    group.addoption("--conformance-baseline", default=None, metavar="FILE", help="known deviations (TOML): failures it covers do not fail the session")
    group.addoption("--conformance-fault-matrix", default=None, metavar="FILE", help="internal (conformance selftest): run each case once per named fault that selects it (a JSON list of {name, select})")
    group.addoption("--conformance-referee", default="auto", choices=("auto", "process", "inline"),
                    help="where the client referees (openai-python, anthropic-python, the Node clients) replay exchanges: one process shared "
                         "by the run's workers, or in each process (auto: a shared process with -n, or under 'conformance run')")
    group.addoption("--conformance-progress", default="off", choices=("off", "quiet", "auto", "tty", "plain"),
                    help="live progress instead of pytest's dots: auto (a line in place on a terminal, plain lines in CI), tty, plain, quiet (none), off (pytest's own; default)")


def _models(opt) -> dict[str, str]:
    models = {c: opt(f"--target-model-{c}") for c in CAPABILITIES if opt(f"--target-model-{c}")}
    for protocol in PROTOCOLS:
        if opt(f"--target-{protocol}-model"):
            models[protocol] = opt(f"--target-{protocol}-model")
        models.update({f"{protocol}_{c}": opt(f"--target-{protocol}-model-{c}") for c in CAPABILITIES if opt(f"--target-{protocol}-model-{c}")})
    return models


def run_config(config: pytest.Config) -> RunConfig:
    """The run's settings: from the CLI's JSON (environment) or from pytest options."""
    cached = getattr(config, "_conformance_run_config", None)
    if cached is not None:
        return cached
    path = os.environ.get(RUN_CONFIG_ENV)
    if path:
        result = RunConfig.from_json(Path(path).read_text())
    else:
        opt = config.getoption
        url = opt("--target-url")
        target = Target(
            name="embedded" if not url else "target",
            base_url=check_base_url(url, "--target-url") if url else None,
            model=opt("--target-model"),
            models=_models(opt),
            api_key_env=opt("--target-api-key-env") or DEFAULT_KEY_ENV,
            profiles=[p for value in opt("--target-profile") for p in profile_list(value)],
            headers=dict(parse_header(h) for h in opt("--target-header")),
            image_url=opt("--target-image-url"),
            auth="none" if opt("--target-no-auth") else "key",
        )
        result = RunConfig(
            targets=[target],
            strictness=Strictness(opt("--strictness") or "compatible"),
            report_dir=opt("--conformance-report-dir") or "reports",
            disable_checks=list(opt("--disable-check")),
            baseline=opt("--conformance-baseline"),
        )
    for target in result.targets:
        if not target.profiles:
            from conformance.reference.app import DEFAULT_PROFILES

            target.profiles = list(DEFAULT_PROFILES) if target.embedded else list(EXTERNAL_PROFILES)
    config._conformance_run_config = result  # type: ignore[attr-defined]
    return result
