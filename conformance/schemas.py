"""The one schema registry: every JSON Schema under ``specs/schemas/``, compiled once per run.

Schemas are addressed by their path below ``specs/schemas`` without the extension, e.g.
``openai/strict/chat_response``; the reading (``compatible`` / ``strict``) is chosen by the
caller. References between files resolve inside the registry; nothing is ever fetched.

Validation results of valid instances are memoised by *shape*: the instance with the values of
free-text properties (``content``, ``text``, ``arguments``, …) abstracted, so the 10,000th chunk of
a stream that differs from the first only in its text is not validated again. A property name is
abstracted only when the registry proves its value can never change a verdict: no schema anywhere
constrains a string under that name beyond its type (no enum, const, pattern, length or format,
also through $ref, anyOf, oneOf and allOf). Instances with errors are always validated in full. :meth:`SchemaRegistry.known_valid` answers
the same question faster for the chunks of a stream (the stream checks ask it first).
"""

from __future__ import annotations

import functools
import json
import marshal
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
        self._uris: dict[str, str] = {}
        for path in sorted(root.rglob("*.json")):
            name = path.relative_to(root).with_suffix("").as_posix()
            try:
                schema = json.loads(path.read_text())
            except ValueError as exc:
                raise ConfigError(f"{path}: not valid JSON: {exc}") from None
            self._schemas[name] = schema
            uri = schema.get("$id") or SCHEMA_BASE + path.relative_to(root).as_posix()
            self._uris[name] = uri
            resources.append((uri, Resource.from_contents(schema, default_specification=DRAFT202012)))
        self._registry = Registry().with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {}
        self._free_text: dict[str, frozenset[str]] = {}
        self._valid_shapes: set[tuple[str, Any]] = set()
        self._templates: dict[str, Any] = {}  # per schema: the last known valid instance as a _template
        self._plans: dict[str, dict[Any, Any]] = {}  # per schema: where the last known instance had free text
        self._valid_quick: set[tuple[str, bytes | None]] = set()  # (name, _quick_key) of valid instances

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

    def known_valid(self, name: str, instance: Any) -> bool:
        """True when an instance of the same shape already validated against ``name``: then this
        one is valid too (:meth:`errors` would yield nothing). A cheap test before it, for the
        chunks of a stream, which repeat a few structures:

        1. equal (``==``, in C) to a :func:`_template` of the last instance found valid;
        2. else masked (:func:`_masked`) where the last instance whose shape was computed had its
           free text, serialised by ``marshal`` (in C, types kept: 1, 1.0 and True differ) and
           looked up among the valid ones (streams whose chunks alternate, e.g. choice 0 and 1);
        3. else its :func:`_shape` looked up, as :meth:`errors` does.
        Each says "same shape" only for instances that differ from a valid one at most in the text
        of free-text places (and, for 1, in key order, which validation does not see)."""
        free_text = self._free_text.get(name)
        if free_text is None:
            return False
        template = self._templates.get(name)
        try:
            if template is not None and instance == template:
                return True
        except RecursionError:
            pass
        plan = self._plans.get(name)
        if plan is not None and (name, _quick_key(instance, plan)) in self._valid_quick:
            self._templates[name] = _template(instance, free_text)
            return True
        try:
            if (name, _shape(instance, free_text)) not in self._valid_shapes:
                return False
            plan = _plan(instance, free_text)
            self._templates[name] = _template(instance, free_text)
        except (RecursionError, TypeError):
            return False
        quick = _quick_key(instance, plan)
        if quick is not None:
            self._plans[name] = plan
            if len(self._valid_quick) >= MAX_SHAPES:
                self._valid_quick.clear()
            self._valid_quick.add((name, quick))
        return True

    def errors(self, name: str, instance: Any) -> Iterator[SchemaError_]:
        """Every violation, deepest first within each branch, as instance pointers."""
        validator = self.validator(name)
        if name not in self._free_text:
            resolver = self._registry.resolver(base_uri=self._uris[name])
            self._free_text[name] = frozenset(FREE_TEXT_CANDIDATES - _constrained_names(self._schemas[name], resolver))
        try:
            key = (name, _shape(instance, self._free_text[name]))
        except (RecursionError, TypeError):
            key = None
        if key is not None and key in self._valid_shapes:
            return
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if not errors and key is not None:
            if len(self._valid_shapes) >= MAX_SHAPES:
                self._valid_shapes.clear()
            self._valid_shapes.add(key)
        for error in errors:
            for leaf in _leaves(error):
                yield SchemaError_(
                    pointer=_pointer(leaf.absolute_path),
                    message=_message(leaf),
                    rule="/" + "/".join(str(p) for p in leaf.absolute_schema_path),
                    source=_nearest(self._schemas[name], leaf, "x-source"),
                    cls=_nearest(self._schemas[name], leaf, "x-class"),
                )


# -- memoising valid shapes -----------------------------------------------------------------------
FREE_TEXT_CANDIDATES = frozenset(
    {"content", "text", "arguments", "partial_json", "thinking", "signature", "refusal", "reasoning",
     "reasoning_content", "id", "model", "system_fingerprint", "name", "input_json", "citations"}
)
MAX_SHAPES = 4096
STRING_DEPENDENT = frozenset(
    {"enum", "const", "pattern", "minLength", "maxLength", "format", "contentEncoding", "contentMediaType",
     "contentSchema", "not", "if", "then", "else", "dependentSchemas", "dependentRequired"}
)
_TEXT = ("str",)  # the shape of an abstracted free-text string


