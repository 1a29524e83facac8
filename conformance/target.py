"""Targets: where to send requests, with which credentials, models, profiles and limits.

A run's settings come from (lowest to highest precedence) built-in defaults, the config file
(``conformance.toml``, or ``[tool.conformance]`` in ``pyproject.toml``) and command-line
options. String values in the config file may use ``${ENV}`` interpolation. The API key itself
is never stored here: only the name of the environment variable that holds it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.budget import SpendLimits
from conformance.errors import ConfigError
from conformance.findings import Strictness
from conformance.retry import RETRY_STATUSES, RetryPolicy
from conformance.transport import Limits

CAPABILITIES = ("vision", "audio", "tools", "logprobs", "reasoning")
PROTOCOLS = ("openai", "anthropic")
AUTO_FIRST = "auto-first"  # a model value: use the first model the target's GET /models lists
AUTH_MODES = ("key", "none")  # auth = "none": the target has no authentication
DEFAULT_KEY_ENV = "CONFORMANCE_API_KEY"
FALLBACK_KEY_ENV = "OPENAI_API_KEY"
EXTERNAL_PROFILES = ["openai", "anthropic"]
RUN_CONFIG_ENV = "CONFORMANCE_RUN_CONFIG"
EMBEDDED_ENV = "CONFORMANCE_EMBEDDED"  # "url|key" of an embedded server started by the controller

# keys accepted in a config file (and in each [[targets]] entry)
TARGET_KEYS = {
    "name", "base_url", "model", "models", "api_key_env", "profile", "headers", "image_url",
    "timeouts", "max_response_bytes", "limits", "auth",
}
RUN_KEYS = TARGET_KEYS | {"strictness", "report_dir", "targets", "disable_checks", "baseline", "deadline", "breaker"}
# [limits] table: memory bounds per exchange (see transport.Limits)
SIZE_LIMIT_KEYS = {"body_bytes": "max_bytes", "stream_bytes": "max_stream_bytes", "events": "max_events", "record_bytes": "record_bytes"}
TIMEOUT_KEYS = {"connect", "read", "total"}
# token budgets (max_tokens / max_completion_tokens) of the cases: [limits] max_tokens for every
# case, max_tokens_<capability> for one kind; generous, so that a verbose model is not cut (a reply
# cut by the token limit is inconclusive, never a FAIL, but proves nothing either)
DEFAULT_BUDGETS = {"default": 256, "tools": 1024, "reasoning": 2048}
BUDGET_KEYS = {"max_tokens"} | {f"max_tokens_{c}" for c in CAPABILITIES}
LIMIT_KEYS = BUDGET_KEYS | set(SIZE_LIMIT_KEYS)  # one [limits] table: token budgets and memory bounds
# a paid API: budget, pacing, retries and prices (conformance.budget, conformance.spend)
SPEND_KEYS = {"max_requests", "max_output_tokens", "rate_limit", "concurrency", "retries", "prices"}
RETRY_KEYS = {"count", "max_wait"}
TARGET_KEYS |= SPEND_KEYS
RUN_KEYS |= SPEND_KEYS


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
    budgets: dict[str, int] = field(default_factory=dict)  # token budget per case kind ("default", capability): see DEFAULT_BUDGETS
    auth: str = "key"  # "none": a target without authentication (auth-rejection cases are skipped)
    spend_limits: SpendLimits = field(default_factory=SpendLimits)  # budget, rate limit, concurrency cap
    prices: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> {input, output} per million tokens

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    def api_key(self) -> str | None:
        key = os.environ.get(self.api_key_env)
        if not key and self.api_key_env == DEFAULT_KEY_ENV:
            key = os.environ.get(FALLBACK_KEY_ENV)
        return key or None

    def model_for(self, capability: str | None = None, protocol: str | None = None) -> str | None:
        """The model for a case: the protocol's own (``anthropic_vision``, then ``anthropic``) first,
        then the general ones (``vision``, then ``--model``)."""
        if protocol:
            if capability and self.models.get(f"{protocol}_{capability}"):
                return self.models[f"{protocol}_{capability}"]
            if self.models.get(protocol):
                return self.models[protocol]
        if capability and self.models.get(capability):
            return self.models[capability]
        return self.model

    def budget_for(self, capability: str | None = None) -> int:
        """The token budget of a case of this capability (its own, else the target's default)."""
        budgets = {**DEFAULT_BUDGETS, **self.budgets}
        if capability and capability in budgets:
            return int(budgets[capability])
        return int(budgets["default"])

    def public(self) -> dict[str, Any]:
        """What the report may show: everything but credentials."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "profile": list(self.profiles),
            "models": {"default": self.model, **self.models},
            "api_key_env": self.api_key_env,
            **({"auth": self.auth} if self.auth != "key" else {}),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["limits"] = asdict(self.limits)
        data["limits"]["retry"]["statuses"] = sorted(self.limits.retry.statuses)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Target":
        data = dict(data)
        limits = dict(data.get("limits", {}))
        if isinstance(limits.get("retry"), dict):
            retry = dict(limits["retry"])
            retry["statuses"] = frozenset(retry.get("statuses", RETRY_STATUSES))
            limits["retry"] = RetryPolicy(**retry)
        data["limits"] = Limits(**limits)
        if isinstance(data.get("spend_limits"), dict):
            data["spend_limits"] = SpendLimits(**data["spend_limits"])
        return cls(**data)


@dataclass
class RunConfig:
    targets: list[Target]
    strictness: Strictness = Strictness.COMPATIBLE
    report_dir: str = "reports"
    disable_checks: list[str] = field(default_factory=list)
    baseline: str | None = None  # a file of known deviations (conformance.report.baseline)
    interface: str = "pytest"  # "cli" under `conformance run`: hints name the CLI's options
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
                "interface": self.interface,
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
            interface=data.get("interface", "pytest"),
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
        data = tomllib.loads(read_config_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("conformance")
    return data.get("tool", {}).get("conformance", data) if "tool" in data else data


def read_config_text(path: Path) -> str:
    """The text of a config file; one line naming the file when it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); TOML files must be UTF-8: "
            f"save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def line_of(path: Path, key: str) -> int | None:
    """The line on which a key is first set in a TOML file (for error messages)."""
    pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])", re.MULTILINE)
    try:
        match = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
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
    table = interpolate(table, path, "config")
    for scope in [table, *(table.get("targets") or [])]:  # after ${ENV}: the values as they will be sent
        for name, value in (scope.get("headers") or {}).items():
            check_header(name, value, f"{_where(path, name)}: headers")
    return table


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
    if isinstance(scope.get("max_response_bytes"), int) and scope["max_response_bytes"] < 1:
        raise ConfigError(f"{_where(path, 'max_response_bytes')}: max_response_bytes must be a positive number of bytes")
    if "profile" in scope and isinstance(scope["profile"], (str, list)) and not profile_list(scope["profile"]):
        raise ConfigError(f"{_where(path, 'profile')}: profile is empty: name at least one profile (see 'conformance profiles') or remove the key")
    for name, value in (scope.get("headers") or {}).items():
        if not isinstance(value, str):
            raise ConfigError(f"{_where(path, name)}: headers.{name} must be a string")
    expect("disable_checks", (list,), "a list of check names")
    expect("limits", (dict,), "a table with token budgets (max_tokens, max_tokens_<capability>) and memory bounds (" + ", ".join(sorted(SIZE_LIMIT_KEYS)) + ")")
    for key, value in (scope.get("limits") or {}).items():
        if key not in LIMIT_KEYS:
            raise ConfigError(f"{_where(path, key)}: unknown key 'limits.{key}'; known: {', '.join(sorted(LIMIT_KEYS))}")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{_where(path, key)}: limits.{key} must be a positive integer" + (" (tokens)" if key in BUDGET_KEYS else " (bytes or events)"))
    for key in ("deadline", "breaker"):
        value = scope.get(key)
        if key in scope and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < (1 if key == "deadline" else 0)):
            raise ConfigError(f"{_where(path, key)}: {key} must be " + ("a positive number of seconds" if key == "deadline" else "a number of failures (0: off)"))
    for capability, value in (scope.get("models", {}) or {}).items():
        if capability not in MODEL_KEYS:
            raise ConfigError(
                f"{_where(path, capability)}: unknown key '{capability}' in models; known: a capability ({', '.join(CAPABILITIES)}), "
                f"a protocol ({', '.join(PROTOCOLS)}) or both (e.g. anthropic_vision)"
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{_where(path, capability)}: models.{capability} must be a model name (a non-empty string)")
    if "auth" in scope and scope["auth"] not in AUTH_MODES:
        raise ConfigError(f"{_where(path, 'auth')}: auth must be \"key\" (default: send the key in api_key_env) or \"none\" (a target without authentication)")
    _check_spend_types(scope, path)
    for key, value in (scope.get("timeouts") or {}).items():
        if key not in TIMEOUT_KEYS:
            raise ConfigError(f"{_where(path, key)}: unknown key 'timeouts.{key}'; known: connect, read, total")
        if not _finite(value) or value <= 0:
            raise ConfigError(f"{_where(path, key)}: timeouts.{key} must be a positive, finite number of seconds")


MODEL_KEYS = frozenset(CAPABILITIES) | frozenset(PROTOCOLS) | {f"{p}_{c}" for p in PROTOCOLS for c in CAPABILITIES}

# a setting -> its option in each interface (hints name the option of the interface in use)
OPTIONS = {
    "base_url": ("--base-url", "--target-url"),
    "model": ("--model", "--target-model"),
    "api_key_env": ("--api-key-env", "--target-api-key-env"),
    "no_auth": ("--no-auth", "--target-no-auth"),
    "profile": ("--profile", "--target-profile"),
    "image_url": ("--image-url", "--target-image-url"),
    "header": ("--header", "--target-header"),
    "report_dir": ("--report-dir", "--conformance-report-dir"),
}


def option(setting: str, interface: str = "cli") -> str:
    """The option that sets ``setting`` in an interface (``cli``: ``conformance run``; ``pytest``):
    ``model_vision`` → ``--model-vision`` / ``--target-model-vision``, ``anthropic_model`` →
    ``--anthropic-model`` / ``--target-anthropic-model``."""
    cli, plugin = OPTIONS.get(setting) or (f"--{setting.replace('_', '-')}", f"--target-{setting.replace('_', '-')}")
    return plugin if interface == "pytest" else cli


def model_setting(capability: str | None = None, protocol: str | None = None) -> str:
    """The setting (for :func:`option`) of the model for a capability of a protocol."""
    name = f"{protocol}_model" if protocol else "model"
    return f"{name}_{capability}" if capability else name


CONFIG_NO_AUTH = '(auth = "none" in the config) '


def missing_key_error(target: Target, interface: str = "cli") -> str | None:
    """One line when a real target needs a key and its variable is unset or empty; None otherwise."""
    if target.embedded or target.auth == "none" or target.api_key():
        return None
    name = target.api_key_env
    also = f" (nor {FALLBACK_KEY_ENV})" if name == DEFAULT_KEY_ENV else ""
    state = "empty" if os.environ.get(name) == "" else "not set"
    return (
        f"target {target.name}: the API key variable ${name} is {state}{also}: export {name}=..., "
        f"name another variable with {option('api_key_env', interface)} NAME, or pass {option('no_auth', interface)} "
        f"{CONFIG_NO_AUTH if interface == 'cli' else ''}for a target without authentication"
    )


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
    return [str(p).strip() for p in value if str(p).strip()]


def profile_names(value: str, option: str = "--profile") -> list[str]:
    """The names in one ``--profile`` value; an empty one (``--profile ,``) is an error, not the defaults."""
    names = profile_list(value)
    if not names:
        raise ConfigError(f"{option} {value!r}: no profile name given (e.g. {option} openai; see 'conformance profiles')")
    return names


def limits_from(timeouts: dict[str, Any] | None, max_bytes: int | None, base: Limits | None = None, sizes: dict[str, int] | None = None) -> Limits:
    base = base or Limits()
    timeouts = timeouts or {}
    values: dict[str, Any] = {
        "connect_s": float(timeouts.get("connect", base.connect_s)),
        "read_s": float(timeouts.get("read", base.read_s)),
        "total_s": float(timeouts.get("total", base.total_s)),
        "max_bytes": int(max_bytes or base.max_bytes),
    }
    values.update({SIZE_LIMIT_KEYS[k]: int(v) for k, v in (sizes or {}).items() if k in SIZE_LIMIT_KEYS})
    return replace(base, **values)


def budgets_from(limits: dict[str, Any] | None, overrides: dict[str, int | None]) -> dict[str, int]:
    """The token budgets of a target: the config's [limits], then the command line's."""
    out: dict[str, int] = {}
    chosen = {k: v for k, v in (limits or {}).items() if k in BUDGET_KEYS}
    for key, value in {**chosen, **{k: v for k, v in overrides.items() if v is not None}}.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be a positive integer (tokens)")
        out["default" if key == "max_tokens" else key.removeprefix("max_tokens_")] = value
    return out


def parse_header(text: str, option: str = "--header") -> tuple[str, str]:
    """``'Name: value'`` -> (name, value), both checked. The value is never echoed: it may be a secret."""
    name, sep, value = text.partition(":")
    if not sep:
        raise ConfigError(f"{option}: expected 'Name: value', got text without a ':'")
    return check_header(name.strip(), value.strip(), option)


# a header name is an RFC 9110 token; a value is visible ASCII, spaces and tabs (httpx sends ASCII)
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_header(name: str, value: str, option: str = "--header") -> tuple[str, str]:
    """Refuse a header that cannot be sent as is: an empty name, a name with characters outside a
    token, a value with a line break, a control character or non-ASCII text."""
    if not name:
        raise ConfigError(f"{option}: empty header name; expected 'Name: value'")
    bad = next((c for c in name if c not in _TOKEN_CHARS), None)
    if bad is not None:
        raise ConfigError(
            f"{option}: header name {name!r} contains {bad!r}; a header name is letters, digits and !#$%&'*+-.^_`|~ only"
        )
    if any(c in "\r\n" for c in value):
        raise ConfigError(f"{option}: the value of header {name} contains a line break (CR or LF); a header value must be one line")
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        raise ConfigError(f"{option}: the value of header {name} contains a control character; remove it")
    if not value.isascii():
        raise ConfigError(f"{option}: the value of header {name} contains non-ASCII text; HTTP header values must be ASCII (percent- or base64-encode it)")
    return name, value


def check_writable_dir(path: str | Path, option: str, where: str | None = None) -> Path:
    """Create the folder ``path`` (with its parents) and prove it is writable by writing and
    removing a probe file; one line naming the option (``where`` says where it was set, e.g. a
    config file's line) when that fails."""
    folder = Path(path)
    label, fix = f"{where or option} {path}", f"choose another {option}"
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{label}: is a file, not a folder; {fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in folder.parents if p.exists() and not p.is_dir()), "a parent")
        raise ConfigError(f"{label}: cannot create it: {blocking} is a file; {fix}") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot create it: {exc.strerror or exc}; {fix} or fix its permissions") from None
    probe = folder / f".conformance-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"probe\n")
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise ConfigError(f"{label}: not writable ({exc.strerror or exc}); {fix} or fix its permissions") from None
    return folder


