"""Checks of request parameters: documented values accepted, out-of-range values rejected, and
the observable parameters (n, max_tokens, max_completion_tokens, stop, response_format,
reasoning, audio output) actually honoured."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Iterator

import jsonschema

from conformance.checks import Violation, check, rule
from conformance.checks.openai_stream import choice_entries
from conformance.findings import Severity
from conformance.exchange import Exchange

PARAMS_000 = "CrossModel 000 §Request parameters"
PARAMS_001 = "CrossModel 001 §Body"


def _choices(exchange: Exchange) -> list[dict[str, Any]]:
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _message(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message")
    return message if isinstance(message, dict) else {}


def _status_ptr(exchange: Exchange) -> str:
    return f"/exchanges/{exchange.index}/response/status"


@check(cls=None, source=PARAMS_000 + " (documented values are accepted)", title="a documented parameter value is accepted")
def check_documented_value_accepted(exchange: Exchange, param: str, value: Any) -> Iterator[Violation]:
    if exchange.status != 200:
        body = exchange.body if not exchange.is_sse else exchange.raw_sse
        yield Violation(f"{param}={value!r} is a documented value but was answered {exchange.status}: {str(body)[:160]}", _status_ptr(exchange))


@check(cls="20", source=PARAMS_000 + " (max_completion_tokens); incompatibilities.md class 20", title="max_completion_tokens is accepted")
def check_max_completion_tokens_accepted(exchange: Exchange) -> Iterator[Violation]:
    if exchange.status != 200:
        yield Violation(f"a request with max_completion_tokens was answered {exchange.status}", _status_ptr(exchange))


@check(cls="16", source="CrossModel 000 §Message object (content may be null for an assistant message that only issues tool calls); incompatibilities.md class 16",
       title="a documented conversation history is accepted")
def check_history_accepted(exchange: Exchange, what: str) -> Iterator[Violation]:
    if exchange.status != 200:
        body = exchange.body if not exchange.is_sse else exchange.raw_sse
        yield Violation(f"{what} was answered {exchange.status}: {str(body)[:160]}", _status_ptr(exchange))


@check(cls="14", source=PARAMS_001 + " (documented ranges); CrossModel 000 §Errors (400 unsupported_parameter)", title="an out-of-range parameter value is rejected")
def check_out_of_range_rejected(exchange: Exchange, param: str, value: Any) -> Iterator[Violation]:
    if exchange.status is not None and 200 <= exchange.status < 300:
        yield Violation(f"{param}={json.dumps(value)[:60]} is outside the documented range but was accepted ({exchange.status})", _status_ptr(exchange))


@check(cls=None, source=PARAMS_000 + " (max_tokens / max_completion_tokens: max tokens to generate); DESIGN.md", title="the token cap is honoured",
       rules=[
           rule("words", "no choice holds more words than the token cap"),
       ])
def check_token_cap_honoured(exchange: Exchange, limit: int, param: str) -> Iterator[Violation]:
    """The cap applies to each choice; usage.completion_tokens counts every choice together."""
    cls = "20" if param == "max_completion_tokens" else None
    usage = exchange.body.get("usage") if isinstance(exchange.body, dict) else None
    completion = usage.get("completion_tokens") if isinstance(usage, dict) else None
    choices = max(1, len(_choices(exchange)))
    if isinstance(completion, int) and not isinstance(completion, bool) and completion > limit * choices:
        per = f" for {choices} choices (at most {limit * choices})" if choices > 1 else ""
        yield Violation(f"{param}={limit} but usage.completion_tokens is {completion}{per}: the cap was ignored", exchange.ptr("/usage/completion_tokens"), cls=cls)
        return
    for position, choice in enumerate(_choices(exchange)):
        content = _message(choice).get("content")
        words = len(content.split()) if isinstance(content, str) else 0
        if words > limit:  # every word is at least one token
            yield Violation(f"{param}={limit} but choice {position} holds {words} words: the cap was ignored", exchange.ptr(f"/choices/{position}/message/content"), cls=cls, rule="words")


def _finish_and_usage(exchange: Exchange) -> tuple[list[tuple[Any, str]], Any, str]:
    """(finish_reason, pointer) per choice, usage and its pointer, of a reply or a stream."""
    if not exchange.is_sse:
        finishes = [(c.get("finish_reason"), exchange.ptr(f"/choices/{k}/finish_reason")) for k, c in enumerate(_choices(exchange))]
        usage = exchange.body.get("usage") if isinstance(exchange.body, dict) else None
        return finishes, usage, exchange.ptr("/usage/completion_tokens")
    finishes, usage, pointer = [], None, ""
    for position, k, choice in choice_entries(exchange):
        if choice.get("finish_reason") is not None:
            finishes.append((choice["finish_reason"], exchange.event_ptr(position, f"/choices/{k}/finish_reason")))
    from conformance.checks.openai_stream import chunks

    for position, chunk in chunks(exchange):
        if isinstance(chunk.get("usage"), dict):
            usage, pointer = chunk["usage"], exchange.event_ptr(position, "/usage/completion_tokens")
    return finishes, usage, pointer


@check(cls=None, source="CrossModel 000 §The choice object (finish_reason: length, hit the token cap); OpenAI OpenAPI 2.3.0 finish_reason",
       title="a reply that fills the token cap says finish_reason: length",
       semantic="the request capped the reply and the usage shows the cap was filled; finish_reason must say the reply was cut (length), "
                "or clients take a truncated reply for a complete one",
       evidence="applied by the token-cap probe only (a prompt no model finishes within the cap), never to arbitrary traffic: "
                "a server that counts the end-of-turn token could end a reply exactly at the cap with stop",
       rules=[rule("below_cap", "finish_reason length comes with a usage count that reached the cap", severity=Severity.WARNING,
                   evidence="a WARN: the reply was cut although completion_tokens is below the cap, so the usage count or the cut is wrong")])
def check_token_cap_finish_reason(exchange: Exchange, limit: int, param: str) -> Iterator[Violation]:
    finishes, usage, pointer = _finish_and_usage(exchange)
    completion = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if len(finishes) != 1 or not isinstance(completion, int) or isinstance(completion, bool):
        return  # several choices share one count; no usage: nothing to compare
    reason, where = finishes[0]
    if completion == limit and reason == "stop":  # above the cap: the cap was ignored (check_token_cap_honoured)
        yield Violation(f"{param}={limit} and usage.completion_tokens is {completion}: the reply filled the cap but finish_reason is 'stop', not 'length'", where)
    elif reason == "length" and completion < limit:
        yield Violation(f"finish_reason is 'length' but usage.completion_tokens {completion} is below {param}={limit}", pointer, rule="below_cap")


@check(cls="18", source="CrossModel 000 §Extended parameters (n); 001 §Body (n >= 1); incompatibilities.md class 18", title="a stream with n > 1 carries n choices")
def check_stream_n_choices(exchange: Exchange, n: int) -> Iterator[Violation]:
    indexes = {c.get("index") for _, _, c in choice_entries(exchange)}
    if indexes != set(range(n)):
        yield Violation(f"n={n} but the stream carried choice indexes {sorted(indexes, key=str)}", f"/exchanges/{exchange.index}/response/events")


@check(cls=None, source=PARAMS_000 + " (stop: generation halts at the first match; the sequence is not included)", title="stop sequences end the reply and are not included")
def check_stop_honoured(exchange: Exchange, stops: list[str], texts: dict[int, str] | None = None) -> Iterator[Violation]:
    if texts is None:
        texts = {c.get("index", k): (_message(c).get("content") or "") for k, c in enumerate(_choices(exchange))}
    for index, text in texts.items():
        for stop in stops:
            if stop and stop in (text or ""):
                pointer = exchange.ptr(f"/choices/{index}/message/content") if not exchange.is_sse else f"/exchanges/{exchange.index}/response/events"
                yield Violation(f"choice {index} contains the stop sequence {stop!r}: {text[:80]!r}", pointer)
                break


@check(cls="19", source=PARAMS_000 + " (response_format: JSON mode or structured output); incompatibilities.md class 19", title="a JSON response_format gives JSON content (valid for the schema)",
       rules=[
           rule("not_object", "JSON-mode content is a JSON object"),
           rule("schema", "structured-output content matches the json_schema"),
       ])
def check_json_reply(exchange: Exchange, schema: dict[str, Any] | None = None) -> Iterator[Violation]:
    for position, choice in enumerate(_choices(exchange)):
        if choice.get("finish_reason") == "length":
            continue  # cut short: judged inconclusive by the case
        pointer = exchange.ptr(f"/choices/{position}/message/content")
        content = _message(choice).get("content")
        try:
            document = json.loads(content) if isinstance(content, str) else None
        except ValueError as exc:
            yield Violation(f"content is not JSON ({exc}): {content[:80]!r}", pointer)
            continue
        if not isinstance(document, dict):
            yield Violation(f"content is not a JSON object: {str(content)[:80]!r}", pointer, rule="not_object")
            continue
        if schema is not None:
            for error in jsonschema.Draft202012Validator(schema).iter_errors(document):
                yield Violation(f"content does not match the json_schema: {error.message}", pointer, rule="schema")
                break


@check(cls=None, source="CrossModel 001 §Reasoning models (reasoning_content); 000 §The usage object (completion_tokens_details.reasoning_tokens)", title="reasoning output has the documented shape",
       rules=[
           rule("tokens_invalid", "reasoning_tokens is a non-negative integer"),
           rule("tokens_zero", "non-empty reasoning_content comes with reasoning_tokens", severity=Severity.WARNING),
       ])
def check_reasoning_shape(exchange: Exchange) -> Iterator[Violation]:
    body = exchange.body if isinstance(exchange.body, dict) else {}
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    details = usage.get("completion_tokens_details")
    reasoning_tokens = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if reasoning_tokens is not None and (isinstance(reasoning_tokens, bool) or not isinstance(reasoning_tokens, int) or reasoning_tokens < 0):
        yield Violation(f"completion_tokens_details.reasoning_tokens is {reasoning_tokens!r}, not a non-negative integer", exchange.ptr("/usage/completion_tokens_details/reasoning_tokens"), rule="tokens_invalid")
    for position, choice in enumerate(_choices(exchange)):
        if "reasoning_content" not in _message(choice):
            continue
        value = _message(choice)["reasoning_content"]
        pointer = exchange.ptr(f"/choices/{position}/message/reasoning_content")
        if value is not None and not isinstance(value, str):
            yield Violation(f"reasoning_content is a {type(value).__name__}, not a string", pointer)
        elif value and isinstance(details, dict) and reasoning_tokens == 0:
            yield Violation("reasoning_content is non-empty but reasoning_tokens is 0", pointer, Severity.WARNING, rule="tokens_zero")


@check(cls=None, source="CrossModel 001 §Body (reasoning_content in the stream)", title="streamed reasoning deltas are strings")
def check_stream_reasoning_shape(exchange: Exchange) -> Iterator[Violation]:
    for position, k, choice in choice_entries(exchange):
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        value = delta.get("reasoning_content")
        if value is not None and not isinstance(value, str):
            yield Violation(f"delta.reasoning_content is a {type(value).__name__}, not a string", exchange.event_ptr(position, f"/choices/{k}/delta/reasoning_content"))
            return


AUDIO_MAGIC = {"wav": b"RIFF", "mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"), "flac": b"fLaC", "opus": b"OggS"}


@check(cls=None, source="CrossModel 000 §Extended parameters (modalities, audio); 001 §Body (modalities text, audio); OpenAI OpenAPI 2.3.0 ChatCompletionResponseMessage.audio",
       title="audio output is a message.audio object with base64 data",
       rules=[
           rule("field_type", "message.audio has id, data, transcript strings and an integer expires_at"),
           rule("not_base64", "message.audio.data is base64"),
           rule("wrong_format", "message.audio.data is audio in the requested format"),
       ])
def check_audio_output(exchange: Exchange, audio_format: str) -> Iterator[Violation]:
    for position, choice in enumerate(_choices(exchange)):
        audio = _message(choice).get("audio")
        pointer = exchange.ptr(f"/choices/{position}/message/audio")
        if not isinstance(audio, dict):
            yield Violation(f"modalities includes audio but message.audio is {audio!r}", pointer)
            continue
        for field, kind in (("id", str), ("data", str), ("transcript", str), ("expires_at", int)):
            if not isinstance(audio.get(field), kind) or isinstance(audio.get(field), bool):
                yield Violation(f"message.audio.{field} is {str(audio.get(field))[:40]!r}, not a {kind.__name__}", f"{pointer}/{field}", rule="field_type")
        data = audio.get("data")
        if isinstance(data, str):
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                yield Violation("message.audio.data is not base64", f"{pointer}/data", rule="not_base64")
                continue
            magic = AUDIO_MAGIC.get(audio_format)
            if magic and not raw.startswith(magic):
                yield Violation(f"message.audio.data does not look like {audio_format} (starts {raw[:4]!r})", f"{pointer}/data", rule="wrong_format")
