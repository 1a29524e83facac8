"""The preflight: one ``GET /models`` before a run, to stop early, in one line, when the target
cannot be used.

It goes through the one transport with the cases' limits (connect and read timeouts, a total
deadline, the response size cap and whatever else :class:`~conformance.transport.Limits` bounds),
capped further so that the preflight itself takes seconds, and tells three problems apart:

- **unreachable** (exit 3): no connection at all (refused, unknown host, connect timeout);
- **answered but broken** (exit 3): a connection was made, but the answer was a reset, a hang,
  oversized headers, a body beyond the limits or a redirect to another origin;
- **not an LLM API** (exit 4): an HTML page, or a 2xx ``/models`` that is not JSON or not a model
  list (``{"data": [...]}``): most often a ``--base-url`` missing its ``/v1``.

``--force`` runs the suite anyway after the last two (the line is then printed as a warning).
A non-2xx JSON or plain-text answer (401 without a key, a gateway without ``/models``) is fine:
the preflight sends no API key and does not require ``/models`` to exist.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
from urllib.parse import urlsplit

from conformance.errors import NotAnApi, TargetBroken, TargetUnreachable
from conformance.exchange import Exchange
from conformance.target import Target
from conformance.transport import Limits, Transport

# the preflight is one small request: it never waits longer than this, whatever the cases allow
MAX_CONNECT_S = 10.0
MAX_READ_S = 10.0
MAX_TOTAL_S = 20.0

HTML_MEDIA = ("text/html", "application/xhtml+xml")


def preflight_limits(limits: Limits) -> Limits:
    """The cases' limits, with the timeouts capped for one small request (other limits kept)."""
    return dataclasses.replace(
        limits,
        connect_s=min(limits.connect_s, MAX_CONNECT_S),
        read_s=min(limits.read_s, MAX_READ_S),
        total_s=min(limits.total_s, MAX_TOTAL_S),
    )


def check_target(target: Target, force: bool = False) -> None:
    """Raise TargetUnreachable, TargetBroken or NotAnApi (one line each) unless the target's
    ``GET /models`` looks like an OpenAI or Anthropic API. With ``force``, the last two print a
    warning instead."""
    limits = preflight_limits(target.limits)
    # identity: a compressed answer is judged by the same rules, but there is no need to ask for one
    headers = {**target.headers, "accept-encoding": "identity"}
    transport = Transport(target.base_url or "", limits=limits, extra_headers=headers)
    try:
        exchange = transport.request("GET", "models")
    finally:
        transport.close()
    try:
        judge_answer(target.base_url or "", exchange, limits)
    except (TargetBroken, NotAnApi) as exc:
        if not force:
            raise
        print(f"conformance: warning: {exc}; running anyway (--force)", file=sys.stderr, flush=True)


def served_models(target: Target) -> tuple[list[str], str]:
    """The model ids the target's ``GET /models`` lists, sent with its key (the first protocol's
    auth scheme), through the one transport with the preflight's limits; and, when the list is
    empty or unreadable, why (one phrase)."""
    from conformance import profiles
    from conformance.redact import Redactor

    key = None if target.auth == "none" else target.api_key()
    scheme, protocol = "bearer", "openai"
    for name in target.profiles:
        profile = profiles.load(name)
        if profile.protocols:
            protocol = profile.protocols[0]
            scheme = (profile.get(protocol, "auth", default=None) or ["x-api-key" if protocol == "anthropic" else "bearer"])[0]
            break
    headers = {**target.headers, "accept-encoding": "identity"}
    if key:
        headers.update({"authorization": f"Bearer {key}"} if scheme == "bearer" else {"x-api-key": key})
    if protocol == "anthropic":
        headers.setdefault("anthropic-version", "2023-06-01")
    transport = Transport(target.base_url or "", limits=preflight_limits(target.limits), redactor=Redactor([key] if key else []), extra_headers=headers)
    try:
        ex = transport.request("GET", "models")
    finally:
        transport.close()
    if ex.status is None or ex.error:
        return [], ex.error or "no answer"
    if not 200 <= ex.status < 300:
        return [], f"it answered {ex.status}"
    data = ex.body.get("data") if isinstance(ex.body, dict) else None
    ids = [str(m["id"]) for m in data or [] if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
    return ids, "" if ids else "an empty list"


def judge_answer(base_url: str, ex: Exchange, limits: Limits) -> None:
    """Classify the preflight's exchange; return quietly when it looks like an LLM API."""
    url = f"{base_url}/models"
    if ex.status is None:  # nothing came back: was there a connection at all?
        reason = _no_connection(base_url, limits.connect_s)
        if reason:
            raise TargetUnreachable(f"{base_url} is unreachable: {reason} (check --base-url)")
        raise TargetBroken(f"{base_url} answered but is broken: GET {url}: {_broken_before_headers(ex, limits)}{_FORCE}")
    if ex.error:
        raise TargetBroken(f"{base_url} answered but is broken: GET {url} answered {ex.status}, then {ex.error}{_FORCE}")
    what = not_an_api(ex)
    if what:
        raise NotAnApi(
            f"{base_url} does not look like an OpenAI or Anthropic API: GET {url} answered {ex.status} with {what} "
            f"(check --base-url: it usually ends in /v1){_FORCE}"
        )


_FORCE = "; --force runs the suite anyway"


def not_an_api(ex: Exchange) -> str | None:
    """What, in the answer to ``GET /models``, says this is not an LLM API; None when it may be one.

    An HTML page never is; a 2xx must be a JSON model list. Other statuses with JSON or plain text
    are accepted: a 401 without a key, a 404 from a gateway without ``/models``."""
    media = ex.content_type.split(";")[0].strip().lower()
    head = ex.text.lstrip()[:256].lower()
    if media in HTML_MEDIA or head.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if not 200 <= ex.status < 300:
        return None
    if not ex.is_json:
        if not ex.text.strip():
            return "an empty body"
        encoding = ex.headers.get("content-encoding", "").strip().lower()
        encoded = f", content-encoding {encoding}" if encoding not in ("", "identity") else ""
        return f"a body that is not JSON (content-type {media or 'missing'}{encoded})"
    if not isinstance(ex.body, dict) or not isinstance(ex.body.get("data"), list):
        return 'JSON that is not a model list (no "data" array)'
    return None


def _no_connection(base_url: str, connect_s: float) -> str | None:
    """Why a plain TCP connection to the target fails, or None when it succeeds."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=connect_s):
            return None
    except socket.timeout:
        return f"no connection within {connect_s:g}s"
    except socket.gaierror as exc:
        return f"cannot resolve {parts.hostname}: {exc.strerror or exc}"
    except OSError as exc:
        return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _broken_before_headers(ex: Exchange, limits: Limits) -> str:
    """What went wrong between connecting and the response headers, in words."""
    error = ex.error or ""
    if ex.error_kind == "timeout":
        return f"the connection was accepted but no response came within {limits.read_s:g}s (the server hangs)"
    if "Receive buffer too long" in error or ("exceeds" in error and "size" in error):
        return "the response headers are too large (over 100 KB); reading stopped"
    if "reset" in error.lower():
        return "the connection was reset before a response"
    if "disconnected without sending a response" in error:
        return "the server closed the connection without a valid HTTP response"
    if "SSL" in error or "TLS" in error or "certificate" in error:
        return f"the TLS handshake failed ({error.split(': ', 1)[-1]})"
    return error.split(": ", 1)[-1] if error.startswith("could not reach") else error or "no response"


__all__ = ["check_target", "judge_answer", "not_an_api", "preflight_limits", "served_models"]
