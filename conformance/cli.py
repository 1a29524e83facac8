"""The ``conformance`` command: run, serve, checks, faults (and report, profiles, proxy).

Errors of the user's input print one line (``conformance: error: ...``) and exit non-zero;
never a traceback. Exit codes (conformance/errors.py): 0 all good, 1 failures, 2 usage or
configuration error, 3 target unreachable or broken, 4 not an LLM API, 5 report written to a
fallback folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, NoReturn, Sequence

from conformance import __version__
from conformance.errors import EXIT_FAILURES, EXIT_OK, EXIT_REPORT_FALLBACK, EXIT_USAGE, ConfigError, ConformanceError
from conformance.findings import Strictness
from conformance.target import (
    CAPABILITIES,
    DEFAULT_KEY_ENV,
    RUN_CONFIG_ENV,
    RunConfig,
    Target,
    check_base_url,
    check_profiles,
    check_writable_dir,
    find_config_file,
    limits_from,
    line_of,
    parse_header,
    profile_list,
    profile_names,
    validate_table,
)

SUITES_DIR = Path(__file__).resolve().parent / "suites"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds (0, negative, nan and inf refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds (e.g. 30), not {text!r}")
    return value


def workers(text: str) -> str:
    """argparse type for -n: a number of processes >= 1, or auto / logical (pytest-xdist)."""
    if text in ("auto", "logical"):
        return text
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a number of processes >= 1 or 'auto', not {text!r}")
    return str(count)


def build_parser() -> Parser:
    parser = Parser(prog="conformance", description="Conformance checks for OpenAI Chat Completions and Anthropic Messages APIs.")
    parser.add_argument("--version", action="version", version=f"conformance {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    run = sub.add_parser("run", help="run the suite against a target (default: the embedded reference server)")
    run.add_argument("--base-url", help="target base URL, e.g. https://api.example.com/v1 (default: the embedded reference server)")
    run.add_argument("--model", help="model for general cases")
    for capability in CAPABILITIES:
        run.add_argument(f"--model-{capability}", metavar="MODEL", help=f"model for {capability} cases (default: --model)")
    run.add_argument("--api-key-env", metavar="NAME", help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV}, falling back to OPENAI_API_KEY)")
    run.add_argument("--profile", action="append", metavar="NAME", help="profile(s) to check against, repeatable or comma separated (see 'conformance profiles')")
    run.add_argument("--config", metavar="FILE", help="config file (default: ./conformance.toml, or [tool.conformance] in ./pyproject.toml)")
    run.add_argument("--report-dir", metavar="DIR", help="where reports are written (default: reports)")
    run.add_argument("--strictness", choices=[s.value for s in Strictness], help="compatible (default): what SDKs need; strict: everything the spec says")
    run.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra header sent with every request")
    run.add_argument("--image-url", metavar="URL", help="an https image URL the target can fetch, for image-by-URL cases")
    run.add_argument("--disable-check", action="append", default=[], metavar="CHECK", help="switch a check off by name (see 'conformance checks')")
    run.add_argument("--timeout", type=seconds, metavar="SECONDS", help="total time allowed for one exchange (default 120)")
    run.add_argument("--fault", action="append", default=[], metavar="NAME", help="embedded server only: inject a named fault (see 'conformance faults')")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only run cases matching the pytest -k expression")
    run.add_argument("-m", dest="markexpr", metavar="EXPR", help="only run cases matching the pytest -m expression")
    run.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failing case")
    run.add_argument("-n", dest="workers", type=workers, metavar="N", help="run cases in N processes (pytest-xdist), or 'auto'")
    run.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    run.add_argument("-v", "--verbose", action="store_true", help="print one line per case")
    run.add_argument("--alluredir", metavar="DIR", help="also write Allure results to DIR")
    run.add_argument("--baseline", metavar="FILE", help="known deviations (TOML [[known]] entries): only failures outside it fail the run")
    run.add_argument("--force", action="store_true", help="run even when the target's GET /models answers broken or not like an LLM API")

    serve = sub.add_parser("serve", help="run the reference server alone")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--profile", action="append", metavar="NAME", help="emulate these profiles (default: crossmodel-openai, crossmodel-anthropic)")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME", help="inject a named fault into every response")
    serve.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, metavar="NAME", help=f"environment variable holding the key the server accepts (default {DEFAULT_KEY_ENV})")

    selftest = sub.add_parser("selftest", help="prove the rules: run the suite against every named fault of the reference server")
    selftest.add_argument("--fault", action="append", default=[], metavar="NAME", help="only these faults")
    selftest.add_argument("--report-dir", metavar="DIR", help="where mutation.md is written (default: reports)")
    selftest.add_argument("-n", "--workers", type=int, metavar="N", help="run the fault matrix on N pytest-xdist workers")

    _add_check_command(sub)

    sub.add_parser("checks", help="list every named check")
    faults = sub.add_parser("faults", help="list the reference server's named faults")
    faults.add_argument("--coverage", action="store_true", help="print rule × fault: the faults that prove each rule (exit 1 when a rule has none)")
    _add_optional_commands(sub)
    return parser


def _add_check_command(sub: Any) -> None:
    from conformance.capture import FORMATS

    check = sub.add_parser("check", help="judge recorded traffic offline: HAR, raw curl captures, JSONL, or a saved results.json")
    check.add_argument("files", nargs="+", metavar="FILE", help="capture(s) to judge (HAR, curl -i output, JSONL of {request, response}, results.json)")
    check.add_argument("--format", choices=FORMATS, help="read every FILE as this format (default: detected from the content)")
    check.add_argument("--profile", action="append", metavar="NAME", help="profile(s) to judge against (default: a results.json's own, else openai,anthropic)")
    check.add_argument("--strictness", choices=[s.value for s in Strictness], help="compatible (default, or a results.json's own) or strict")
    check.add_argument("--disable-check", action="append", default=[], metavar="CHECK", help="switch a check off by name (see 'conformance checks')")
    check.add_argument("--report-dir", metavar="DIR", help="where reports are written (default: reports)")


def _add_optional_commands(sub: Any) -> None:
    """Commands contributed by other modules (reports, profiles, proxy)."""
    for module_name in ("conformance.report.cli", "conformance.profiles_cli", "conformance.proxy.cli"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ImportError:
            continue
        module.register(sub)


# -- run ---------------------------------------------------------------------------------------------
def resolve_run(args: argparse.Namespace) -> RunConfig:
    found = find_config_file(args.config)
    table: dict[str, Any] = {}
    config_path = None
    if found is not None:
        config_path, raw = found
        table = validate_table(raw or {}, config_path)
    strictness = Strictness(args.strictness or table.get("strictness", "compatible")) if (args.strictness or table.get("strictness", "compatible")) in ("compatible", "strict") else None
    if strictness is None:
        raise ConfigError(f"{config_path}: strictness must be 'compatible' or 'strict'")
    entries = table.get("targets") or [{}]
    targets = []
    for i, entry in enumerate(entries):
        scope = {**{k: v for k, v in table.items() if k != "targets"}, **entry}
        targets.append(_target_from(scope, args, i, len(entries)))
    disabled = list(table.get("disable_checks", [])) + list(args.disable_check)
    _check_check_names(disabled)
    from conformance.report.cli import check_baseline_file

    baseline = check_baseline_file(args.baseline or table.get("baseline"))
    report_dir = args.report_dir or table.get("report_dir", "reports")
    where = "--report-dir" if args.report_dir else f"{config_path}:{line_of(config_path, 'report_dir') or 1}: report_dir" if "report_dir" in table else "--report-dir (default)"
    check_writable_dir(report_dir, "--report-dir", where)  # before any request: a run must be able to leave its results
    if getattr(args, "alluredir", None):
        check_writable_dir(args.alluredir, "--alluredir")
    return RunConfig(targets=targets, strictness=strictness, report_dir=report_dir, disable_checks=disabled, baseline=baseline)


def _target_from(scope: dict[str, Any], args: argparse.Namespace, i: int, count: int) -> Target:
    base_url = args.base_url or scope.get("base_url")
    models = dict(scope.get("models") or {})
    for capability in CAPABILITIES:
        value = getattr(args, f"model_{capability}")
        if value:
            models[capability] = value
    headers = dict(scope.get("headers") or {})
    headers.update(dict(parse_header(h) for h in args.header))
    profiles = [p for value in (args.profile or []) for p in profile_names(value)] or profile_list(scope.get("profile"))
    limits = limits_from(scope.get("timeouts"), scope.get("max_response_bytes"))
    if args.timeout is not None:  # validated by argparse: positive and finite
        limits = limits_from({"total": args.timeout, "read": min(args.timeout, limits.read_s)}, None, limits)
    target = Target(
        name=scope.get("name") or ("embedded" if not base_url else f"target{i + 1}" if count > 1 else "target"),
        base_url=check_base_url(base_url) if base_url else None,
        model=args.model or scope.get("model"),
        models=models,
        api_key_env=args.api_key_env or scope.get("api_key_env") or DEFAULT_KEY_ENV,
        profiles=check_profiles(profiles),
        headers=headers,
        image_url=args.image_url or scope.get("image_url"),
        limits=limits,
    )
    if target.base_url and not target.model and not _model_optional(target):
        raise ConfigError(f"target {target.name}: --model is required with --base-url (or set model in the config file)")
    return target


def _model_optional(target: Target) -> bool:
    from conformance import profiles

    return any(not profiles.load(p).get(proto, "model_required", default=True) for p in target.profiles for proto in profiles.load(p).protocols)


def _check_check_names(names: list[str]) -> None:
    from conformance.checks import load_all

    known = load_all()
    for name in names:
        if name not in known:
            raise ConfigError(f"unknown check '{name}' (see 'conformance checks')")


def preflight(target: Target, force: bool = False) -> None:
    """Stop with one line when the target is unreachable, broken or not an LLM API (see conformance/preflight.py)."""
    from conformance.preflight import check_target

    check_target(target, force=force)


class RunOutcome:
    """A pytest plugin object for the in-process run: what the session wrote, and any problem doing so."""

    def __init__(self) -> None:
        self.written: list[Path] = []
        self.report_problem: str | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        self.written = list(getattr(config, "_conformance_written", []) or [])
        self.report_problem = getattr(config, "_conformance_report_problem", None)


@contextlib.contextmanager
def embedded_server(target: Target, faults: list[str]) -> Iterator[None]:
    """Start the reference server for an embedded target; expose it to the plugin (and workers)."""
    from conformance.pytest_plugin import EMBEDDED_ENV
    from conformance.reference.app import DEFAULT_PROFILES, ServerSettings, new_api_key
    from conformance.reference.faults import FAULTS
    from conformance.reference.server import EmbeddedServer

    for fault in faults:
        if fault not in FAULTS:
            raise ConfigError(f"unknown fault '{fault}' (see 'conformance faults')")
    key = new_api_key()
    settings = ServerSettings(api_keys=frozenset({key}), profiles=tuple(target.profiles or DEFAULT_PROFILES), faults=frozenset(faults))
    with EmbeddedServer(settings) as server:
        previous = os.environ.get(EMBEDDED_ENV)
        os.environ[EMBEDDED_ENV] = f"{server.base_url}|{key}"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(EMBEDDED_ENV, None)
            else:
                os.environ[EMBEDDED_ENV] = previous


def pytest_args(args: argparse.Namespace) -> list[str]:
    out = [str(SUITES_DIR), "-c", str(SUITES_DIR / "pytest.ini"), "--rootdir", str(SUITES_DIR)]
    if not _plugin_registered():
        out += ["-p", "conformance.pytest_plugin"]
    if args.keyword:
        out += ["-k", args.keyword]
    if args.markexpr:
        out += ["-m", args.markexpr]
    if args.exitfirst:
        out.append("-x")
    if args.workers:
        out += ["-n", str(args.workers)]
    if args.alluredir:
        out += ["--alluredir", args.alluredir]
    out += ["-v"] if args.verbose else ["-q"]
    if args.quiet:
        out += ["-q", "--no-header", "-p", "no:warnings"]
    if args.verbose:
        out += ["-o", "console_output_style=count", "-rfE"]
    else:  # a progress line (conformance/progress.py) instead of pytest's dots
        out += ["--conformance-progress", "quiet" if args.quiet else "auto", "-o", "console_output_style=classic", "-rN"]
    return out


def _plugin_registered() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "conformance.pytest_plugin" for ep in entry_points(group="pytest11"))


def command_run(args: argparse.Namespace) -> int:
    import pytest

    run = resolve_run(args)
    if args.fault and not all(t.embedded for t in run.targets):
        raise ConfigError("--fault applies to the embedded reference server only (drop --base-url)")
    for target in run.targets:
        if not target.embedded:
            preflight(target, force=args.force)
    if len(run.targets) > 1:
        from conformance.report.cli import run_many  # several targets: one run each, then the matrix

        return run_many(run, args, pytest_args(args))
    target = run.targets[0]
    outcome = RunOutcome()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        config_file = Path(tmp) / "run.json"
        config_file.write_text(run.to_json())
        os.environ[RUN_CONFIG_ENV] = str(config_file)
        try:
            with embedded_server(target, args.fault) if target.embedded else contextlib.nullcontext():
                code = pytest.main(pytest_args(args), plugins=[outcome])
        finally:
            os.environ.pop(RUN_CONFIG_ENV, None)
    if outcome.report_problem:  # the report dir failed at the end: say where results.json went
        print(f"conformance: error: {outcome.report_problem}", file=sys.stderr)
        return EXIT_REPORT_FALLBACK
    from conformance.report.cli import append_step_summary

    append_step_summary(run.report_dir)
    return exit_code(int(code), args)


def exit_code(code: int, args: argparse.Namespace) -> int:
    if code in (0, 1, 3):
        return code
    if code == 5:
        raise ConfigError(f"no case matched the selection ({' '.join(filter(None, [args.keyword and '-k ' + args.keyword, args.markexpr and '-m ' + args.markexpr]))})")
    return EXIT_USAGE


# -- serve, checks, faults ---------------------------------------------------------------------------
def command_serve(args: argparse.Namespace) -> int:
    from conformance.reference.app import DEFAULT_PROFILES, ServerSettings, model_ids
    from conformance.reference.faults import FAULTS
    from conformance.reference.server import serve_forever

    profiles = [p for value in (args.profile or []) for p in profile_names(value)] or list(DEFAULT_PROFILES)
    check_profiles(profiles)
    for fault in args.fault:
        if fault not in FAULTS:
            raise ConfigError(f"unknown fault '{fault}' (see 'conformance faults')")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number")
    key = os.environ.get(args.api_key_env)
    if not key:
        raise ConfigError(f"set the API key the server should accept in ${args.api_key_env} (e.g. export {args.api_key_env}=sk-local-test)")
    settings = ServerSettings(api_keys=frozenset({key}), profiles=tuple(profiles), faults=frozenset(args.fault))
    print(f"reference server: http://{args.host}:{args.port}/v1 emulating {', '.join(profiles)}; models: {', '.join(model_ids(settings))}")
    print(f"auth: the key in ${args.api_key_env}" + (f"; faults: {', '.join(args.fault)}" if args.fault else ""))
    sys.stdout.flush()
    serve_forever(settings, args.host, args.port)
    return EXIT_OK


def command_checks(args: argparse.Namespace) -> int:
    from conformance.checks import load_all

    for name, info in sorted(load_all().items()):
        cls = f"class {info.cls}" if info.cls else "-"
        print(f"{name:42} {cls:9} {info.title}  [{info.source}]")
    return EXIT_OK


def command_faults(args: argparse.Namespace) -> int:
    from conformance.reference.faults import FAULTS

    if getattr(args, "coverage", False):
        return print_fault_coverage()
    for name, fault in sorted(FAULTS.items()):
        print(f"{name:38} {fault.protocol:9} {fault.description}  -> {', '.join(fault.expect)}")
    return EXIT_OK


def print_fault_coverage() -> int:
    """Each rule and the faults that prove it; the rules without one are listed last."""
    from conformance.reference.faults import NO_FAULT_YET, coverage, exemption, uncovered

    table = coverage()
    width = max(map(len, table))
    for rid, names in table.items():
        proof = ", ".join(names) or (f"(no fault needed: {exemption(rid)})" if exemption(rid) else "NO FAULT YET" if rid in NO_FAULT_YET else "NO FAULT")
        print(f"{rid:{width}}  {proof}")
    missing, gaps = uncovered(), [r for r in NO_FAULT_YET if not table.get(r)]
    proven = sum(1 for names in table.values() if names)
    print(f"{proven} of {len(table)} rules proven by a fault; {len(table) - proven - len(missing) - len(gaps)} need none; {len(gaps)} known gaps; {len(missing)} without a fault")
    for rid in missing:
        print(f"conformance: error: rule {rid} has no fault (add one in conformance/reference/faults_*.py)", file=sys.stderr)
    return 1 if missing else EXIT_OK


def command_check(args: argparse.Namespace) -> int:
    from conformance.capture.check import command_check as run_check

    return run_check(args)


def command_selftest(args: argparse.Namespace) -> int:
    from conformance.selftest import command_selftest as run_selftest

    check_writable_dir(args.report_dir or "reports", "--report-dir", None if args.report_dir else "--report-dir (default)")
    return run_selftest(args)


COMMANDS = {"run": command_run, "serve": command_serve, "checks": command_checks, "faults": command_faults, "selftest": command_selftest, "check": command_check}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        handler = COMMANDS.get(args.command) or getattr(args, "handler", None)
        return handler(args)
    except ConformanceError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
