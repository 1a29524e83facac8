"""The per-case context: what a case uses (the target, its profile, the transport, judge(), checks,
refusals and verdict helpers), and a case's identity (id, protocol, feature, title)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

import pytest

from conformance import profiles
from conformance.budget import BudgetSpent
from conformance.checks import evaluate, info_of
from conformance.errors import CaseStop, TransportFailure
from conformance.exchange import Exchange
from conformance.findings import CaseRecord, Finding, Verdict
from conformance.judge import JudgeContext, applicable, cited, run_check, run_checks, soften_truncated, truncation
from conformance.plugin import SUITES_MARK
from conformance.transport import Transport, pooled_client

if TYPE_CHECKING:
    from conformance.plugin.session import Session


class CaseContext:
    """What a case uses: the target, its profile, the transport, checks and verdict helpers."""

    def __init__(self, session: Session, record: CaseRecord, marker_kwargs: dict[str, Any]) -> None:
        self.session = session
        self.record = record
        self.target = session.target
        self.protocol = record.protocol
        self.strictness = session.strictness
        self.schemas = session.schemas
        self.profile = profiles.for_protocol(self.target.profiles, self.protocol)
        if self.profile is None:
            pytest.skip(f"no selected profile ({', '.join(self.target.profiles)}) covers the {self.protocol} protocol")
        self._exchanges: list[Exchange] = []
        self._judged: set[tuple[str, int]] = set()
        self._judge_context: JudgeContext | None = None
        redactor = session.redactor
        self.redactor = redactor
        self.transport = Transport(
            self.target.base_url or "",
            limits=self.target.limits,
            redactor=redactor,
            extra_headers=self.target.headers,
            on_exchange=self._record_exchange,
            client=pooled_client(self.target.base_url or "", self.target.limits),  # one client per worker: keep-alive, one TLS context
            guard=session.guard,
            gate=getattr(session, "gate", None),  # budget and pacing (conformance.budget)
        )
        capability = marker_kwargs.get("capability")
        self.capability = capability
        self.model = self.model_for(capability) if capability else self.target.model_for(None, self.protocol)
        if getattr(session, "models_from_profiles", False) and self.rule("default_model"):
            # embedded runs without --model: each protocol talks to its profile's default model
            self.model = self.rule("default_model")

    # -- models and profile values -----------------------------------------------------------------
    def model_for(self, capability: str | None) -> str:
        from conformance.target import model_setting

        model = self.target.model_for(capability, self.protocol)
        if not model:
            flags = [self.option(model_setting(capability)), self.option(model_setting(capability, self.protocol))]
            pytest.skip(f"no model configured{' for ' + capability if capability else ''} (use {' or '.join(flags)})")
        return model

    def budget(self) -> int:
        """The token budget of this case (max_tokens / max_completion_tokens): the target's budget
        for the case's capability ([limits] in the config, --max-tokens-<capability>)."""
        return self.target.budget_for(self.capability)

    def truncated(self, exchange: Exchange) -> str | None:
        """How the reply says it was cut by the token limit, or None (see judge.truncation)."""
        return truncation(exchange)
    def option(self, setting: str) -> str:
        """The option that sets ``setting`` in the interface in use: ``--image-url`` under
        ``conformance run``, ``--target-image-url`` under pytest."""
        return self.session.option(setting)

    def require_auth(self) -> None:
        """Skip a case that proves the target rejects bad credentials when it has no authentication."""
        if self.target.auth == "none" and not self.target.embedded:
            pytest.skip(f"the target has no authentication ({self.option('no_auth')} / auth = \"none\"): nothing to reject")

    def rule(self, *keys: str, default: Any = None) -> Any:
        """A value of the profile for this case's protocol."""
        return self.profile.get(self.protocol, *keys, default=default)

    def source(self, *keys: str) -> str:
        """Where the profile's rule for ``keys`` comes from: its table's ``source``, a ``<key>_source``
        sibling, or the source of the profile that set it (the base where the document is silent)."""
        return self.profile.source_of(self.protocol, *keys)

    # -- requests ------------------------------------------------------------------------------------
    def _record_exchange(self, exchange: Exchange) -> int:
        self._exchanges.append(exchange)
        return len(self._exchanges) - 1

    def auth_headers(self, scheme: str | None = "default", key: str | None = None) -> dict[str, str | None]:
        """Credential headers for a scheme: default (the profile's first), bearer, x-api-key, or None."""
        if scheme == "default":
            scheme = (self.rule("auth", default=["bearer"]) or ["bearer"])[0]
        key = key if key is not None else self.session.api_key
        if key and key not in (self.session.api_key,):
            self.redactor.add(key, echo=False)  # a made-up key: scrubbed, but a server quoting it is no leak
        if scheme is None or key is None:
            return {"authorization": None, "x-api-key": None}
        if scheme == "bearer":
            return {"authorization": f"Bearer {key}"}
        if scheme == "x-api-key":
            return {"x-api-key": key}
        raise ValueError(f"unknown auth scheme {scheme!r}")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        auth: str | None = "default",
        api_key: str | None = None,
        headers: dict[str, str | None] | None = None,
        allow_failure: bool = False,
        expect_done: bool = False,
        stream: bool = False,
    ) -> Exchange:
        send = {**self.auth_headers(auth, api_key), **(headers or {})}
        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["json"] = json
        elif content is not None:
            kwargs["content"] = content
            send.setdefault("content-type", "application/json")
        try:
            exchange = self.transport.request(method, path, headers=send, expect_done=expect_done, stream=stream, **kwargs)
        except BudgetSpent as exc:  # nothing was sent: the case is skipped, reason "budget: ..."
            pytest.skip(str(exc))
        if exchange.secret_echo:  # the server echoed a credential (scrubbed already): a finding
            from conformance.checks.common import check_credential_echo

            self.check(check_credential_echo, exchange)
        if exchange.error and not allow_failure:
            raise TransportFailure(f"{method} {path}: {exchange.error}")
        return exchange

    def post(self, path: str, body: Any, **kwargs: Any) -> Exchange:
        return self.request("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    # -- checks and verdicts -------------------------------------------------------------------------
    def judge_context(self) -> JudgeContext:
        if self._judge_context is None:
            self._judge_context = JudgeContext(
                profiles=list(self.target.profiles), strictness=self.strictness,
                disabled=frozenset(self.session.disabled), _schemas=self.schemas,
            )
        return self._judge_context

    def judge(self, exchange: Exchange) -> list[Finding]:
        """Every applicable rule for this exchange (the same judge() as the proxy and offline
        checks); the case adds only its own expectations with :meth:`check`."""
        context = self.judge_context()
        entries = []
        for entry, args in applicable(exchange, context):
            key = (entry.name, exchange.index)
            if key in self._judged:
                continue
            self._judged.add(key)
            self.record.checks_run.append(entry.name)
            entries.append((entry, args))
        findings = cited(run_checks(exchange, entries, self.strictness), self.profile)
        for finding in findings:
            self.record.add(finding)
        return findings

    def check(self, func: Callable[..., Iterable[Any]], *args: Any, **kwargs: Any) -> list[Finding]:
        """Run a named check; its findings join the case's record. A check that judge() already
        applied to the same exchange is not run twice."""
        info = info_of(func)
        if info.name in self.session.disabled:
            return []
        index = _exchange_index(args)
        if index is not None and (info.name, index) in self._judged:
            return []
        self.record.checks_run.append(info.name)
        if index is not None:
            self._judged.add((info.name, index))  # judge() does not run it again on this exchange
        findings = evaluate(func, *args, strictness=self.strictness, **kwargs)
        if index is not None and 0 <= index < len(self._exchanges):
            findings = soften_truncated(info.name, findings, self._exchanges[index])
        findings = cited(findings, self.profile)
        for finding in findings:
            self.record.add(finding)
        return findings

    def expect_success(self, exchange: Exchange, feature: str = "the request") -> None:
        """A documented request must succeed. A 429/5xx that outlived the retry policy ends the
        case as ERROR (not a verdict on the target's conformance); anything else not 2xx is a FAIL."""
        from conformance.checks.common import check_success_status
        from conformance.retry import RETRY_STATUSES

        if exchange.status in RETRY_STATUSES:
            self.refused(exchange, feature, required=True)
        self.require(self.check(check_success_status, exchange))

    def refused(self, exchange: Exchange, feature: str, *, required: bool | None = None, what: str | None = None) -> None:
        """Classify a non-2xx answer to a request for ``feature`` (conformance.verdicts): returns when
        it is not a refusal; otherwise ends the case as UNSUPPORTED, ERROR or FAIL. ``required``
        overrides the profile's ``features`` table (default: optional unless the profile says so)."""
        from conformance.checks.errors import check_feature_refused
        from conformance.verdicts import OPTIONAL, REQUIRED, Ending, classify_refusal

        if required is None:
            required = self.feature_requirement(feature) == REQUIRED
        error = exchange.body.get("error") if isinstance(exchange.body, dict) else None
        detail = f"{error.get('code') or error.get('type')}: {str(error.get('message'))[:120]}" if isinstance(error, dict) else ""
        refusal = classify_refusal(exchange.status, what or feature, REQUIRED if required else OPTIONAL, detail, int(exchange.timings.get("attempts", 1)))
        if refusal is None:
            return
        if refusal.ending is Ending.TRANSPORT:
            raise TransportFailure(refusal.reason + (f" ({exchange.retry_note})" if exchange.retry_note else ""))
        if refusal.ending is Ending.UNSUPPORTED:
            self.unsupported(refusal.reason)
        self.check(check_feature_refused, exchange, refusal.reason, refusal.rule)
        raise CaseStop()

    def feature_requirement(self, feature: str) -> str:
        """"required" or "optional": the profile's ``features`` table, by the most specific key
        (``response_format.json_schema`` before ``response_format``)."""
        table = self.rule("features", default={}) or {}
        key = feature
        while key:
            if key in table:
                return str(table[key])
            key = key.rpartition(".")[0]
        return "optional"

    def require(self, findings: list[Finding]) -> None:
        """Stop the case when the given check found an error: nothing after it can be judged."""
        from conformance.findings import Severity

        if any(f.severity is Severity.ERROR for f in findings):
            raise CaseStop()

    def unsupported(self, reason: str) -> None:
        """The target refused an optional feature cleanly: UNSUPPORTED, never a failure."""
        self.record.verdict = Verdict.UNSUPPORTED
        pytest.skip(f"UNSUPPORTED: {reason}")

    def inconclusive(self, reason: str) -> None:
        """The model did not cooperate with a semantic probe: WARN with the reason, and stop."""
        self.record.verdict = Verdict.WARN
        self.record.reason = f"inconclusive: {reason}"
        raise CaseStop()

    def skip(self, reason: str) -> None:
        pytest.skip(reason)

    @property
    def exchanges(self) -> list[Exchange]:
        return self._exchanges

    def close(self) -> None:
        self.transport.close()


def _exchange_index(args: tuple[Any, ...]) -> int | None:
    """The exchange a check's arguments are about: an Exchange, or a pointer into one."""
    for arg in args:
        if isinstance(arg, Exchange):
            return arg.index
        if isinstance(arg, str) and arg.startswith("/exchanges/"):
            part = arg.split("/")[2]
            return int(part) if part.isdigit() else None
    return None


def _case_identity(item: pytest.Item) -> dict[str, str]:
    marker = item.get_closest_marker("conformance")
    kwargs = dict(marker.kwargs) if marker else {}
    nodeid = item.nodeid
    if SUITES_MARK in nodeid:
        nodeid = nodeid.split(SUITES_MARK, 1)[1]
    for group in item.iter_markers("xdist_group"):  # --dist loadgroup appends "@<group>": a case's id is the same with or without -n
        name = group.args[0] if group.args else group.kwargs.get("name", "default")
        nodeid = nodeid.removesuffix(f"@{name}")
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    title = doc[0].strip() if doc else item.name
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params:
        try:
            title = title.format(**{k: v if isinstance(v, (str, int, float)) else getattr(v, "title", v) for k, v in params.items()})
        except (KeyError, IndexError, ValueError):
            pass
    return {
        "id": nodeid,
        "protocol": kwargs.get("protocol", "openai"),
        "feature": kwargs.get("feature", "general"),
        "title": title,
    }


def out_of_scope(item: pytest.Item, profile_names: list[str]) -> bool:
    """True when no selected profile covers the case's protocol."""
    return profiles.for_protocol(profile_names, _case_identity(item)["protocol"]) is None


def _record_for(item: pytest.Item, session_target: str = "") -> CaseRecord:
    record = item.stash.get(_RECORD_KEY, None)
    if record is None:
        ident = _case_identity(item)
        record = CaseRecord(target=session_target, **ident)
        item.stash[_RECORD_KEY] = record
    return record


_RECORD_KEY = pytest.StashKey[CaseRecord]()
_CONTEXT_KEY = pytest.StashKey[CaseContext]()


def _is_case(item: pytest.Item) -> bool:
    return "case" in getattr(item, "fixturenames", ())
