"""``conformance clients``: which real clients can referee a run, and installing the Node ones.

    conformance clients              list the clients, their versions, and why one cannot run
    conformance clients install      install the pinned Node clients into the tool's cache folder
    conformance clients faults       the fault × client table: which client breaks on which fault
"""

from __future__ import annotations

import argparse
from typing import Any

from conformance.errors import EXIT_OK


def register(sub: Any) -> None:
    parser = sub.add_parser("clients", help="real clients used as referees (Node: openai-node, @anthropic-ai/sdk, the AI SDK); 'install' installs them")
    parser.add_argument("action", nargs="?", choices=("list", "install", "faults"), default="list",
                        help="list (default): what is available and why not; install: npm-install the pinned Node clients into the cache folder; "
                             "faults: replay the reference faults through the clients")
    parser.set_defaults(handler=command_clients)


def command_clients(args: argparse.Namespace) -> int:
    if args.action == "install":
        return _install()
    if args.action == "faults":
        return _faults()
    return _list()


def _list() -> int:
    from conformance.clients import node

    current = node.status(refresh=True)
    where = f"cache {current.cache}" + (f", Node {current.node_version}" if current.node_version else "")
    print(f"Node clients ({where}):")
    for client, (packages, what) in node.CLIENTS.items():
        reason = current.client_reason(client)
        versions = ", ".join(f"{p} {current.versions.get(p) or '-'}" for p in packages)
        state = "not exercised" if not current.available else f"not exercised: {reason}" if reason else "available"
        print(f"  {client:15} {state:14} {versions}  ({what})")
        pinned = [p for p in packages if current.versions.get(p) and current.versions.get(p) != node.PINNED[p]]
        if pinned and not reason:
            print(f"  {'':15} note: installed versions differ from the pins ({', '.join(f'{p} {node.PINNED[p]}' for p in pinned)}); 'conformance clients install' restores them")
    if not current.available:
        print(f"why not: {current.reason}")
    return EXIT_OK


def _install() -> int:
    from conformance.clients import node

    versions = node.install(out=print)
    print("installed: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    current = node.status(refresh=True)
    if not current.available:
        print(f"note: the Node clients still cannot run: {current.reason}")
    return EXIT_OK


def _faults() -> int:
    """Replay the representative requests against the reference server with each fault."""
    from conformance.clients import faults as cf, node
    from conformance.errors import ConfigError
    from conformance.reference.app import ServerSettings, new_api_key
    from conformance.reference.faults import FAULTS
    from conformance.reference.server import EmbeddedServer

    current = node.status(refresh=True)
    if not current.available:
        raise ConfigError(f"the Node clients cannot run: {current.reason}")
    key = new_api_key()
    items = [(None, "openai"), (None, "anthropic")] + [(name, f.protocol) for name, f in sorted(FAULTS.items()) if not f.profiles]
    with EmbeddedServer(ServerSettings(api_keys=frozenset({key}))) as server:
        table = cf.fault_table(server.base_url, key, items, node.replay_many)
    print("| fault | breaks | how |")
    print("|---|---|---|")
    for fault, rows in table.items():
        broken = sorted(cf.breaking(rows))
        first = next((f"{o.client} {o.feature} ({label}): {o.detail.splitlines()[0][:140]}" for label, o in rows if o.outcome == "breaks"), "")
        if not rows:
            verdict = "not exercised: no successful reply to replay"
        else:
            verdict = ", ".join(broken) or f"none: every client works ({len(rows)} replays)"
        print(f"| {fault or '(clean server)'} | {verdict} | {first.replace('|', '/')} |")
    return EXIT_OK
