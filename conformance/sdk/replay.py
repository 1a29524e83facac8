"""Which replays apply to an exchange: by endpoint, stream or not, success or error."""

from __future__ import annotations

from conformance.exchange import Exchange
from conformance.sdk import ANTHROPIC, OPENAI, Outcome, version


def replay(exchange: Exchange, endpoint: str, client: str | None = None) -> list[Outcome]:
    """Every outcome of the installed official clients for one exchange (none when no client
    applies: a transport failure, an endpoint they do not call, a client not installed)."""
    import warnings

    if exchange.error is not None or exchange.status is None:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic's serializer warnings on lenient objects: the outcome says it
        return _replay(exchange, endpoint, client)


def _replay(exchange: Exchange, endpoint: str, client: str | None) -> list[Outcome]:
    success = 200 <= exchange.status < 300
    out: list[Outcome] = []
    if endpoint in ("chat", "models", "model") and client in (None, OPENAI) and version(OPENAI):
        from conformance.sdk import openai_python as op

        if not success:
            out += op.replay_error(exchange) if exchange.status >= 400 else []
        elif endpoint == "chat":
            out += op.replay_chat_stream(exchange) if exchange.is_sse else op.replay_chat(exchange)
        else:
            out += op.replay_models(exchange, single=endpoint == "model")
    if endpoint == "messages" and client in (None, ANTHROPIC) and version(ANTHROPIC):
        from conformance.sdk import anthropic_python as ap

        if not success:
            out += ap.replay_error(exchange) if exchange.status >= 400 else []
        else:
            out += ap.replay_stream(exchange) if exchange.is_sse else ap.replay_message(exchange)
    return out
