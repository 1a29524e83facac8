"""The one schema registry: every JSON Schema under ``specs/schemas/``, compiled once per run.

Schemas are addressed by their path below ``specs/schemas`` without the extension, e.g.
``openai/strict/chat_response``; the reading (``compatible`` / ``strict``) is chosen by the
caller. References between files resolve inside the registry; nothing is ever fetched.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.errors import ConfigError
from conformance.findings import Strictness

SCHEMA_BASE = "https://conformance.local/schemas/"


def specs_dir() -> Path:
    """The ``specs/`` folder: shipped inside the wheel as ``_specs``, or the checkout's own."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_specs", here.parent / "specs"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the specs/ folder is missing from this installation; reinstall conformance")


@dataclass(frozen=True)
class SchemaError_:
    pointer: str  # JSON pointer into the instance
    message: str
    rule: str  # pointer into the schema, for the report
    source: str | None  # the x-source annotation nearest to the failing rule
    cls: str | None = None  # the x-class annotation nearest to the failing rule


class SchemaRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        resources = []
        self._schemas: dict[str, dict[str, Any]] = {}
        for path in sorted(root.rglob("*.json")):
            name = path.relative_to(root).with_suffix("").as_posix()
            try:
                schema = json.loads(path.read_text())
            except ValueError as exc:
                raise ConfigError(f"{path}: not valid JSON: {exc}") from None
            self._schemas[name] = schema
            uri = schema.get("$id") or SCHEMA_BASE + path.relative_to(root).as_posix()
            resources.append((uri, Resource.from_contents(schema, default_specification=DRAFT202012)))
        self._registry = Registry().with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {}

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, name: str) -> dict[str, Any]:
        try:
            return self._schemas[name]
        except KeyError:
            raise ConfigError(f"no schema named {name!r} under {self.root}") from None

    def validator(self, name: str) -> Draft202012Validator:
        if name not in self._validators:
            schema = self.schema(name)
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise ConfigError(f"{self.root / name}.json: invalid JSON Schema: {exc.message}") from None
            self._validators[name] = Draft202012Validator(schema, registry=self._registry)
        return self._validators[name]

    def resolve_name(self, protocol: str, name: str, strictness: Strictness) -> str:
        return f"{protocol}/{strictness.value}/{name}"

    def errors(self, name: str, instance: Any) -> Iterator[SchemaError_]:
        """Every violation, deepest first within each branch, as instance pointers."""
        validator = self.validator(name)
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            for leaf in _leaves(error):
                yield SchemaError_(
                    pointer=_pointer(leaf.absolute_path),
                    message=_message(leaf),
                    rule="/" + "/".join(str(p) for p in leaf.absolute_schema_path),
                    source=_nearest(self._schemas[name], leaf, "x-source"),
                    cls=_nearest(self._schemas[name], leaf, "x-class"),
                )


def _leaves(error):
    """For oneOf/anyOf failures, the most relevant sub-error instead of a generic message."""
    yield best_match([error]) if error.context else error


def _pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _message(error) -> str:
    """``/path: keyword: reason``: where and which keyword first, then the reason, with the
    instance abbreviated (a whole object in the message would push the reason out of sight)."""
    where = _pointer(error.absolute_path) or "(root)"
    message = error.message
    shown = repr(error.instance)
    if len(shown) > MAX_INSTANCE and shown in message:
        message = message.replace(shown, _abbreviate(error.instance), 1)
    if len(message) > MAX_MESSAGE:  # cut in the middle: the end holds the reason
        message = message[: MAX_MESSAGE // 2 - 2] + " … " + message[-(MAX_MESSAGE // 2 - 1):]
    return f"{where}: {error.validator}: {message}"


MAX_INSTANCE = 60
MAX_MESSAGE = 300


def _abbreviate(instance) -> str:
    """A short stand-in for a large instance: its type and first keys or items."""
    if isinstance(instance, dict):
        keys = ", ".join(repr(k) for k in list(instance)[:4])
        return f"{{{keys}{', …' if len(instance) > 4 else ''}}} (an object)"
    if isinstance(instance, list):
        return f"[… {len(instance)} items] (an array)"
    return repr(instance)[:MAX_INSTANCE - 1] + "…"


def _nearest(schema: dict[str, Any], error, keyword: str) -> str | None:
    """The annotation (x-source, x-class) nearest to the failing rule, walking its schema path."""
    node: Any = schema
    found = schema.get(keyword) if isinstance(schema, dict) else None
    for part in error.absolute_schema_path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and keyword in node:
            found = node[keyword]
    return found


@functools.lru_cache(maxsize=4)
def registry(root: str | None = None) -> SchemaRegistry:
    """The registry for this process, compiled once."""
    return SchemaRegistry(Path(root) if root else specs_dir() / "schemas")
