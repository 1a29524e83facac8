"""The Node clients as referees: openai-node, the Anthropic TypeScript SDK and the AI SDK.

``conformance clients install`` installs pinned versions of the clients with npm into the tool's
cache folder (``$CONFORMANCE_NODE_CACHE``, default ``~/.cache/conformance/node``; never the user's
project). :func:`replay` feeds a recorded exchange's response bytes to each client through the
client's own ``fetch`` option (the shipped ``node/replay.mjs``), so each client's own parser and
accumulator read exactly what the server sent, and compares what each client read with our
reassembly of the reply. One long-lived Node process per Python process serves every replay
(JSON lines on stdin/stdout), so judging a whole run costs one Node start-up.

Without Node or without the cache, every client is "not exercised" with the reason: never a
failure of the run.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from conformance.clients import BREAKS, NOT_EXERCISED, WORKS, ClientOutcome
from conformance.errors import EXIT_FAILURES, ConformanceError

CACHE_ENV = "CONFORMANCE_NODE_CACHE"
NODE_ENV = "CONFORMANCE_NODE"  # the node binary to use (default: node on PATH)
SCRIPT = Path(__file__).resolve().parent / "node" / "replay.mjs"
MIN_NODE_MAJOR = 18

# The pinned clients. The newest majors (openai 7, ai 7) need Node >= 22; these run on Node >= 18.
PINNED: dict[str, str] = {
    "openai": "6.30.1",
    "@anthropic-ai/sdk": "1.14.0",
    "ai": "6.0.325",
    "@ai-sdk/openai-compatible": "2.0.92",
    "@ai-sdk/anthropic": "3.0.140",
}
CLIENTS = {  # client name → the packages it needs, and what it is
    "openai-node": (("openai",), "the official OpenAI TypeScript/JavaScript library"),
    "anthropic-node": (("@anthropic-ai/sdk",), "the official Anthropic TypeScript SDK"),
    "ai-sdk": (("ai", "@ai-sdk/openai-compatible", "@ai-sdk/anthropic"), "the Vercel AI SDK with its OpenAI-compatible and Anthropic providers"),
}
# clients that hand the server's finish/stop reason to the application unchanged (the AI SDK maps it)
RAW_FINISH_REASON = ("openai-node", "anthropic-node")
DIFFERENCE_PREFIX = "the client reads"  # how a difference from our reassembly starts (checks/node_clients.py)
ANSWER_TIMEOUT_S = 90.0  # the script gives each job 20 s per client; this is the backstop


class InstallFailed(ConformanceError):
    """npm could not install the clients (offline, registry unreachable, no npm)."""

    exit_code = EXIT_FAILURES


# -- where things are --------------------------------------------------------------------------------
def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conformance" / "node"


def node_binary() -> str | None:
    return os.environ.get(NODE_ENV) or shutil.which("node")


def _node_version(node: str) -> str | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20, env=_child_env())
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().lstrip("v") or None if out.returncode == 0 else None


def _installed_version(cache: Path, package: str) -> str | None:
    try:
        return json.loads((cache / "node_modules" / package / "package.json").read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        return None


def _child_env() -> dict[str, str]:
    """A small environment for Node and npm: no API keys, no base-URL overrides."""
    keep = ("PATH", "HOME", "TMPDIR", "TMP", "TEMP", "LANG", "LC_ALL", "SYSTEMROOT", "USERPROFILE", "APPDATA",
            "npm_config_registry", "NPM_CONFIG_REGISTRY", "npm_config_cache", "NPM_CONFIG_CACHE",
            "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
    return {k: v for k, v in os.environ.items() if k in keep}


# -- availability --------------------------------------------------------------------------------------
@dataclass
class Status:
    """Whether the Node clients can run here, and why not."""

    node: str | None
    node_version: str | None
    cache: Path
    versions: dict[str, str | None] = field(default_factory=dict)
    reason: str = ""  # why nothing can run ("" when Node and the cache are there)

    @property
    def available(self) -> bool:
        return not self.reason

    def client_reason(self, client: str) -> str:
        """Why this client is not exercised ("" when it can run)."""
        if self.reason:
            return self.reason
        packages, _ = CLIENTS[client]
        missing = [p for p in packages if not self.versions.get(p)]
        return f"{', '.join(missing)} not installed in {self.cache} (run 'conformance clients install')" if missing else ""

    def client_version(self, client: str) -> str:
        packages, _ = CLIENTS[client]
        if client == "ai-sdk":
            return f"{self.versions.get('ai') or '?'}"
        return self.versions.get(packages[0]) or PINNED[packages[0]]


_STATUS: Status | None = None


def status(refresh: bool = False) -> Status:
    """Node and the cache as they are now (cached per process; ``refresh`` re-reads)."""
    global _STATUS
    if _STATUS is not None and not refresh:
        return _STATUS
    cache = cache_dir()
    node = node_binary()
    versions = {p: _installed_version(cache, p) for p in PINNED}
    if node is None:
        result = Status(None, None, cache, versions, "Node.js is not installed (no 'node' on PATH; set $CONFORMANCE_NODE to its path)")
    else:
        version = _node_version(node)
        major = int(version.split(".")[0]) if version and version.split(".")[0].isdigit() else 0
        if version is None:
            result = Status(node, None, cache, versions, f"{node} --version did not answer")
        elif major < MIN_NODE_MAJOR:
            result = Status(node, version, cache, versions, f"Node.js {version} is too old (the clients need {MIN_NODE_MAJOR} or newer)")
        elif not any(versions.values()):
            result = Status(node, version, cache, versions, f"the Node clients are not installed in {cache} (run 'conformance clients install')")
        else:
            result = Status(node, version, cache, versions)
    _STATUS = result
    return result


def install(out: Any = print, cache: Path | None = None) -> dict[str, str | None]:
    """Install the pinned clients with npm into the cache folder; returns the installed versions."""
    cache = cache or cache_dir()
    node = node_binary()
    if node is None:
        raise InstallFailed("Node.js is not installed (no 'node' on PATH); install Node.js 18 or newer first")
    version = _node_version(node)
    if version is None:
        raise InstallFailed(f"{node} does not run (check ${NODE_ENV} or the node on PATH)")
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < MIN_NODE_MAJOR:
        raise InstallFailed(f"Node.js {version} is too old: the clients need {MIN_NODE_MAJOR} or newer")
    npm = shutil.which("npm", path=str(Path(node).parent)) or shutil.which("npm")
    if npm is None:
        raise InstallFailed("npm is not installed (it comes with Node.js); install it first")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        manifest = cache / "package.json"
        manifest.write_text(json.dumps({"name": "conformance-node-clients", "private": True,
                                        "description": "Node clients used by the conformance tool as referees (managed by 'conformance clients install')"}, indent=2) + "\n")
    except OSError as exc:
        raise InstallFailed(f"cannot write the cache folder {cache}: {exc.strerror or exc} (set ${CACHE_ENV} to a writable folder)") from None
    specs = [f"{name}@{version}" for name, version in PINNED.items()]
    out(f"installing {', '.join(specs)} into {cache} ...")
    cmd = [npm, "install", "--no-audit", "--no-fund", "--save-exact", "--no-update-notifier", "--loglevel=error", *specs]
    try:
        proc = subprocess.run(cmd, cwd=cache, capture_output=True, text=True, timeout=900, env=_child_env())
    except subprocess.TimeoutExpired:
        raise InstallFailed("npm install did not finish within 15 minutes (is the npm registry reachable?)") from None
    except OSError as exc:
        raise InstallFailed(f"could not run npm: {exc}") from None
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        detail = next((line for line in lines if "ERR!" in line and ("code" in line or "network" in line or "404" in line)), lines[-1] if lines else "")
        raise InstallFailed(f"npm install failed (exit {proc.returncode}): {detail.strip()[:300]}")
    status(refresh=True)
    return {p: _installed_version(cache, p) for p in PINNED}


# -- what an exchange is, and what we read from it ----------------------------------------------------------
def _protocol(method: str, url: str) -> str | None:
    from conformance.facts import CHAT, MESSAGES, endpoint_of

    return {CHAT: "openai", MESSAGES: "anthropic"}.get(endpoint_of(method, url))


def job_for(exchange: Any) -> dict[str, Any] | None:
    """The replay job for an exchange (an :class:`~conformance.exchange.Exchange` or its
    results.json dict), or None when the Node clients do not apply: not a chat/messages call,
    not a 2xx answer, a transport failure, or no body."""
    if isinstance(exchange, dict):
        from conformance.clients import exchange_from_dict

        exchange = exchange_from_dict(exchange)
        if exchange is None:
            return None
    method, url, request = exchange.method, exchange.url, exchange.request_body
    status_code, headers, error = exchange.status, exchange.headers, exchange.error
    sse = exchange.is_sse
    body = exchange.text or (exchange.raw_sse if sse else (json.dumps(exchange.body) if isinstance(exchange.body, (dict, list)) else exchange.body))
    protocol = _protocol(method or "", url or "")
    if protocol is None or error or not isinstance(status_code, int) or not 200 <= status_code < 300:
        return None
    if not isinstance(request, dict) or not isinstance(body, str) or not body:
        return None
    return {"op": "replay", "protocol": protocol, "stream": request.get("stream") is True or sse, "request": request,
            "status": status_code, "headers": dict(headers), "body": body}


def _args(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def our_reading(exchange: Any) -> dict[str, Any] | None:
    """The reply as we reassemble it: text of the first choice (or all text blocks), tool calls
    (name, parsed arguments) and the finish/stop reason."""
    if isinstance(exchange, dict):  # a results.json exchange: read again the way `conformance check` reads it
        from conformance.clients import exchange_from_dict

        exchange = exchange_from_dict(exchange)
        if exchange is None:
            return None
    protocol = _protocol(exchange.method, exchange.url)
    if protocol == "openai":
        if exchange.is_sse:
            from conformance.checks.openai_stream import choice_entries

            text: str | None = None
            calls: dict[int, dict[str, Any]] = {}
            finish = None
            for _, _, choice in choice_entries(exchange):
                if choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
                if isinstance(delta.get("content"), str):
                    text = (text or "") + delta["content"]
                for call in delta.get("tool_calls") or []:
                    if not isinstance(call, dict):
                        continue
                    slot = calls.setdefault(call.get("index", 0) if isinstance(call.get("index", 0), int) else 0, {"name": "", "arguments": ""})
                    fn = call.get("function") if isinstance(call.get("function"), dict) else {}
                    if fn.get("name"):
                        slot["name"] = fn["name"]
                    if isinstance(fn.get("arguments"), str):  # pieces that are not strings add nothing (as in every accumulator)
                        slot["arguments"] += fn["arguments"]
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            return {"text": text, "tool_calls": [{"name": c["name"], "arguments": _args(c["arguments"])} for _, c in sorted(calls.items())], "finish_reason": finish}
        body = exchange.body if isinstance(exchange.body, dict) else None
        if body is None:
            return None
        choices = body.get("choices") if isinstance(body.get("choices"), list) else []
        first = next((c for c in choices if isinstance(c, dict)), None)
        if first is None:
            return {"text": None, "tool_calls": [], "finish_reason": None}
        message = first.get("message") if isinstance(first.get("message"), dict) else {}
        calls_out = [{"name": (c.get("function") or {}).get("name"), "arguments": _args((c.get("function") or {}).get("arguments"))}
                     for c in message.get("tool_calls") or [] if isinstance(c, dict)]
        return {"text": message.get("content") if isinstance(message.get("content"), str) else None, "tool_calls": calls_out, "finish_reason": first.get("finish_reason")}
    if protocol == "anthropic":
        if exchange.is_sse:
            from conformance.checks.anthropic_stream import reassemble

            message = reassemble(exchange)
        else:
            message = exchange.body if isinstance(exchange.body, dict) else None
        if not isinstance(message, dict):
            return None
        content = [b for b in message.get("content") or [] if isinstance(b, dict)]
        texts = [str(b.get("text", "")) for b in content if b.get("type") == "text"]
        return {"text": "".join(texts) if texts else None,
                "tool_calls": [{"name": b.get("name"), "arguments": b.get("input")} for b in content if b.get("type") == "tool_use"],
                "finish_reason": message.get("stop_reason")}
    return None


def _unparsed(arguments: Any) -> bool:
    """Arguments the server sent as a string that is not JSON (a broken stream of pieces)."""
    return isinstance(arguments, str) and arguments != "" and _args(arguments) is arguments


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def difference(client: str, ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    """How the client's reading differs from ours ("" when it does not)."""
    if ours is None or theirs is None:
        return ""
    if (ours.get("text") or "") != (theirs.get("text") or ""):
        return f"{DIFFERENCE_PREFIX} the text {_short(theirs.get('text') or '')} where the server sent {_short(ours.get('text') or '')}"
    mine = [(c.get("name"), _args(c.get("arguments"))) for c in ours.get("tool_calls") or []]
    their = [(c.get("name"), _args(c.get("arguments"))) for c in theirs.get("tool_calls") or []]
    # equal, or the server's arguments are not JSON at all: what a client makes of those is its own repair
    # (a client that repairs them into an object tolerates them; one that returns another string does not)
    if not (len(mine) == len(their) and all(a[0] == b[0] and (a[1] == b[1] or _unparsed(a[1]) and not isinstance(b[1], str)) for a, b in zip(mine, their))):
        return f"{DIFFERENCE_PREFIX} the tool calls {_short(their)} where the server sent {_short(mine)}"
    if client in RAW_FINISH_REASON and ours.get("finish_reason") != theirs.get("finish_reason"):
        return f"{DIFFERENCE_PREFIX} the finish reason {_short(theirs.get('finish_reason'))} where the server sent {_short(ours.get('finish_reason'))}"
    return ""


def _not_applicable(client: str, job: dict[str, Any]) -> str:
    """Why a client cannot have made this request ("" when it could have)."""
    n = job["request"].get("n")
    if client == "ai-sdk" and isinstance(n, int) and not isinstance(n, bool) and n > 1:
        return "the AI SDK never asks for several choices (n > 1)"
    return ""


# -- the Node process ---------------------------------------------------------------------------------
class NodeReplayer:
    """One long-lived ``node replay.mjs`` process answering JSON-line jobs in order."""

    def __init__(self, node: str, cache: Path) -> None:
        self.node, self.cache = node, cache
        self._proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._next = 0

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._answers = queue.Queue()
        proc = subprocess.Popen([self.node, str(SCRIPT), str(self.cache)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace", bufsize=1, env=_child_env())
        answers = self._answers

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                answers.put(line)
            answers.put(None)

        threading.Thread(target=pump, name="conformance-node-replay", daemon=True).start()
        self._proc = proc
        return proc

    def run(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send every job, then collect every answer (one Node round trip per batch)."""
        wait_s = max([ANSWER_TIMEOUT_S] + [float(j.get("timeout_ms") or 0) / 1000 + 30 for j in jobs])
        with self._lock:
            proc = self._start()
            ids = []
            try:
                assert proc.stdin is not None
                for job in jobs:
                    self._next += 1
                    ids.append(self._next)
                    proc.stdin.write(json.dumps({**job, "id": self._next}) + "\n")
                proc.stdin.flush()
            except (OSError, ValueError) as exc:
                self.close()
                return [{"error": f"the Node process stopped ({exc})"} for _ in jobs]
            answers: dict[int, dict[str, Any]] = {}
            while len(answers) < len(ids):
                try:
                    line = self._answers.get(timeout=wait_s)
                except queue.Empty:
                    self.close()
                    break
                if line is None:
                    self.close()
                    break
                try:
                    answer = json.loads(line)
                except ValueError:
                    continue
                if isinstance(answer, dict) and answer.get("id") in ids:
                    answers[answer["id"]] = answer
            return [answers.get(i) or {"error": "the Node process gave no answer (it stopped or timed out)"} for i in ids]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            proc.kill()


_REPLAYER: NodeReplayer | None = None
_REPLAYER_LOCK = threading.Lock()


def replayer() -> NodeReplayer | None:
    """The process-wide replayer, or None when the Node clients cannot run."""
    global _REPLAYER
    current = status()
    if not current.available:
        return None
    with _REPLAYER_LOCK:
        if _REPLAYER is None:
            _REPLAYER = NodeReplayer(current.node or "node", current.cache)
            atexit.register(_REPLAYER.close)
        return _REPLAYER


def reset() -> None:
    """Forget the cached status and stop the Node process (after the environment changed)."""
    global _STATUS, _REPLAYER
    with _REPLAYER_LOCK:
        if _REPLAYER is not None:
            _REPLAYER.close()
        _REPLAYER = None
    _STATUS = None


def _not_exercised(job: dict[str, Any], reason: str) -> list[ClientOutcome]:
    current = status()
    out = []
    for client in CLIENTS:
        if client == "anthropic-node" and job["protocol"] != "anthropic" or client == "openai-node" and job["protocol"] != "openai":
            continue
        out.append(ClientOutcome(client, current.client_version(client), "replay", NOT_EXERCISED, reason))
    return out


def _outcomes(job: dict[str, Any], answer: dict[str, Any], ours: dict[str, Any] | None) -> list[ClientOutcome]:
    if "outcomes" not in answer:
        return _not_exercised(job, f"the Node replay failed: {answer.get('error', 'no answer')}")
    out = []
    for item in answer["outcomes"]:
        client, version, feature = item.get("client", "?"), item.get("version", "?"), item.get("feature", "?")
        outcome, detail = item.get("outcome", NOT_EXERCISED), str(item.get("detail") or "")
        why_not = _not_applicable(client, job)
        if why_not:
            outcome, detail = NOT_EXERCISED, why_not
        elif outcome == WORKS:
            differs = difference(client, ours, item.get("result"))
            if differs:
                outcome, detail = BREAKS, differs
        out.append(ClientOutcome(client, version, feature, outcome, detail))
    return out


def replay_many(exchanges: Iterable[Any]) -> list[list[ClientOutcome]]:
    """:func:`replay` for many exchanges with one Node round trip."""
    items = list(exchanges)
    jobs = [job_for(x) for x in items]
    todo = [(i, job) for i, job in enumerate(jobs) if job is not None]
    results: list[list[ClientOutcome]] = [[] for _ in items]
    if not todo:
        return results
    current = status()
    worker = replayer()
    if worker is None:
        for i, job in todo:
            results[i] = _not_exercised(job, current.reason)
        return results
    answers = worker.run([job for _, job in todo])
    for (i, job), answer in zip(todo, answers):
        try:
            ours = our_reading(items[i])
        except Exception:  # noqa: BLE001 - a hostile body: compare nothing, keep the client's own outcome
            ours = None
        results[i] = _outcomes(job, answer, ours)
    return results


def replay(exchange: Any) -> list[ClientOutcome]:
    """What each Node client makes of this exchange (``[]`` when they do not apply to it)."""
    return replay_many([exchange])[0]


# -- the client lane: live calls -----------------------------------------------------------------------
LIVE_KINDS = ("plain", "stream", "tools")


def live(protocol: str, kind: str, base_url: str, api_key: str, model: str, headers: dict[str, str] | None = None,
         timeout_s: float = 120.0) -> tuple[list[ClientOutcome], list[Any]]:
    """A live call of each Node client of ``protocol`` to the target (``kind``: plain, stream,
    tools): the outcomes, and the exchanges the clients made (recorded the one way, redacted)."""
    from conformance.exchange import record
    from conformance.redact import Redactor

    current = status()
    worker = replayer()
    if worker is None:
        return [ClientOutcome(c, current.client_version(c), f"live {kind}", NOT_EXERCISED, current.reason) for c in CLIENTS
                if not (c == "anthropic-node" and protocol != "anthropic" or c == "openai-node" and protocol != "openai")], []
    job = {"op": "live", "protocol": protocol, "kind": kind, "base_url": base_url, "api_key": api_key, "model": model, "headers": headers or {},
           "timeout_ms": int(timeout_s * 1000)}
    answer = worker.run([job])[0]
    if "outcomes" not in answer:
        return [ClientOutcome("node", current.node_version or "?", f"live {kind}", NOT_EXERCISED, f"the Node process failed: {_scrub(str(answer.get('error')), api_key)}")], []
    out = [ClientOutcome(item.get("client", "?"), item.get("version", "?"), item.get("feature", "?"), item.get("outcome", NOT_EXERCISED),
                         _scrub(str(item.get("detail") or ""), api_key)) for item in answer["outcomes"]]
    redactor = Redactor([api_key] + [v for v in (headers or {}).values() if len(v) >= 12])
    exchanges = []
    for item in answer.get("exchanges") or []:
        try:
            exchanges.append(record(method=item.get("method", "POST"), url=item.get("url", ""), request_headers=item.get("request_headers") or {},
                                    request_body=item.get("request_body"), status=item.get("status"), headers=[tuple(h) for h in item.get("headers") or []],
                                    body=str(item.get("body") or "").encode(), redactor=redactor))
        except (TypeError, ValueError):
            continue
    return out, exchanges


def _scrub(text: str, secret: str) -> str:
    if secret:
        text = text.replace(secret, "[REDACTED]")
    return re.sub(r"(sk-[A-Za-z0-9_-]{4})[A-Za-z0-9_-]{8,}", r"\1…[REDACTED]", text)