def _shape(value: Any, free_text: frozenset[str]) -> Any:
    """A hashable picture of ``value`` keeping everything validation can see, except the text of
    free-text properties (types are kept: 1, 1.0 and True are different shapes)."""
    kind = type(value)
    if kind is dict:
        return ("{",) + tuple([
            (k, _TEXT if type(v) is str and k in free_text else _shape(v, free_text) if type(v) in _CONTAINERS else (type(v), v))
            for k, v in value.items()
        ])
    if kind is list:
        return ("[",) + tuple([_shape(v, free_text) if type(v) in _CONTAINERS else (type(v), v) for v in value])
    return (kind, value)


_CONTAINERS = (dict, list)
_MASK = ...  # a free-text string in a quick key (no JSON value is Ellipsis)


class _AnyText:
    """Equal to any string (and only to one): a free-text place in a _template."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is str

    __hash__ = None  # type: ignore[assignment]


class _Exact:
    """Equal to a number of the same type and value only (1, 1.0 and True are all equal in Python)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self.value) and other == self.value

    __hash__ = None  # type: ignore[assignment]


_ANY_TEXT = _AnyText()


def _template(value: Any, free_text: frozenset[str]) -> Any:
    """A copy of a valid instance that ``==`` (in C, but for its free-text places and numbers)
    finds equal to exactly the instances of the same shape, key order aside (validation does not
    see key order)."""
    kind = type(value)
    if kind is dict:
        return {k: _ANY_TEXT if type(v) is str and k in free_text else _template(v, free_text) for k, v in value.items()}
    if kind is list:
        return [_template(v, free_text) for v in value]
    if kind is str or value is None:
        return value
    return _Exact(value)  # numbers, booleans, and anything else: only its own type and value


def _plan(value: Any, free_text: frozenset[str]) -> dict[Any, Any]:
    """Where ``value`` holds free-text strings: {key or index: _MASK or the plan inside}."""
    plan: dict[Any, Any] = {}
    items = value.items() if type(value) is dict else enumerate(value) if type(value) is list else ()
    for key, item in items:
        if type(item) is str and type(value) is dict and key in free_text:
            plan[key] = _MASK
        elif type(item) in _CONTAINERS:
            inner = _plan(item, free_text)
            if inner:
                plan[key] = inner
    return plan


def _masked(value: Any, plan: dict[Any, Any]) -> Any:
    """A copy of ``value`` with the strings where ``plan`` says replaced by _MASK (copied along
    those places only); None when ``value`` has no string at one of them."""
    if type(value) is not dict and type(value) is not list:
        return None
    out = value.copy()
    for key, inner in plan.items():
        try:
            item = value[key]
        except (KeyError, IndexError, TypeError):
            return None
        if inner is _MASK:
            if type(item) is not str:
                return None
            out[key] = _MASK
        else:
            item = _masked(item, inner)
            if item is None:
                return None
            out[key] = item
    return out


def _quick_key(value: Any, plan: dict[Any, Any]) -> bytes | None:
    try:
        masked = _masked(value, plan)
        return None if masked is None else marshal.dumps(masked)
    except (ValueError, RecursionError):  # not a JSON value (marshal refuses it), or too deep
        return None


def _constrained_names(schema: dict[str, Any], resolver: Any) -> set[str]:
    """Candidate property names whose string values some part of ``schema`` (or a schema it
    references) constrains beyond their type: those are never abstracted."""
    constrained: set[str] = set()
    visited: set[int] = set()

    def string_dependent(node: Any, resolver: Any, seen: frozenset[int]) -> bool:
        if not isinstance(node, dict) or id(node) in seen:
            return False
        seen = seen | {id(node)}
        if STRING_DEPENDENT & node.keys():
            return True
        if "$ref" in node or "$dynamicRef" in node:
            try:
                resolved = resolver.lookup(node.get("$ref") or node["$dynamicRef"])
            except Exception:  # noqa: BLE001 - an unresolvable reference: assume the worst
                return True
            if string_dependent(resolved.contents, resolved.resolver, seen):
                return True
        return any(string_dependent(branch, resolver, seen) for key in ("anyOf", "oneOf", "allOf") for branch in node.get(key, []) or [])

    def walk(node: Any, resolver: Any) -> None:
        if isinstance(node, list):
            for value in node:
                walk(value, resolver)
            return
        if not isinstance(node, dict) or id(node) in visited:
            return
        visited.add(id(node))
        for name, sub in (node.get("properties") or {}).items():
            if name in FREE_TEXT_CANDIDATES and string_dependent(sub, resolver, frozenset()):
                constrained.add(name)
        for key in ("additionalProperties", "unevaluatedProperties"):
            if string_dependent(node.get(key), resolver, frozenset()):
                constrained.update(FREE_TEXT_CANDIDATES)  # applies to any unlisted name: assume the worst
        for sub in (node.get("patternProperties") or {}).values():
            if string_dependent(sub, resolver, frozenset()):
                constrained.update(FREE_TEXT_CANDIDATES)  # a pattern may match any name: assume it does
        if isinstance(node.get("$ref"), str):
            try:
                resolved = resolver.lookup(node["$ref"])
            except Exception:  # noqa: BLE001
                constrained.update(FREE_TEXT_CANDIDATES)
            else:
                walk(resolved.contents, resolved.resolver)
        for value in node.values():
            walk(value, resolver)

    walk(schema, resolver)
    return constrained


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