# -- a paid API: budget, pacing, retries, prices -------------------------------------------------
def _finite(value: Any) -> bool:
    """A real number from a config file: an int or float, finite, and not a boolean."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_spend_types(scope: dict[str, Any], path: Path) -> None:
    """The config keys of conformance.budget and conformance.spend, each with one clear line."""
    for key in ("max_requests", "max_output_tokens", "concurrency"):
        if key in scope and (isinstance(scope[key], bool) or not isinstance(scope[key], int) or scope[key] < 1):
            raise ConfigError(f"{_where(path, key)}: {key} must be a positive integer")
    if "rate_limit" in scope:
        value = scope["rate_limit"]
        if not _finite(value) or value <= 0:
            raise ConfigError(f"{_where(path, 'rate_limit')}: rate_limit must be a positive number of requests per second")
    retries = scope.get("retries")
    if retries is not None:
        if not isinstance(retries, dict):
            raise ConfigError(f"{_where(path, 'retries')}: retries must be a table with count (tries after the first) and max_wait (seconds)")
        for key, value in retries.items():
            if key not in RETRY_KEYS:
                raise ConfigError(f"{_where(path, key)}: unknown key 'retries.{key}'; known: count, max_wait")
        count = retries.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 20):
            raise ConfigError(f"{_where(path, 'count')}: retries.count must be an integer from 0 to 20")
        wait = retries.get("max_wait")
        if wait is not None and (not _finite(wait) or wait < 0):
            raise ConfigError(f"{_where(path, 'max_wait')}: retries.max_wait must be a number of seconds >= 0")
    prices = scope.get("prices")
    if prices is not None:
        if not isinstance(prices, dict):
            raise ConfigError(f"{_where(path, 'prices')}: prices must be a table of model = {{input = ..., output = ...}} (per million tokens)")
        for model, price in prices.items():
            if not isinstance(price, dict) or set(price) - {"input", "output"} or not price:
                raise ConfigError(f"{_where(path, 'prices')}: prices.\"{model}\" must be a table with input and output (price per million tokens)")
            for kind, value in price.items():
                if not _finite(value) or value < 0:
                    raise ConfigError(f"{_where(path, 'prices')}: prices.\"{model}\".{kind} must be a number >= 0 (price per million tokens)")


def spend_settings_from(scope: dict[str, Any], overrides: dict[str, Any], base: Limits) -> tuple[SpendLimits, Limits, dict[str, dict[str, float]]]:
    """A target's budget and pacing, its transport limits with the retry policy, and its prices:
    the config's keys, then the command line's ``overrides`` (None = not given)."""
    def pick(key: str) -> Any:
        return overrides.get(key) if overrides.get(key) is not None else scope.get(key)

    spend = SpendLimits(
        max_requests=pick("max_requests"),
        max_output_tokens=pick("max_output_tokens"),
        rate_limit=float(pick("rate_limit")) if pick("rate_limit") is not None else None,
        concurrency=pick("concurrency"),
    )
    retries = scope.get("retries") or {}
    count = overrides.get("retries") if overrides.get("retries") is not None else retries.get("count")
    wait = overrides.get("max_retry_wait") if overrides.get("max_retry_wait") is not None else retries.get("max_wait")
    policy = base.retry
    if count is not None:
        policy = replace(policy, attempts=int(count) + 1)
    if wait is not None:
        policy = replace(policy, max_wait_s=float(wait))
    prices = {str(m): {k: float(v) for k, v in p.items()} for m, p in (scope.get("prices") or {}).items()}
    return spend, replace(base, retry=policy), prices
