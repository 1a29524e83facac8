"""Target profiles: what a documented system promises, as data (``specs/profiles/*.toml``).

A profile may ``extend`` another; tables merge key by key, anything else in the child replaces
the parent's value. The code never branches on a profile's name: behaviour differences between
CrossModel, LLM Gateway and CryptGPT are values read from here, both by the suite (what to
expect) and by the reference server (what to emulate).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import ConfigError
from conformance.schemas import specs_dir


def profiles_dir() -> Path:
    return specs_dir() / "profiles"


def available() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.toml"))


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    protocols: tuple[str, ...]
    data: dict[str, Any] = field(repr=False)
    chain: tuple[str, ...] = ()  # this profile and the ones it extends, nearest first

    def section(self, protocol: str) -> dict[str, Any]:
        return self.data.get(protocol, {})

    def get(self, protocol: str, *keys: str, default: Any = None) -> Any:
        node: Any = self.section(protocol)
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node


def _read(name: str) -> dict[str, Any]:
    path = profiles_dir() / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown profile {name!r}; available: {', '.join(available())}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@functools.lru_cache(maxsize=64)
def load(name: str) -> Profile:
    chain: list[str] = []
    layers: list[dict[str, Any]] = []
    current: str | None = name
    while current:
        if current in chain:
            raise ConfigError(f"profile {name!r}: 'extends' loops through {current!r}")
        chain.append(current)
        raw = _read(current)
        layers.append(raw)
        current = raw.get("extends")
    data: dict[str, Any] = {}
    for layer in reversed(layers):
        data = merge(data, layer)
    return Profile(
        name=name,
        title=data.get("title", name),
        protocols=tuple(data.get("protocols", ())),
        data=data,
        chain=tuple(chain),
    )


def for_protocol(names: list[str], protocol: str) -> Profile | None:
    """The first of the selected profiles that covers a protocol."""
    for name in names:
        profile = load(name)
        if protocol in profile.protocols:
            return profile
    return None
