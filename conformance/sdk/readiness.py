"""The client-readiness matrix: per official client (name + version) × feature, whether it works,
breaks (with the exception or the difference) or was not exercised by the run.

Each case's exchanges are replayed through the clients where the case ran (the outcomes travel
with the case as ``clients``); :func:`matrix` folds every case's outcomes into the run's matrix.
Everything here reads and writes plain dicts, so the reports can render it from results.json.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from conformance.sdk import ANTHROPIC, BREAKS, NOT_EXERCISED, OPENAI, WORKS, versions

FEATURES: dict[str, tuple[str, ...]] = {
    OPENAI: ("chat.completions.create", "chat.completions.create(stream)", "chat.completions.stream",
             "chat.completions.parse", "models.list", "models.retrieve", "errors"),
    ANTHROPIC: ("messages.create", "messages.create(stream)", "messages.stream", "errors"),
}
RANK = {NOT_EXERCISED: 0, WORKS: 1, BREAKS: 2}


def case_outcomes(exchanges: Iterable[Any], paths: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """What each installed client does with each of a case's exchanges (the replay is cached on
    the exchange, so a judge() that already ran the SDK checks is not repeated). Never raises."""
    from conformance.judge import endpoint_of
    from conformance.sdk.replay import replay

    out: list[dict[str, Any]] = []
    for exchange in exchanges:
        try:
            endpoint = endpoint_of(exchange.method, exchange.url, dict(paths or {}))
            cache = exchange.__dict__.setdefault("_sdk_outcomes", {})
            outcomes = []
            for client in (OPENAI, ANTHROPIC):
                if client not in cache:
                    cache[client] = replay(exchange, endpoint, client)
                outcomes += cache[client]
        except Exception as exc:  # noqa: BLE001 - a hostile exchange must never crash a run
            out.append({"client": "?", "version": "?", "feature": "?", "result": NOT_EXERCISED,
                        "detail": f"could not replay: {type(exc).__name__}", "exchange": exchange.index})
            continue
        for outcome in outcomes + list(exchange.__dict__.get("_lane_outcomes", [])):
            if outcome.result == WORKS and outcome.kind == "strict_validation":
                continue  # recorded by the SDK check as INFO; the default client works
            out.append({**outcome.to_dict(), "exchange": exchange.index})
    return out


def matrix(cases: Iterable[Mapping[str, Any]], installed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """{"versions": {client: version}, "rows": [{client, version, feature, result, detail, cases}]}:
    one row per client × feature; the worst outcome wins and names its first case."""
    installed = dict(installed if installed is not None else versions())
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for client, version in installed.items():
        for feature in FEATURES.get(client, ()):
            rows[client, feature] = {"client": client, "version": version, "feature": feature,
                                     "result": NOT_EXERCISED, "detail": "", "cases": []}
    for case in cases:
        for outcome in case.get("clients") or []:
            client, feature = outcome.get("client"), outcome.get("feature")
            if client not in installed or not feature:
                continue
            row = rows.setdefault((client, feature), {"client": client, "version": installed[client], "feature": feature,
                                                      "result": NOT_EXERCISED, "detail": "", "cases": []})
            result = outcome.get("result", NOT_EXERCISED)
            if RANK.get(result, 0) > RANK[row["result"]]:
                row["result"], row["detail"], row["cases"] = result, outcome.get("detail", ""), []
            if result == row["result"] and result != NOT_EXERCISED and case.get("id") not in row["cases"] and len(row["cases"]) < 20:
                row["cases"].append(case.get("id"))
    ordered = [rows[key] for key in sorted(rows, key=lambda k: (k[0], _order(k)))]
    return {"versions": installed, "rows": ordered}


def _order(key: tuple[str, str]) -> int:
    features = FEATURES.get(key[0], ())
    return features.index(key[1]) if key[1] in features else len(features)


def label(result: str) -> str:
    return {WORKS: "works", BREAKS: "breaks", NOT_EXERCISED: "not exercised"}.get(result, result)
