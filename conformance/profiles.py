"""Target profiles: what a documented system promises, as data (``specs/profiles/*.toml``).

Each file is validated against ``specs/schemas/profile.schema.json`` before use; a typo is one
line naming the file, the key and its line (``crossmodel-openai.toml:42: unknown key
'openai.params.n.mx' (did you mean 'max'?)``).

A profile may ``extend`` another; tables merge key by key, anything else in the child replaces
the parent's value, and a section's ``unset`` list removes inherited keys the child's document
does not have (CryptGPT documents no ``reasoning_effort``). Every value remembers which profile
set it (:meth:`Profile.origin`) and where its rule comes from (:meth:`Profile.source_of`): a
``source`` key in its table, a ``<key>_source`` sibling, or the defining profile's ``source``.

The code never branches on a profile's name: behaviour differences between CrossModel, LLM
Gateway and CryptGPT are values read from here, both by the suite (what to expect) and by the
reference server (what to emulate).
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from conformance.errors import ConfigError
from conformance.schemas import specs_dir

PROTOCOLS = ("openai", "anthropic")


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
    origins: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False, compare=False)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def section(self, protocol: str) -> dict[str, Any]:
        return self.data.get(protocol, {})

    def get(self, protocol: str, *keys: str, default: Any = None) -> Any:
        node: Any = self.section(protocol)
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def origin(self, protocol: str, *keys: str) -> str:
        """The profile (of the chain) that set this value."""
        path = (protocol, *keys)
        while path:
            if path in self.origins:
                return self.origins[path]
            path = path[:-1]
        return self.name

    def profile_source(self, name: str | None = None) -> str:
        layer = self.layers.get(name or self.name, {})
        return layer.get("source") or name or self.name

    def source_of(self, protocol: str, *keys: str) -> str:
        """Document and section of the rule at ``keys``: nearest ``source`` or ``<key>_source``."""
        for depth in range(len(keys), -1, -1):
            node = self.get(protocol, *keys[:depth], default=None)
            if depth < len(keys):
                parent = self.get(protocol, *keys[:depth], default={})
                sibling = parent.get(f"{keys[depth]}_source") if isinstance(parent, dict) else None
                if sibling:
                    return sibling
            if isinstance(node, dict) and isinstance(node.get("source"), str) and depth > 0:
                return node["source"]
        return self.profile_source(self.origin(protocol, *keys))

    def notes(self) -> list[dict[str, str]]:
        """Decisions taken where a document is ambiguous, from the whole chain (base first)."""
        out: list[dict[str, str]] = []
        for name in reversed(self.chain):
            layer = self.layers.get(name, {})
            out += [{**n, "profile": name} for n in layer.get("notes", [])]
            for protocol in PROTOCOLS:
                out += [{**n, "profile": name} for n in layer.get(protocol, {}).get("notes", [])]
        return out

    def leaves(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        """Every rule of the merged profile as (key path, value), sources and notes left out."""
        def walk(prefix: tuple[str, ...], node: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
            if isinstance(node, dict) and node and not _is_rule_table(prefix):
                for key, value in node.items():
                    if key == "source" or key.endswith("_source") or key in ("notes", "unset"):
                        continue
                    yield from walk(prefix + (key,), value)
            else:
                yield prefix, node

        for protocol in self.protocols:
            yield from walk((protocol,), self.section(protocol))


def _is_rule_table(path: tuple[str, ...]) -> bool:
    """Tables shown as one rule (an error row, a parameter, an extension field, routing)."""
    return (len(path) == 3 and path[1] in ("errors", "params", "extensions")) or (len(path) == 2 and path[1] in ("routing", "emulation", "content_blocks"))


# -- reading and validating one file ------------------------------------------------------------------
def profile_path(name: str) -> Path:
    return profiles_dir() / f"{name}.toml"


def _read(name: str) -> dict[str, Any]:
    path = profile_path(name)
    if not path.is_file():
        raise ConfigError(f"unknown profile {name!r}; available: {', '.join(available())}")
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    validate(data, path, text)
    if data.get("name") != name:
        raise ConfigError(f"{path}:{key_line(text, ('name',)) or 1}: name is {data.get('name')!r}, expected {name!r} (the file name)")
    return data


@functools.lru_cache(maxsize=4)
def _schema(name: str) -> dict[str, Any]:
    return json.loads((specs_dir() / "schemas" / name).read_text())


def validate(data: dict[str, Any], path: Path, text: str | None = None, schema: str = "profile.schema.json") -> None:
    """Raise ConfigError ``file:line: what is wrong`` for the first schema violation."""
    from jsonschema import Draft202012Validator, FormatChecker

    text = text if text is not None else path.read_text()
    validator = Draft202012Validator(_schema(schema), format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    if not errors:
        return
    raise ConfigError(describe_error(errors[0], path, text))


def describe_error(error: Any, path: Path, text: str) -> str:
    """One line naming file, line and key for a jsonschema error (unknown keys get a suggestion)."""
    from jsonschema.exceptions import best_match

    if error.context:
        error = best_match(error.context)
    keys = tuple(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = [k for k in error.instance if k not in allowed and not any(p.search(k) for p in patterns)]
        if extra:
            key = extra[0]
            hint = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else (f"; known keys: {', '.join(sorted(allowed))}" if allowed else "")
            dotted = ".".join(keys + (key,))
            return f"{path}:{key_line(text, keys + (key,)) or 1}: unknown key '{dotted}'{suggestion}"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        where = ".".join(keys) or "(top level)"
        return f"{path}:{key_line(text, keys) or 1}: {where}: missing required key '{missing[0] if missing else '?'}'"
    dotted = ".".join(keys) or "(top level)"
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{path}:{key_line(text, keys) or 1}: {dotted}: {message}"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+", text)
    return tuple(p.strip("\"'") for p in parts)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line (1-based) of each table header and key of a TOML document, by key path.

    Arrays of tables get their index in the path (``row.3.item``), like jsonschema's paths.
    Multi-line values are skipped by ignoring lines inside brackets opened on earlier lines.
    """
    lines: dict[tuple[str, ...], int] = {}
    prefix: tuple[str, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = _strip_comment(line)
        if depth == 0:
            header = _HEADER.match(stripped)
            if header:
                name = _split_key(header.group(2))
                if header.group(1) == "[[":
                    counts[name] = counts.get(name, -1) + 1
                    prefix = name + (str(counts[name]),)
                else:
                    prefix = _with_indexes(name, counts)
                lines.setdefault(prefix, number)
                continue
            key = _KEY.match(stripped)
            if key:
                lines.setdefault(prefix + _split_key(key.group(1)), number)
        depth += stripped.count("[") + stripped.count("{") - stripped.count("]") - stripped.count("}")
        depth = max(depth, 0)
    return lines


def _with_indexes(name: tuple[str, ...], counts: dict[tuple[str, ...], int]) -> tuple[str, ...]:
    out: tuple[str, ...] = ()
    for part in name:
        out += (part,)
        if out in counts:
            out += (str(counts[out]),)
    return out


def _strip_comment(line: str) -> str:
    out, quote = [], None
    for char in line:
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        out.append(char)
    text = "".join(out)
    # brackets inside strings must not count towards depth
    return re.sub(r"\"[^\"]*\"|'[^']*'", '""', text)


def key_line(text: str, keys: tuple[str, ...]) -> int | None:
    """The line of the deepest existing prefix of ``keys``."""
    lines = key_lines(text)
    for depth in range(len(keys), 0, -1):
        if keys[:depth] in lines:
            return lines[keys[:depth]]
    return None


# -- merging -----------------------------------------------------------------------------------------
def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _origins(layer: dict[str, Any], name: str, prefix: tuple[str, ...], out: dict[tuple[str, ...], str]) -> None:
    for key, value in layer.items():
        path = prefix + (key,)
        out[path] = name
        if isinstance(value, dict):
            _origins(value, name, path, out)


def _unset(section: dict[str, Any], dotted: str) -> None:
    keys = dotted.split(".")
    node = section
    for key in keys[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    node.pop(keys[-1], None)


@functools.lru_cache(maxsize=64)
def load(name: str) -> Profile:
    chain: list[str] = []
    layers: dict[str, dict[str, Any]] = {}
    current: str | None = name
    while current:
        if current in chain:
            raise ConfigError(f"profile {name!r}: 'extends' loops through {current!r}")
        chain.append(current)
        raw = _read(current)
        layers[current] = raw
        current = raw.get("extends")
    data: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for layer_name in reversed(chain):
        layer = copy.deepcopy(layers[layer_name])
        data = merge(data, layer)
        _origins(layer, layer_name, (), origins)
        for protocol in PROTOCOLS:
            section = data.get(protocol)
            for dotted in layer.get(protocol, {}).get("unset", []):
                if isinstance(section, dict):
                    _unset(section, dotted)
                    origins[(protocol, *dotted.split("."))] = layer_name
    return Profile(
        name=name,
        title=data.get("title", name),
        protocols=tuple(data.get("protocols", ())),
        data=data,
        chain=tuple(chain),
        origins=origins,
        layers=layers,
    )


def load_all() -> list[Profile]:
    return [load(name) for name in available()]


def for_protocol(names: list[str], protocol: str) -> Profile | None:
    """The first of the selected profiles that covers a protocol."""
    for name in names:
        profile = load(name)
        if protocol in profile.protocols:
            return profile
    return None
