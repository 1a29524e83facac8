"""``conformance proxy``: the command line of the validating proxy (registered by cli.py)."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from conformance.errors import EXIT_OK, ConfigError


def register(sub: Any) -> None:
    proxy = sub.add_parser("proxy", help="validating proxy: relay an application's traffic to a target and judge every exchange")
    proxy.add_argument("--upstream", required=True, metavar="URL", help="where requests go, e.g. https://api.example.com (a path such as /v1 is kept)")
    proxy.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:8080; port 0 picks a free one)")
    proxy.add_argument("--profile", action="append", metavar="NAME", help="profile(s) to judge against, repeatable or comma separated (default: openai, anthropic)")
    proxy.add_argument("--strictness", choices=["compatible", "strict"], default="compatible", help="compatible (default): what SDKs need; strict: everything the spec says")
    proxy.add_argument("--report-dir", default="reports", metavar="DIR", help="where reports are written (default: reports)")
    proxy.add_argument("--disable-check", action="append", default=[], metavar="CHECK", help="switch a check off by name (see 'conformance checks')")
    proxy.add_argument("--max-body-bytes", type=int, default=32 * 1024 * 1024, metavar="N", help="largest request body forwarded; larger ones get 413 (default 32 MiB)")
    proxy.add_argument("--write-every", type=int, default=10, metavar="N", help="rewrite results.json every N exchanges (default 10), and every 2 seconds while some are unwritten")
    proxy.set_defaults(handler=command_proxy)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen '{value}': expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port is one clear line (and port 0 is known)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # connections made before uvicorn is up wait in the backlog
        return sock
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--listen {host}:{port}: cannot listen there ({exc.strerror or exc}); choose another address or port") from None


def settings_from(args: argparse.Namespace) -> "Any":
    from conformance.checks import load_all
    from conformance.proxy.server import ProxySettings
    from conformance.target import check_base_url, check_profiles, profile_list

    upstream = check_base_url(args.upstream, "--upstream")
    parts = urlsplit(upstream)
    if parts.username or parts.password:
        raise ConfigError("--upstream: put no credentials in the URL; the proxy forwards the ones your client sends")
    if parts.query or parts.fragment:
        raise ConfigError(f"--upstream '{args.upstream}': expected a base URL without query or fragment, e.g. https://api.example.com/v1")
    host, port = parse_listen(args.listen)
    profiles = [p for value in (args.profile or []) for p in profile_list(value)] or ["openai", "anthropic"]
    check_profiles(profiles)
    known = load_all()
    for name in args.disable_check:
        if name not in known:
            raise ConfigError(f"unknown check '{name}' (see 'conformance checks')")
    if args.max_body_bytes <= 0:
        raise ConfigError("--max-body-bytes must be a positive number of bytes")
    if args.write_every <= 0:
        raise ConfigError("--write-every must be a positive number of exchanges")
    return ProxySettings(
        upstream=upstream, host=host, port=port, profiles=tuple(profiles), strictness=args.strictness,
        disabled=frozenset(args.disable_check), report_dir=args.report_dir, max_body_bytes=args.max_body_bytes,
        write_every=args.write_every,
    )


def command_proxy(args: argparse.Namespace) -> int:
    from conformance.proxy.server import LiveLine, ProxyServer

    settings = settings_from(args)
    sock = bind(settings.host, settings.port)
    live = LiveLine()
    server = ProxyServer(settings, live=live)
    server.port = sock.getsockname()[1]
    loopback = settings.host in ("127.0.0.1", "localhost", "::1")
    print(f"conformance proxy: {server.url} -> {settings.upstream}; judging with {', '.join(settings.profiles)} ({settings.strictness}); reports in {settings.report_dir}/")
    print(f"point your client at it, e.g. OPENAI_BASE_URL={server.url}/v1 or ANTHROPIC_BASE_URL={server.url}; stop with Ctrl-C")
    if not loopback:
        print(f"note: listening on {settings.host}, not only on this machine: anyone who can reach it can use the upstream with their own credentials")
    sys.stdout.flush()
    written = server.run(sock)
    live.final(server.judging.summary_line())
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK
