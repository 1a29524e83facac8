"""The ``conformance`` command: run, serve, checks, faults (and report, profiles, proxy).

Errors of the user's input print one line (``conformance: error: ...``) and exit non-zero;
never a traceback. Exit codes (conformance/errors.py): 0 all good, 1 failures, 2 usage or
configuration error, 3 target unreachable or broken, 4 not an LLM API, 5 report written to a
fallback folder.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, NoReturn, Sequence

from conformance import __version__
from conformance.errors import EXIT_OK, EXIT_USAGE, ConfigError, ConformanceError
from conformance.findings import Strictness
from conformance.reference.tolerances import check_names as check_tolerances
from conformance.target import (
    AUTO_FIRST,
    CAPABILITIES,
    PROTOCOLS,
    DEFAULT_KEY_ENV,
    RunConfig,
    Target,
    check_base_url,
    budgets_from,
    check_profiles,
    check_writable_dir,
    find_config_file,
    limits_from,
    line_of,
    missing_key_error,
    parse_header,
    profile_list,
    profile_names,
    spend_settings_from,
    validate_table,
)



class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def finite_number(text: str, must: str, zero: bool = False) -> float:
    """argparse value as a finite number > 0 (>= 0 with ``zero``); else "must be {must}, not {text!r}"
    (nan and inf refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise argparse.ArgumentTypeError(f"must be {must}, not {text!r}")
    return value


def seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds (0, negative, nan and inf refused)."""
    return finite_number(text, "a positive, finite number of seconds (e.g. 30)")


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
    run.add_argument("--model", help=f"model for general cases of every protocol; '{AUTO_FIRST}': the first model GET /models lists (default: none; "
                     "a target without one stops with the list of models it serves)")
    for capability in CAPABILITIES:
        run.add_argument(f"--model-{capability}", metavar="MODEL", help=f"model for {capability} cases (default: --model)")
    run.add_argument("--max-tokens", type=int, metavar="N", help="token budget of every case (default 256; config: [limits] max_tokens)")
    for capability in CAPABILITIES:
        run.add_argument(f"--max-tokens-{capability}", type=int, metavar="N", help=f"token budget of {capability} cases (config: [limits] max_tokens_{capability})")
    for protocol in PROTOCOLS:
        run.add_argument(f"--{protocol}-model", metavar="MODEL", help=f"model for {protocol} cases (default: --model)")
        for capability in CAPABILITIES:
            run.add_argument(f"--{protocol}-model-{capability}", metavar="MODEL", help=argparse.SUPPRESS)
    run.add_argument("--api-key-env", metavar="NAME", help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV}, falling back to OPENAI_API_KEY)")
    run.add_argument("--no-auth", action="store_true", help="the target has no authentication: send no key; the auth-rejection cases are skipped")
    run.add_argument("--profile", action="append", metavar="NAME", help="profile(s) to check against, repeatable or comma separated (see 'conformance profiles')")
    run.add_argument("--config", metavar="FILE", help="config file (default: ./conformance.toml, or [tool.conformance] in ./pyproject.toml)")
    run.add_argument("--report-dir", metavar="DIR", help="where reports are written (default: reports)")
    run.add_argument("--strictness", choices=[s.value for s in Strictness], help="compatible (default): what SDKs need; strict: everything the spec says")
    run.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra header sent with every request")
    run.add_argument("--image-url", metavar="URL", help="an https image URL the target can fetch, for image-by-URL cases")
    run.add_argument("--disable-check", action="append", default=[], metavar="CHECK", help="switch a check off by name (see 'conformance checks')")
    run.add_argument("--timeout", type=seconds, metavar="SECONDS", help="total time allowed for one exchange (default 120)")
    run.add_argument("--deadline", type=seconds, metavar="SECONDS", help="time allowed for the whole run: cases not finished by then are ERROR (default: none)")
    run.add_argument("--breaker", type=int, metavar="N", help="after N consecutive transport failures of the same kind, the target's remaining cases are ERROR without waiting (default 3; 0: off)")
    run.add_argument("--fault", action="append", default=[], metavar="NAME", help="embedded server only: inject a named fault (see 'conformance faults')")
    run.add_argument("--tolerance", action="append", default=[], metavar="NAME", help="embedded server only: show a named legal variation (see 'conformance tolerances')")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only run cases matching the pytest -k expression")
    run.add_argument("-m", dest="markexpr", metavar="EXPR", help="only run cases matching the pytest -m expression")
    run.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failing case")
    run.add_argument("-n", dest="workers", type=workers, metavar="N", help="run cases in N processes (pytest-xdist), or 'auto'")
    run.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    run.add_argument("-v", "--verbose", action="store_true", help="print one line per case")
    run.add_argument("--alluredir", metavar="DIR", help="also write Allure results to DIR")
    run.add_argument("--baseline", metavar="FILE", help="known deviations (TOML [[known]] entries): only failures outside it fail the run")
    run.add_argument("--force", action="store_true", help="run even when the target's GET /models answers broken or not like an LLM API")
    run.add_argument("--clients", action="append", default=[], metavar="LANE", help="also make live calls through real clients: node (see 'conformance clients')")
    _add_spend_options(run)

    serve = sub.add_parser("serve", help="run the reference server alone")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--profile", action="append", metavar="NAME", help="emulate these profiles (default: crossmodel-openai, crossmodel-anthropic)")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME", help="inject a named fault into every response")
    serve.add_argument("--tolerance", action="append", default=[], metavar="NAME", help="show a named legal variation in every response (combinable; see 'conformance tolerances')")
    serve.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, metavar="NAME", help=f"environment variable holding the key the server accepts (default {DEFAULT_KEY_ENV})")
    serve.add_argument("--latency", type=float, default=0.0, metavar="MS", help="wait MS milliseconds before each /v1 response starts (simulates network and model latency)")
    serve.add_argument("--chunk-delay", type=float, default=0.0, metavar="MS", help="wait MS milliseconds before each further chunk of a body, e.g. between stream events")

    selftest = sub.add_parser("selftest", help="prove the rules: run the suite against every named fault of the reference server")
    selftest.add_argument("--fault", action="append", default=[], metavar="NAME", help="only these faults")
    selftest.add_argument("--report-dir", metavar="DIR", help="where mutation.md is written (default: reports)")
    selftest.add_argument("-n", "--workers", type=int, metavar="N", help="run the fault matrix on N pytest-xdist workers")

    _add_check_command(sub)

    checks = sub.add_parser("checks", help="list every named check; 'checks rules': every rule id; 'checks show RULE': one rule explained")
    checks.add_argument("action", nargs="?", choices=["show", "explain", "rules"], help="show (or explain) RULE: source, severity per strictness, the fault that proves it, an example; rules: every rule id")
    checks.add_argument("rule", nargs="?", metavar="RULE", help="a rule id (e.g. stream_done_terminator) or a check name")
    checks.add_argument("--no-example", action="store_true", help="show: do not run the proving fault for an example exchange")
    checks.add_argument("--evidence", action="store_true", help="replay every reference-server fault through the official SDKs and print fault x SDK outcome x rule x severity")
    checks.add_argument("--fault", action="append", default=[], metavar="NAME", help="with --evidence: only these faults")
    faults = sub.add_parser("faults", help="list the reference server's named faults")
    faults.add_argument("--coverage", action="store_true", help="print rule × fault: the faults that prove each rule (exit 1 when a rule has none)")
    sub.add_parser("tolerances", help="list the reference server's named tolerances (legal variations)")
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
    """Commands contributed by other modules (reports, profiles, proxy, bench, clients)."""
    for module_name in ("conformance.report.cli", "conformance.profiles_cli", "conformance.proxy.cli", "conformance.bench", "conformance.clients.cli", "conformance.plan"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ImportError:
            continue
        module.register(sub)


def bounded_int(minimum: int, maximum: int | None = None):
    """argparse type: an integer from ``minimum`` (to ``maximum``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum or (maximum is not None and value > maximum):
            span = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"must be an integer {span}, not {text!r}")
        return value
    return parse


def rate(text: str) -> float:
    """argparse type: a positive, finite number of requests per second."""
    return finite_number(text, "a positive number of requests per second (e.g. 2 or 0.5)")


def wait_seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    return finite_number(text, "a number of seconds >= 0", zero=True)


def _add_spend_options(parser: argparse.ArgumentParser) -> None:
    """Budget, pacing and retries for a paid, rate-limited API (conformance.budget; config keys of the same names)."""
    group = parser.add_argument_group("a paid API (budget, pacing, retries; see README 'Running against a paid API')")
    group.add_argument("--max-requests", type=bounded_int(1), metavar="N", help="send at most N requests in the run, retries included; cases past it are SKIP (budget)")
    group.add_argument("--max-output-tokens", type=bounded_int(1), metavar="N", help="requests may ask for at most N output tokens in all (their caps, then their actual usage)")
    group.add_argument("--rate-limit", type=rate, metavar="R", help="send at most R requests per second, across every -n worker")
    group.add_argument("--concurrency", type=bounded_int(1), metavar="N", help="at most N requests in flight at once, across every -n worker")
    group.add_argument("--retries", type=bounded_int(0, 20), metavar="N", help="retry a 429/5xx answer up to N times (default 2), honouring Retry-After")
    group.add_argument("--max-retry-wait", type=wait_seconds, metavar="S", help="wait at most S seconds in all between the tries of one request (default 30); then ERROR")


def _spend_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {key: getattr(args, key, None) for key in ("max_requests", "max_output_tokens", "rate_limit", "concurrency", "retries", "max_retry_wait")}


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
    deadline = args.deadline if args.deadline is not None else table.get("deadline")
    if deadline is not None and deadline <= 0:
        raise ConfigError("--deadline must be a positive number of seconds")
    breaker = args.breaker if args.breaker is not None else table.get("breaker", 3)
    if breaker < 0:
        raise ConfigError("--breaker must be 0 (off) or a number of failures")
    report_dir = args.report_dir or table.get("report_dir", "reports")
    where = "--report-dir" if args.report_dir else f"{config_path}:{line_of(config_path, 'report_dir') or 1}: report_dir" if "report_dir" in table else "--report-dir (default)"
    check_writable_dir(report_dir, "--report-dir", where)  # before any request: a run must be able to leave its results
    if getattr(args, "alluredir", None):
        check_writable_dir(args.alluredir, "--alluredir")
    return RunConfig(targets=targets, strictness=strictness, report_dir=report_dir, disable_checks=disabled, baseline=baseline, interface="cli",
                     deadline_s=deadline, breaker=int(breaker))


def _target_from(scope: dict[str, Any], args: argparse.Namespace, i: int, count: int) -> Target:
    base_url = args.base_url or scope.get("base_url")
    models = dict(scope.get("models") or {})
    for capability in CAPABILITIES:
        value = getattr(args, f"model_{capability}")
        if value:
            models[capability] = value
    for protocol in PROTOCOLS:
        if getattr(args, f"{protocol}_model", None):
            models[protocol] = getattr(args, f"{protocol}_model")
        for capability in CAPABILITIES:
            value = getattr(args, f"{protocol}_model_{capability}", None)
            if value:
                models[f"{protocol}_{capability}"] = value
    headers = dict(scope.get("headers") or {})
    headers.update(dict(parse_header(h) for h in args.header))
    profiles = [p for value in (args.profile or []) for p in profile_names(value)] or profile_list(scope.get("profile"))
    limits = limits_from(scope.get("timeouts"), scope.get("max_response_bytes"), sizes=scope.get("limits"))
    budgets = budgets_from(scope.get("limits"), {"max_tokens": args.max_tokens,
                                                 **{f"max_tokens_{c}": getattr(args, f"max_tokens_{c}") for c in CAPABILITIES}})
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
        budgets=budgets,
        auth="none" if getattr(args, "no_auth", False) else scope.get("auth", "key"),
    )
    if target.embedded:  # the embedded server's models come from its profiles: auto-first is what it does anyway
        target.model = None if target.model == AUTO_FIRST else target.model
        target.models = {k: v for k, v in target.models.items() if v != AUTO_FIRST}
    target.spend_limits, target.limits, target.prices = spend_settings_from(scope, _spend_overrides(args), target.limits)
    return target


def _model_optional(target: Target) -> bool:
    from conformance import profiles

    return any(not profiles.load(p).get(proto, "model_required", default=True) for p in target.profiles for proto in profiles.load(p).protocols)


def check_credentials(target: Target) -> None:
    """An unset or empty key variable is one line naming it, before any case runs (embedded: its own key)."""
    problem = missing_key_error(target, "cli")
    if problem:
        raise ConfigError(problem)


def resolve_models(target: Target) -> None:
    """Every protocol in scope needs a model: without one (or with 'auto-first'), ask the target's
    GET /models; stop with one line listing what it serves, or take the first with 'auto-first'."""
    from conformance import profiles
    from conformance.preflight import served_models
    from conformance.target import EXTERNAL_PROFILES, option

    names = target.profiles or EXTERNAL_PROFILES
    protocols = [proto for proto in PROTOCOLS if any(proto in profiles.load(p).protocols for p in names)]
    if _model_optional(target):
        protocols = []
    auto = [key for key, value in [("model", target.model), *target.models.items()] if value == AUTO_FIRST]
    missing = [proto for proto in protocols if not target.model_for(None, proto)]
    if not auto and not missing:
        return
    served, problem = served_models(target)
    if auto and served:
        for key in auto:
            if key == "model":
                target.model = served[0]
            else:
                target.models[key] = served[0]
        print(f"conformance: target {target.name}: using {served[0]}, the first model GET /models lists ({AUTO_FIRST})", file=sys.stderr, flush=True)
        return
    flags = " or ".join([option("model")] + [option(f"{proto}_model") for proto in missing if len(protocols) > 1])
    what = f"no model given for {' and '.join(missing)} cases" if missing else f"{AUTO_FIRST} needs a model list"
    if served:
        shown = ", ".join(served[:12]) + (f" (and {len(served) - 12} more)" if len(served) > 12 else "")
        raise ConfigError(f"target {target.name}: {what}; it serves: {shown} (pass {flags} NAME, or {option('model')} {AUTO_FIRST} to use the first)")
    raise ConfigError(f"target {target.name}: {what}, and GET /models does not list any ({problem}): pass {flags} NAME")


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


def command_run(args: argparse.Namespace) -> int:
    from conformance import runner

    run = resolve_run(args)
    _ask_clients(args.clients)
    if getattr(args, "no_auth", False) and any(t.embedded for t in run.targets):
        raise ConfigError("--no-auth applies to a target (--base-url): the embedded reference server has its own key")
    if run.deadline_s:
        import time

        run.deadline_at = time.time() + run.deadline_s
    if args.fault and not all(t.embedded for t in run.targets):
        raise ConfigError("--fault applies to the embedded reference server only (drop --base-url)")
    if args.tolerance and not all(t.embedded for t in run.targets):
        raise ConfigError("--tolerance applies to the embedded reference server only (drop --base-url)")
    check_tolerances(args.tolerance)
    for target in run.targets:
        if not target.embedded:
            preflight(target, force=args.force)
            check_credentials(target)
            resolve_models(target)
    return runner.run(run, args)


def _ask_clients(values: list[str]) -> None:
    """``--clients node``: collect the client lane's live cases (conformance/suites/clients)."""
    from conformance.clients import CLIENTS_ENV, LANES

    lanes = [part.strip() for value in values for part in value.split(",") if part.strip()]
    for lane in lanes:
        if lane not in LANES:
            raise ConfigError(f"unknown client lane '{lane}' (known: {', '.join(sorted(LANES))})")
    if lanes:
        os.environ[CLIENTS_ENV] = ",".join(lanes)


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
    check_tolerances(args.tolerance)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number")
    for option, value in (("--latency", args.latency), ("--chunk-delay", args.chunk_delay)):
        if not 0 <= value <= 600_000:
            raise ConfigError(f"{option} must be between 0 and 600000 milliseconds, not {value:g}")
    key = os.environ.get(args.api_key_env)
    if not key:
        raise ConfigError(f"set the API key the server should accept in ${args.api_key_env} (e.g. export {args.api_key_env}=sk-local-test)")
    settings = ServerSettings(api_keys=frozenset({key}), profiles=tuple(profiles), faults=frozenset(args.fault), tolerances=frozenset(args.tolerance),
                              latency_ms=args.latency, chunk_delay_ms=args.chunk_delay)
    print(f"reference server: http://{args.host}:{args.port}/v1 emulating {', '.join(profiles)}; models: {', '.join(model_ids(settings))}")
    delays = [f"latency {args.latency:g} ms"] * bool(args.latency) + [f"chunk delay {args.chunk_delay:g} ms"] * bool(args.chunk_delay)
    print(f"auth: the key in ${args.api_key_env}" + (f"; faults: {', '.join(args.fault)}" if args.fault else "")
          + (f"; tolerances: {', '.join(args.tolerance)}" if args.tolerance else "") + (f"; {', '.join(delays)}" if delays else ""))
    sys.stdout.flush()
    serve_forever(settings, args.host, args.port)
    return EXIT_OK


def command_checks(args: argparse.Namespace) -> int:
    """Every check and the rules it enforces, each with its severity per strictness and its evidence;
    ``--evidence``: the table proving those severities (every fault replayed through both SDKs)."""
    from conformance.checks import NOT_EVALUATED, load_all

    action = getattr(args, "action", None)
    if action in ("show", "explain"):
        if not args.rule:
            raise ConfigError(f"checks {action} needs a rule id, e.g. 'conformance checks {action} stream_done_terminator'")
        from conformance.explain import command_show

        return command_show(args.rule, with_example=not args.no_example)
    if action == "rules":
        from conformance.explain import command_rules

        return command_rules()
    if getattr(args, "rule", None):
        raise ConfigError(f"unexpected '{args.rule}' (did you mean 'conformance checks show {args.rule}'?)")

    if getattr(args, "evidence", False):
        from conformance.sdk.evidence import command_evidence

        return command_evidence(args)
    label = {"error": "FAIL", "warning": "WARN", "info": "INFO"}
    for name, info in sorted(load_all().items()):
        cls = f"class {info.cls}" if info.cls else "-"
        print(f"{name:42} {cls:9} {info.title}  [{info.source}]")
        for local, item in sorted(info.rules.items()):
            if local == NOT_EVALUATED:
                continue
            why = (f"breaks {', '.join(item.breaks)}" if item.breaks else "") + ("; " if item.breaks and item.semantic else "") + \
                  (f"not delivered: {item.semantic}" if item.semantic else "")
            why = why or ("tolerated by the SDKs" if item.compatible.value != "error" else "no evidence recorded yet")
            evidence = f" ({item.evidence})" if item.evidence else ""
            print(f"  {item.id:48} compatible {label[item.compatible.value]:4}  strict {label[item.strict.value]:4}  {why}{evidence}")
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


