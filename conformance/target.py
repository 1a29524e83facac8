"""Targets: where to send requests, with which credentials, models, profiles and limits.

A run's settings come from (lowest to highest precedence) built-in defaults, the config file
(``conformance.toml``, or ``[tool.conformance]`` in ``pyproject.toml``) and command-line
options. String values in the config file may use ``${ENV}`` interpolation. The API key itself
is never stored here: only the name of the environment variable that holds it.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.errors import ConfigError
from conformance.findings import Strictness
from conformance.transport import Limits

CAPABILITIES = ("vision", "audio", "tools", "logprobs", "reasoning")
DEFAULT_KEY_ENV = "CONFORMANCE_API_KEY"
FALLBACK_KEY_ENV = "OPENAI_API_KEY"
EXTERNAL_PROFILES = ["openai", "anthropic"]
RUN_CONFIG_ENV = "CONFORMANCE_RUN_CONFIG"

# keys accepted in a config file (and in each [[targets]] entry)
TARGET_KEYS = {
    "name", "base_url", "model", "models", "api_key_env", "profile", "headers", "image_url",
    "timeouts", "max_response_bytes", "limits",
}
RUN_KEYS = TARGET_KEYS | {"strictness", "report_dir", "targets", "disable_checks", "baseline", "deadline", "breaker"}
# [limits] table: memory bounds per exchange (see transport.Limits)
LIMIT_KEYS = {"body_bytes": "max_bytes", "stream_bytes": "max_stream_bytes", "events": "max_events", "record_bytes": "record_bytes"}
TIMEOUT_KEYS = {"connect", "read", "total"}


@dataclass
class Target:
    name: str = "embedded"
    base_url: str | None = None  # None: the embedded reference server
    model: str | None = None
    models: dict[str, str] = field(default_factory=dict)  # per capability
    api_key_env: str = DEFAULT_KEY_ENV
    profiles: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    image_url: str | None = None
    limits: Limits = field(default_factory=Limits)

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    def api_key(self) -> str | None:
        key = os.environ.get(self.api_key_env)
        if not key and self.api_key_env == DEFAULT_KEY_ENV:
            key = os.environ.get(FALLBACK_KEY_ENV)
        return key or None

    def model_for(self, capability: str | None = None) -> str | None:
        if capability and self.models.get(capability):
            return self.models[capability]
        return self.model

    def public(self) -> dict[str, Any]:
        """What the report may show: everything but credentials."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "profile": list(self.profiles),
            "models": {"default": self.model, **self.models},
            "api_key_env": self.api_key_env,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["limits"] = asdict(self.limits)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Target":
        data = dict(data)
        data["limits"] = Limits(**data.get("limits", {}))
        return cls(**data)


