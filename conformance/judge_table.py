"""judge()'s selection table: which check applies to which exchange, with which arguments.

Each entry names a check, a predicate over :class:`~conformance.judge.Facts` (what the exchange
is, what its request asked for) and the arguments the check gets. Entries are in the order a
reader expects findings: transport and framing first, then shape, then semantics.
"""

from __future__ import annotations

from typing import Any

from conformance.facts import CHAT, MESSAGES, MODEL, MODELS, Applicable, Facts, JudgeContext
from conformance.exchange import Exchange


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stops(value: Any) -> list[str] | None:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    return None


def _openai_cap(f: Facts) -> tuple[int, str] | None:
    for param in ("max_completion_tokens", "max_tokens"):
        value = _int(f.asked(param))
        if value is not None and value > 0:
            return value, param
    return None


def _reply_time(x: Exchange) -> float | None:
    """When the server made the reply, from its Date header (None without a readable one)."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(x.headers.get("date", "")).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _tool_mode(choice: Any) -> tuple[str, str | None] | None:
    if choice in ("none", "required"):
        return choice, None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        if isinstance(name, str):
            return "forced", name
    return None


def _anthropic_message(x: Exchange) -> Any:
    """The reply as a message: the body, or the stream reassembled."""
    if x.is_sse:
        from conformance.checks.anthropic_stream import reassemble

        return reassemble(x)
    return x.body if isinstance(x.body, dict) else None


def build() -> list[Applicable]:
    from conformance.checks import anthropic as an
    from conformance.checks import anthropic_stream as ans
    from conformance.checks import common, errors, models, openai_chat as oc, openai_logprobs as lp
    from conformance.checks import openai_params as op, openai_stream as os_, openai_tools as ot
    from conformance.checks import sdk
    from conformance.checks import node_clients as nc

    def chat(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint == CHAT

    def chat_reply(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint == CHAT and f.success and not x.is_sse and isinstance(x.body, dict)

    def chat_stream(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint == CHAT and f.success and x.is_sse

    def chat_any_reply(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        """Any successful non-streamed answer, JSON object or not: the schema judges its shape."""
        return f.endpoint == CHAT and f.success and not x.is_sse and x.error is None

    def msg_any_reply(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint == MESSAGES and f.success and not x.is_sse and x.error is None

    def msg_reply(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint == MESSAGES and f.success and not x.is_sse and isinstance(x.body, dict)

    def msg_stream(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint == MESSAGES and f.success and x.is_sse

    def any_stream(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint in (CHAT, MESSAGES) and f.success and x.is_sse

    def api_json(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.endpoint in (CHAT, MESSAGES, MODELS, MODEL) and x.error is None and not x.is_sse

    def openai_error(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.protocol == "openai" and f.error_status and x.error is None

    def anthropic_error(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        return f.protocol == "anthropic" and f.error_status and x.error is None

    def sdk_replayable(protocol: str):
        def when(f: Facts, x: Exchange, c: JudgeContext) -> bool:
            # a recording kept only in part (bounded recording) cannot be replayed: not exercised, never a false FAIL
            return f.protocol == protocol and f.endpoint != "other" and x.error is None and (f.success or f.error_status) and x.raw_complete
        return when

    def node_clients(f: Facts, x: Exchange, c: JudgeContext) -> bool:
        if f.endpoint not in (CHAT, MESSAGES) or not f.success or x.error is not None or not x.raw_complete:
            return False
        from conformance.clients.node import status

        return status().available  # only where 'conformance clients install' has run

    def schema_args(f: Facts, x: Exchange, c: JudgeContext) -> tuple[Any, ...]:
        return (x, c.schemas, c.strictness)

    def asked(key: str, base=None):
        def when(f: Facts, x: Exchange, c: JudgeContext) -> bool:
            return (base is None or base(f, x, c)) and f.asked(key) not in (None, False)
        return when

    def first_created(f: Facts, x: Exchange, c: JudgeContext) -> tuple[Any, ...] | None:
        for position, chunk in os_.chunks(x):
            return (chunk.get("created"), x.event_ptr(position, "/created"), _reply_time(x) if c.now is None else c.now)
        return None

    def reply_nonempty(x: Exchange) -> bool:
        return any(((ch.get("message") or {}).get("content") or "") for ch in x.body.get("choices") or [] if isinstance(ch, dict))

    def usage_chunk(f: Facts, x: Exchange, c: JudgeContext) -> tuple[Any, ...] | None:
        for position, chunk in os_.chunks(x):
            if chunk.get("usage") is not None:
                return (chunk["usage"], x.event_ptr(position, "/usage"), True)
        return None

    def include_usage(f: Facts) -> bool:
        options = f.asked("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    def request_id_header(f: Facts, x: Exchange, c: JudgeContext) -> tuple[Any, ...] | None:
        header = c.rule("openai", "request_id_header", default="")
        return (x, header) if header else None

    def openai_tools(f: Facts) -> list[dict[str, Any]] | None:
        tools = f.asked("tools")
        return tools if isinstance(tools, list) and tools else None

    def anthropic_tool_schemas(f: Facts) -> dict[str, Any] | None:
        tools = f.asked("tools")
        if not isinstance(tools, list) or not tools:
            return None
        out = {t["name"]: t.get("input_schema") or {} for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str) and t.get("type") in (None, "custom")}
        return out or None

    def msg_pointer(x: Exchange) -> str:
        return f"/exchanges/{x.index}/response/events" if x.is_sse else x.ptr()

    def anthropic_max_tokens(f: Facts) -> int | None:
        value = _int(f.asked("max_tokens"))
        return value if value and value > 0 else None

    return [
        # -- transport: a credential echoed by the server (scrubbed at capture; flagged by the Recorder)
        Applicable(common.check_credential_echo, lambda f, x, c: bool(x.secret_echo)),
        # -- framing and media type ----------------------------------------------------------------
        Applicable(common.check_json_content_type, api_json),
        Applicable(os_.check_stream_content_type, any_stream),
        Applicable(common.check_sse_framing, any_stream),
        Applicable(common.check_sse_comments, any_stream),
        # -- errors ----------------------------------------------------------------------------------
        Applicable(errors.check_error_shape, openai_error, schema_args),
        Applicable(an.check_anthropic_error_shape, anthropic_error, schema_args),
        # -- models ----------------------------------------------------------------------------------
        Applicable(models.check_models_list_schema, lambda f, x, c: f.endpoint == MODELS and f.success, schema_args),
        Applicable(models.check_model_schema, lambda f, x, c: f.endpoint == MODEL and f.success, schema_args),
        # -- OpenAI chat: non-streamed reply --------------------------------------------------------
        Applicable(oc.check_chat_response_schema, chat_any_reply, schema_args),
        Applicable(oc.check_created_timestamp, chat_reply, lambda f, x, c: (x.body.get("created"), x.ptr("/created"), _reply_time(x) if c.now is None else c.now)),
        Applicable(oc.check_choice_indexes, chat_reply, lambda f, x, c: (x, _int(f.asked("n")))),
        Applicable(oc.check_finish_reason_value, chat_reply),
        Applicable(oc.check_usage_arithmetic, chat_reply, lambda f, x, c: (x.body.get("usage"), x.ptr("/usage"), reply_nonempty(x))),
        Applicable(oc.check_request_id_header, lambda f, x, c: f.endpoint == CHAT and f.success, request_id_header),
        # -- OpenAI chat: stream -----------------------------------------------------------------
        Applicable(os_.check_stream_done_terminator, chat_stream),
        Applicable(os_.check_chat_chunk_schema, chat_stream, schema_args),
        Applicable(os_.check_stream_first_delta_role, chat_stream),
        Applicable(os_.check_stream_role_first_only, chat_stream),
        Applicable(os_.check_stream_finish_reason, chat_stream),
        Applicable(os_.check_stream_constant_fields, chat_stream),
        Applicable(oc.check_created_timestamp, chat_stream, first_created),
        Applicable(os_.check_stream_include_usage, lambda f, x, c: chat_stream(f, x, c) and include_usage(f)),
        Applicable(oc.check_usage_arithmetic, lambda f, x, c: chat_stream(f, x, c) and include_usage(f), usage_chunk),
        Applicable(os_.check_stream_no_unrequested_usage, lambda f, x, c: chat_stream(f, x, c) and f.request_known and not include_usage(f)),
        # -- OpenAI chat: what the request asked for -----------------------------------------------
        Applicable(op.check_stream_n_choices, lambda f, x, c: chat_stream(f, x, c) and (_int(f.asked("n")) or 1) > 1,
                   lambda f, x, c: (x, _int(f.asked("n")))),
        Applicable(op.check_token_cap_honoured, lambda f, x, c: f.endpoint == CHAT and f.success and _openai_cap(f) is not None,
                   lambda f, x, c: (x, *_openai_cap(f))),
        Applicable(op.check_stop_honoured, lambda f, x, c: f.endpoint == CHAT and f.success and _stops(f.asked("stop")) is not None,
                   lambda f, x, c: (x, _stops(f.asked("stop")), os_.streamed_text(x) if x.is_sse else None)),
        Applicable(ot.check_tool_call_arguments, lambda f, x, c: chat_reply(f, x, c) and openai_tools(f) is not None,
                   lambda f, x, c: (x, openai_tools(f))),
        Applicable(ot.check_stream_tool_call_index, lambda f, x, c: chat_stream(f, x, c) and openai_tools(f) is not None),
        Applicable(ot.check_stream_tool_call_header_once, lambda f, x, c: chat_stream(f, x, c) and openai_tools(f) is not None),
        Applicable(ot.check_stream_tool_call_arguments, lambda f, x, c: chat_stream(f, x, c) and openai_tools(f) is not None,
                   lambda f, x, c: (x, openai_tools(f))),
        Applicable(ot.check_stream_tool_calls_finish_reason, lambda f, x, c: chat_stream(f, x, c) and openai_tools(f) is not None),
        Applicable(ot.check_tool_choice_honoured, lambda f, x, c: chat_reply(f, x, c) and _tool_mode(f.asked("tool_choice")) is not None,
                   lambda f, x, c: (x, *_tool_mode(f.asked("tool_choice")))),
        Applicable(ot.check_tool_choice_honoured, lambda f, x, c: chat_stream(f, x, c) and _tool_mode(f.asked("tool_choice")) is not None,
                   lambda f, x, c: (x, *_tool_mode(f.asked("tool_choice")), [(call["pointer"], call["name"]) for call in ot.streamed_calls(x).values()])),
        Applicable(ot.check_parallel_tool_calls_disabled, lambda f, x, c: chat_reply(f, x, c) and f.asked("parallel_tool_calls") is False),
        Applicable(lp.check_logprobs_present, asked("logprobs", chat_reply)),
        Applicable(lp.check_logprob_entries, asked("logprobs", chat_reply)),
        Applicable(lp.check_top_logprobs, lambda f, x, c: chat_reply(f, x, c) and f.asked("logprobs") is True and _int(f.asked("top_logprobs")) is not None,
                   lambda f, x, c: (x, _int(f.asked("top_logprobs")))),
        Applicable(lp.check_logprobs_join_content, asked("logprobs", chat_reply)),
        Applicable(op.check_json_reply, lambda f, x, c: chat_reply(f, x, c) and isinstance(f.asked("response_format"), dict)
                   and f.asked("response_format").get("type") in ("json_object", "json_schema"),
                   lambda f, x, c: (x, ((f.asked("response_format").get("json_schema") or {}).get("schema")) if f.asked("response_format").get("type") == "json_schema" else None)),
        # -- Anthropic messages: non-streamed reply ------------------------------------------------
        Applicable(an.check_message_schema, msg_any_reply, schema_args),
        # -- Anthropic messages: stream ------------------------------------------------------------
        Applicable(ans.check_stream_no_done, msg_stream),
        Applicable(ans.check_stream_event_names, msg_stream),
        Applicable(ans.check_stream_event_schema, msg_stream, schema_args),
        Applicable(ans.check_stream_error_event, msg_stream, schema_args),
        Applicable(ans.check_stream_event_order, msg_stream),
        Applicable(ans.check_stream_block_indexes, msg_stream),
        Applicable(ans.check_stream_tool_input, msg_stream),
        Applicable(ans.check_stream_stop_reason, msg_stream),
        Applicable(ans.check_stream_usage, msg_stream, lambda f, x, c: (x, _nonempty_message(_anthropic_message(x)))),
        # -- Anthropic messages: the reply (either way) and what the request asked for ---------------
        Applicable(an.check_anthropic_stop_reason, lambda f, x, c: (msg_reply(f, x, c) or msg_stream(f, x, c)) and _anthropic_message(x) is not None,
                   lambda f, x, c: (_anthropic_message(x), msg_pointer(x), anthropic_max_tokens(f))),
        Applicable(an.check_anthropic_usage, msg_reply, lambda f, x, c: (x.body.get("usage"), x.ptr("/usage"), _nonempty_message(x.body),
                                                            bool(f.asked("messages") or f.asked("system")) or not f.request)),
        Applicable(an.check_anthropic_max_tokens, lambda f, x, c: (msg_reply(f, x, c) or msg_stream(f, x, c)) and anthropic_max_tokens(f) is not None and _anthropic_message(x) is not None,
                   lambda f, x, c: (_anthropic_message(x), msg_pointer(x), anthropic_max_tokens(f))),
        Applicable(an.check_anthropic_stop_sequence, lambda f, x, c: (msg_reply(f, x, c) or msg_stream(f, x, c)) and _stops(f.asked("stop_sequences")) is not None and _anthropic_message(x) is not None,
                   lambda f, x, c: (_anthropic_message(x), msg_pointer(x), _stops(f.asked("stop_sequences")))),
        Applicable(an.check_anthropic_tool_use_input, lambda f, x, c: (msg_reply(f, x, c) or msg_stream(f, x, c)) and anthropic_tool_schemas(f) is not None and _anthropic_message(x) is not None,
                   lambda f, x, c: (_anthropic_message(x), msg_pointer(x), anthropic_tool_schemas(f))),
        Applicable(an.check_anthropic_tool_choice, lambda f, x, c: (msg_reply(f, x, c) or msg_stream(f, x, c)) and isinstance(f.asked("tool_choice"), dict)
                   and anthropic_tool_schemas(f) is not None and _anthropic_message(x) is not None,
                   lambda f, x, c: (_anthropic_message(x), msg_pointer(x), f.asked("tool_choice"), list(anthropic_tool_schemas(f)))),
        # -- the official SDKs as referees: the same bytes through openai-python / anthropic-python --
        Applicable(sdk.check_openai_sdk, sdk_replayable("openai"), lambda f, x, c: (x, f.endpoint)),
        Applicable(sdk.check_anthropic_sdk, sdk_replayable("anthropic"), lambda f, x, c: (x, f.endpoint)),
        # -- real clients as referees: the Node clients replay the bytes (when installed) ---------------
        Applicable(nc.check_node_clients, node_clients),
    ]


def _nonempty_message(message: Any) -> bool:
    from conformance.checks.anthropic import reply_text, tool_uses

    return bool(message) and bool(reply_text(message) or tool_uses(message))