def command_tolerances(args: argparse.Namespace) -> int:
    from conformance.reference.tolerances import TOLERANCES

    for name, item in sorted(TOLERANCES.items()):
        notes = []
        if item.risky:
            notes.append("may WARN: " + ", ".join(item.risky))
        if item.strict_rules:
            notes.append("strict FAIL: " + ", ".join(item.strict_rules))
        if item.conflicts:
            notes.append("not with: " + ", ".join(item.conflicts))
        print(f"{name:30} {item.protocol:9} {item.description}" + (f"  [{'; '.join(notes)}]" if notes else ""))
    return EXIT_OK


def command_check(args: argparse.Namespace) -> int:
    from conformance.capture.check import command_check as run_check

    return run_check(args)


def command_selftest(args: argparse.Namespace) -> int:
    from conformance.selftest import command_selftest as run_selftest

    check_writable_dir(args.report_dir or "reports", "--report-dir", None if args.report_dir else "--report-dir (default)")
    return run_selftest(args)


COMMANDS = {"run": command_run, "serve": command_serve, "checks": command_checks, "faults": command_faults, "tolerances": command_tolerances,
            "selftest": command_selftest, "check": command_check}


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
        from conformance.redact import environment_redactor

        print(f"conformance: error: {environment_redactor().text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # whoever read the output stopped reading (`conformance checks | head -1`): stop quietly, as
        # Unix tools do, and let nothing try to write the rest of it at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