@dataclass
class RunConfig:
    targets: list[Target]
    strictness: Strictness = Strictness.COMPATIBLE
    report_dir: str = "reports"
    disable_checks: list[str] = field(default_factory=list)
    baseline: str | None = None  # a file of known deviations (conformance.report.baseline)
    deadline_s: float | None = None  # the whole run's deadline (--deadline / deadline)
    deadline_at: float | None = None  # ... as a time.time(), fixed when the run starts
    breaker: int = 3  # consecutive same-kind transport failures that stop a target (0: never)

    def to_json(self) -> str:
        return json.dumps(
            {
                "targets": [t.to_json() for t in self.targets],
                "strictness": self.strictness.value,
                "report_dir": self.report_dir,
                "disable_checks": self.disable_checks,
                "baseline": self.baseline,
                "deadline_s": self.deadline_s,
                "deadline_at": self.deadline_at,
                "breaker": self.breaker,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        data = json.loads(text)
        return cls(
            targets=[Target.from_json(t) for t in data["targets"]],
            strictness=Strictness(data["strictness"]),
            report_dir=data["report_dir"],
            disable_checks=list(data.get("disable_checks", [])),
            baseline=data.get("baseline"),
            deadline_s=data.get("deadline_s"),
            deadline_at=data.get("deadline_at"),
            breaker=int(data.get("breaker", 3)),
        )


# -- config files ----------------------------------------------------------------------------
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def find_config_file(explicit: str | None, cwd: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The config file and its conformance table, or None when there is none."""
    cwd = cwd or Path.cwd()
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return path, _conformance_table(path)
    for candidate in (cwd / "conformance.toml", cwd / "pyproject.toml"):
        if candidate.is_file():
            table = _conformance_table(candidate)
            if table is not None:
                return candidate, table
    return None


def _conformance_table(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("conformance")
    return data.get("tool", {}).get("conformance", data) if "tool" in data else data


def line_of(path: Path, key: str) -> int | None:
    """The line on which a key is first set in a TOML file (for error messages)."""
    pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])", re.MULTILINE)
    try:
        match = pattern.search(path.read_text())
    except OSError:
        return None
    return match.string.count("\n", 0, match.start()) + 1 if match else None


def _where(path: Path, key: str) -> str:
    line = line_of(path, key.split(".")[-1])
    return f"{path}:{line}" if line else str(path)


def interpolate(value: Any, path: Path, key: str) -> Any:
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{_where(path, key)}: {key} uses ${{{name}}}, but the environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: interpolate(v, path, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, path, key) for v in value]
    return value


def _check_keys(table: dict[str, Any], allowed: set[str], path: Path, prefix: str = "") -> None:
    for key in table:
        if key not in allowed:
            hint = _closest(key, allowed)
            suggestion = f" (did you mean '{hint}'?)" if hint else f"; known keys: {', '.join(sorted(allowed))}"
            raise ConfigError(f"{_where(path, key)}: unknown key '{prefix}{key}'{suggestion}")


def _closest(word: str, options: set[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return matches[0] if matches else None


def validate_table(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """Check the keys and types of a config table; interpolate ${ENV}; return it."""
    _check_keys(table, RUN_KEYS, path)
    for i, entry in enumerate(table.get("targets", []) or []):
        if not isinstance(entry, dict):
            raise ConfigError(f"{_where(path, 'targets')}: targets[{i}] must be a table")
        _check_keys(entry, TARGET_KEYS, path, prefix=f"targets[{i}].")
    for scope in [table, *(table.get("targets") or [])]:
        _check_types(scope, path)
    return interpolate(table, path, "config")


def _check_types(scope: dict[str, Any], path: Path) -> None:
    def expect(key: str, kinds: tuple[type, ...], what: str) -> None:
        if key in scope and not isinstance(scope[key], kinds):
            raise ConfigError(f"{_where(path, key)}: {key} must be {what}")

    for key in ("name", "base_url", "model", "api_key_env", "image_url", "strictness", "report_dir", "baseline"):
        expect(key, (str,), "a string")
    expect("profile", (str, list), "a profile name or a list of names")
    expect("models", (dict,), "a table of capability = model")
    expect("headers", (dict,), "a table of header = value")
    expect("timeouts", (dict,), "a table with connect, read, total (seconds)")
    expect("max_response_bytes", (int,), "an integer")
    expect("disable_checks", (list,), "a list of check names")
    expect("limits", (dict,), "a table with " + ", ".join(sorted(LIMIT_KEYS)))
    for key, value in (scope.get("limits") or {}).items():
        if key not in LIMIT_KEYS:
            raise ConfigError(f"{_where(path, key)}: unknown key 'limits.{key}'; known: {', '.join(sorted(LIMIT_KEYS))}")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{_where(path, key)}: limits.{key} must be a positive integer")
    for key in ("deadline", "breaker"):
        value = scope.get(key)
        if key in scope and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < (1 if key == "deadline" else 0)):
            raise ConfigError(f"{_where(path, key)}: {key} must be " + ("a positive number of seconds" if key == "deadline" else "a number of failures (0: off)"))
    for capability in scope.get("models", {}) or {}:
        if capability not in CAPABILITIES:
            raise ConfigError(f"{_where(path, capability)}: unknown capability '{capability}' in models; known: {', '.join(CAPABILITIES)}")
    for key, value in (scope.get("timeouts") or {}).items():
        if key not in TIMEOUT_KEYS:
            raise ConfigError(f"{_where(path, key)}: unknown key 'timeouts.{key}'; known: connect, read, total")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{_where(path, key)}: timeouts.{key} must be a positive number of seconds")


# -- validation of single values ---------------------------------------------------------------
def check_base_url(url: str, where: str = "--base-url") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: '{url}' is not an http(s) URL (example: http://127.0.0.1:8000/v1)")
    return url.rstrip("/")


def check_profiles(names: list[str]) -> list[str]:
    from conformance import profiles

    for name in names:
        profiles.load(name)  # raises ConfigError naming the unknown profile
    return names


def profile_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return [str(p) for p in value]


def limits_from(timeouts: dict[str, Any] | None, max_bytes: int | None, base: Limits | None = None, sizes: dict[str, int] | None = None) -> Limits:
    base = base or Limits()
    timeouts = timeouts or {}
    values: dict[str, Any] = {
        "connect_s": float(timeouts.get("connect", base.connect_s)),
        "read_s": float(timeouts.get("read", base.read_s)),
        "total_s": float(timeouts.get("total", base.total_s)),
        "max_bytes": int(max_bytes or base.max_bytes),
    }
    values.update({LIMIT_KEYS[k]: int(v) for k, v in (sizes or {}).items() if k in LIMIT_KEYS})
    return replace(base, **values)


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"--header '{text}': expected 'Name: value'")
    return name.strip(), value.strip()
