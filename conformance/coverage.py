"""Coverage tables: every row of a profile's source document, checked or reasoned.

``specs/coverage/<profile>.toml`` holds ``[[row]]`` entries (item, kind, source, cases, reason),
validated against ``specs/schemas/coverage.schema.json`` with file:line errors. ``cases`` are
pytest node ids relative to ``conformance/suites/``; ``*`` matches any text (brackets are
literal, so parametrized ids can be written as they are). A row without cases must say why it
is not checked. The generic ``openai`` / ``anthropic`` profiles may have no coverage file.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from conformance import profiles
from conformance.errors import ConfigError
from conformance.schemas import specs_dir

SUITES_DIR = Path(__file__).resolve().parent / "suites"


def coverage_dir() -> Path:
    return specs_dir() / "coverage"


def coverage_path(profile: str) -> Path:
    return coverage_dir() / f"{profile}.toml"


@dataclass(frozen=True)
class Coverage:
    profile: str
    path: Path
    rows: tuple[dict[str, Any], ...]

    @property
    def checked(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("cases")]

    @property
    def reasoned(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r.get("cases")]


@functools.lru_cache(maxsize=32)
def load(profile: str) -> Coverage | None:
    """The coverage table of a profile, validated; None when the profile has none."""
    path = coverage_path(profile)
    if not path.is_file():
        return None
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    profiles.validate(data, path, text, schema="coverage.schema.json")
    if data["profile"] != profile:
        line = profiles.key_line(text, ("profile",)) or 1
        raise ConfigError(f"{path}:{line}: profile is {data['profile']!r}, expected {profile!r} (the file name)")
    if profile not in profiles.available():
        raise ConfigError(f"{path}: no profile named {profile!r} in {profiles.profiles_dir()}")
    rows = tuple({"cases": [], "reason": "", **row} for row in data["row"])
    return Coverage(profile, path, rows)


def available() -> list[str]:
    return sorted(p.stem for p in coverage_dir().glob("*.toml")) if coverage_dir().is_dir() else []


# -- case ids ------------------------------------------------------------------------------------------
def pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def matches(pattern: str, ids: Iterable[str]) -> list[str]:
    regex = pattern_regex(pattern)
    return [i for i in ids if regex.match(i)]


def collected_case_ids() -> list[str]:
    """Every case id of the shipped suites, as ``pytest --collect-only`` lists it."""
    from conformance.runner import _plugin_registered

    cmd = [sys.executable, "-m", "pytest", str(SUITES_DIR), "-c", str(SUITES_DIR / "pytest.ini"), "--rootdir", str(SUITES_DIR),
           "--collect-only", "-q"]
    if not _plugin_registered():
        cmd += ["-p", "conformance.pytest_plugin"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode not in (0, 5):
        raise RuntimeError(f"collecting the suites failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    ids = []
    for line in proc.stdout.splitlines():
        if "::" in line and not line.startswith(" "):
            ids.append(line.strip().split("conformance/suites/", 1)[-1])
    return ids


def dangling(coverage: Coverage, ids: list[str]) -> list[tuple[str, str]]:
    """(item, pattern) for every case pattern of the table that matches no collected case."""
    return [(row["item"], pattern) for row in coverage.rows for pattern in row["cases"] if not matches(pattern, ids)]


# -- results.json ----------------------------------------------------------------------------------------
def for_results(profile_names: Iterable[str], case_ids: list[str]) -> list[dict[str, Any]]:
    """results["coverage"]: one block per selected profile with a coverage table.

    Patterns are expanded to the ids of this run's cases (so the report can link to them); a
    pattern matching no case of the run (deselected with -k) is kept as written.
    """
    blocks = []
    for name in dict.fromkeys(profile_names):
        try:
            table = load(name)
        except ConfigError:
            continue
        if table is None:
            continue
        rows = []
        for row in table.rows:
            expanded: list[str] = []
            for pattern in row["cases"]:
                for case_id in matches(pattern, case_ids) or [pattern]:
                    if case_id not in expanded:
                        expanded.append(case_id)
            rows.append({"item": row["item"], "kind": row["kind"], "source": row["source"], "cases": expanded, "reason": row.get("reason", "")})
        blocks.append({"profile": name, "rows": rows})
    return blocks
