"""``conformance profiles`` (list) and ``conformance profiles show NAME`` (rules + coverage)."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from conformance import coverage, profiles
from conformance.errors import EXIT_OK, ConfigError


def register(sub: Any) -> None:
    parser = sub.add_parser("profiles", help="list the target profiles; 'profiles show NAME' prints one with its coverage table")
    parser.set_defaults(handler=command_profiles)
    inner = parser.add_subparsers(dest="profiles_command", parser_class=type(parser), metavar="SUBCOMMAND")
    show = inner.add_parser("show", help="print a profile's rules (with their sources) and its coverage table")
    show.add_argument("name", help="profile name (see 'conformance profiles')")
    show.set_defaults(handler=command_show)


def command_profiles(args: argparse.Namespace) -> int:
    print(f"{'profile':22} {'extends':10} {'protocols':10} {'coverage':22} title")
    for name in profiles.available():
        profile = profiles.load(name)
        table = coverage.load(name)
        extends = profile.chain[1] if len(profile.chain) > 1 else "-"
        cov = f"{len(table.rows)} rows ({len(table.checked)} checked)" if table else "none (upstream base)" if len(profile.chain) == 1 else "none"
        print(f"{name:22} {extends:10} {','.join(profile.protocols):10} {cov:22} {profile.title}")
    return EXIT_OK


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items() if k not in ("source", "note"))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def render_show(name: str) -> str:
    profile = profiles.load(name)
    lines = [f"{profile.name}: {profile.title}", f"extends: {' -> '.join(profile.chain)}", f"protocols: {', '.join(profile.protocols)}",
             f"source: {profile.profile_source()}"]
    documents = profile.layers[name].get("documents")
    if documents:
        lines.append(f"documents: {', '.join(documents)} (../shared/seeds/)")
    notes = profile.notes()
    if notes:
        lines += ["", "Notes (decisions where a document is ambiguous or silent):"]
        for note in notes:
            lines += textwrap.wrap(f"- [{note['profile']}] {note['text']} (source: {note['source']})", width=110, subsequent_indent="  ")
    lines += ["", "Rules (value  [set by profile: source]; a base profile's rule applies where the document is silent):"]
    for path, value in profile.leaves():
        key = ".".join(path)
        origin = profile.origin(*path)
        source = profile.source_of(*path)
        inherited = "" if origin == name else " (inherited: the document is silent)"
        lines.append(f"  {key} = {_value(value)}")
        lines.append(f"      [{origin}{inherited}: {source}]")
    for protocol in profile.protocols:
        removed = profile.layers[name].get(protocol, {}).get("unset", [])
        for dotted in removed:
            lines.append(f"  {protocol}.{dotted}: not documented (removed from {profile.chain[-1]})")
            lines.append(f"      [{name}: {profile.source_of(protocol, 'unset')}]")
    lines += ["", *render_coverage(name)]
    return "\n".join(lines)


def render_coverage(name: str) -> list[str]:
    table = coverage.load(name)
    if table is None:
        return [f"Coverage: profile {name} has no coverage table (specs/coverage/{name}.toml);"
                " the upstream bases are covered through the vendor profiles that extend them."]
    out = [f"Coverage ({table.path.name}): {len(table.rows)} rows, {len(table.checked)} checked, {len(table.reasoned)} not checked (with the reason)"]
    width = min(44, max(len(r["item"]) for r in table.rows))
    out.append(f"  {'item':{width}}  {'kind':14} checked by / not checked because")
    for row in table.rows:
        target = ", ".join(row["cases"]) if row["cases"] else f"NOT CHECKED: {row['reason']}"
        out.append(f"  {row['item'][:width]:{width}}  {row['kind']:14} {target}")
        out.append(f"  {'':{width}}  {'':14} source: {row['source']}")
    return out


def command_show(args: argparse.Namespace) -> int:
    if args.name not in profiles.available():
        raise ConfigError(f"unknown profile {args.name!r}; available: {', '.join(profiles.available())}")
    print(render_show(args.name))
    return EXIT_OK
