"""Checks of token logprobs, non-streamed and streamed (``choices[].logprobs.content[]``)."""

from __future__ import annotations

from typing import Any, Iterator

from conformance.checks import Violation, check, rule
from conformance.checks.openai_stream import choice_entries
from conformance.exchange import Exchange

SOURCE = "CrossModel 000 §Request token logprobs, §Extended parameters (logprobs, top_logprobs); OpenAI OpenAPI 2.3.0 ChatCompletionTokenLogprob"
LEGACY_KEYS = ("tokens", "token_logprobs", "text_offset")


def logprob_streams(exchange: Exchange) -> dict[Any, dict[str, Any]]:
    """choice index -> {"entries": [(pointer, entry)], "content": str, "logprobs": [(pointer, logprobs value)]}.

    For a stream, the entries of every chunk of a choice are joined in order, as the SDK does.
    """
    out: dict[Any, dict[str, Any]] = {}
    if exchange.is_sse:
        for position, k, choice in choice_entries(exchange):
            slot = out.setdefault(choice.get("index"), {"entries": [], "content": "", "logprobs": []})
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            piece = delta.get("content")
            pointer = exchange.event_ptr(position, f"/choices/{k}/logprobs")
            if isinstance(piece, str) and piece:
                slot["content"] += piece
                slot["logprobs"].append((pointer, choice.get("logprobs")))
            _collect(slot, pointer, choice.get("logprobs"))
        return out
    choices = exchange.body.get("choices") if isinstance(exchange.body, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        pointer = exchange.ptr(f"/choices/{position}/logprobs")
        slot = out.setdefault(choice.get("index", position), {"entries": [], "content": message.get("content") or "", "logprobs": []})
        slot["logprobs"].append((pointer, choice.get("logprobs")))
        _collect(slot, pointer, choice.get("logprobs"))
    return out


def _collect(slot: dict[str, Any], pointer: str, logprobs: Any) -> None:
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    for i, entry in enumerate(content if isinstance(content, list) else []):
        slot["entries"].append((f"{pointer}/content/{i}", entry))


@check(cls="17", source=SOURCE + "; incompatibilities.md class 17", title="requested logprobs are present in the chat shape",
       rules=[
           rule("not_object", "logprobs is an object"),
           rule("legacy_shape", "logprobs has the chat shape, not the legacy completions shape"),
           rule("content_not_array", "logprobs.content is an array"),
       ])
def check_logprobs_present(exchange: Exchange) -> Iterator[Violation]:
    for index, slot in logprob_streams(exchange).items():
        if not slot["content"]:
            continue  # nothing generated, nothing to score
        for pointer, logprobs in slot["logprobs"]:
            if logprobs is None:
                yield Violation(f"logprobs: true was sent but choice {index} carries logprobs null (silently dropped)", pointer)
                break
            if not isinstance(logprobs, dict):
                yield Violation(f"choice {index} logprobs is a {type(logprobs).__name__}, not an object", pointer, rule="not_object")
                break
            legacy = [k for k in LEGACY_KEYS if k in logprobs]
            if legacy:
                yield Violation(f"choice {index} logprobs uses the legacy completions shape ({', '.join(legacy)}) instead of content[]", pointer, rule="legacy_shape")
                break
            if not isinstance(logprobs.get("content"), list):
                yield Violation(f"choice {index} logprobs.content is {str(logprobs.get('content'))[:40]!r}, not an array", pointer + "/content", rule="content_not_array")
                break


@check(cls="17", source=SOURCE + " (logprobs: true without top_logprobs is valid); incompatibilities.md class 17", title="logprobs: true is accepted without top_logprobs")
def check_logprobs_accepted(exchange: Exchange) -> Iterator[Violation]:
    if exchange.status != 200:
        body = exchange.body if not exchange.is_sse else exchange.raw_sse
        yield Violation(f"a request with logprobs was answered {exchange.status}: {str(body)[:160]}", f"/exchanges/{exchange.index}/response/status")


@check(cls="17", source=SOURCE + " (token string, logprob <= 0, bytes: the token's UTF-8 bytes)", title="each token logprob has token, logprob <= 0 and matching bytes",
       rules=[
           rule("not_object", "a logprob entry is an object"),
           rule("token", "a logprob entry's token is a string"),
           rule("bytes_invalid", "bytes is a list of byte values"),
           rule("bytes_mismatch", "bytes decode to the token"),
       ])
def check_logprob_entries(exchange: Exchange) -> Iterator[Violation]:
    for index, slot in logprob_streams(exchange).items():
        for pointer, entry in slot["entries"]:
            yield from _entry_violations(entry, pointer)
            for j, alt in enumerate(entry.get("top_logprobs") or [] if isinstance(entry, dict) else []):
                yield from _entry_violations(alt, f"{pointer}/top_logprobs/{j}")


def _entry_violations(entry: Any, pointer: str) -> Iterator[Violation]:
    if not isinstance(entry, dict):
        yield Violation(f"a logprob entry is {str(entry)[:40]!r}, not an object", pointer, rule="not_object")
        return
    token, logprob, data = entry.get("token"), entry.get("logprob"), entry.get("bytes")
    if not isinstance(token, str):
        yield Violation(f"token is {token!r}, not a string", pointer + "/token", rule="token")
    if isinstance(logprob, bool) or not isinstance(logprob, (int, float)) or logprob > 0:
        yield Violation(f"logprob is {logprob!r}: a log-probability is a number <= 0", pointer + "/logprob")
    if data is None:
        return  # nullable upstream; the strict schema requires it
    if not isinstance(data, list) or not all(isinstance(b, int) and 0 <= b <= 255 for b in data):
        yield Violation(f"bytes is {str(data)[:40]!r}, not a list of byte values", pointer + "/bytes", rule="bytes_invalid")
        return
    try:
        decoded = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return  # a partial multi-byte character: the token string cannot show it exactly
    if isinstance(token, str) and decoded != token:
        yield Violation(f"bytes decode to {decoded!r} but the token is {token!r}", pointer + "/bytes", rule="bytes_mismatch")


@check(cls="17", source=SOURCE + " (top_logprobs: the requested number of most likely tokens)", title="top_logprobs has the requested length and is sorted",
       rules=[
           rule("not_array", "top_logprobs is an array"),
           rule("unsorted", "top_logprobs are sorted from most to least likely"),
       ])
def check_top_logprobs(exchange: Exchange, top: int) -> Iterator[Violation]:
    for index, slot in logprob_streams(exchange).items():
        for pointer, entry in slot["entries"]:
            alternatives = entry.get("top_logprobs") if isinstance(entry, dict) else None
            if not isinstance(alternatives, list):
                yield Violation(f"top_logprobs is {str(alternatives)[:40]!r}, not an array", pointer + "/top_logprobs", rule="not_array")
                return
            if top and len(alternatives) != top:
                yield Violation(f"top_logprobs has {len(alternatives)} entries, {top} were requested", pointer + "/top_logprobs")
                return
            values = [a.get("logprob") for a in alternatives if isinstance(a, dict)]
            numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numeric != sorted(numeric, reverse=True):
                yield Violation(f"top_logprobs are not sorted from most to least likely: {numeric}", pointer + "/top_logprobs", rule="unsorted")
                return


@check(cls="17", source=SOURCE + " (one entry per generated token)", title="the logprob tokens join to the content")
def check_logprobs_join_content(exchange: Exchange) -> Iterator[Violation]:
    for index, slot in logprob_streams(exchange).items():
        if not slot["entries"]:
            continue  # absence is judged by check_logprobs_present
        joined = b""
        for _, entry in slot["entries"]:
            data = entry.get("bytes") if isinstance(entry, dict) else None
            if isinstance(data, list) and all(isinstance(b, int) and 0 <= b <= 255 for b in data):
                joined += bytes(data)
            elif isinstance(entry, dict) and isinstance(entry.get("token"), str):
                joined += entry["token"].encode("utf-8")
        text = joined.decode("utf-8", "replace")
        if text != slot["content"]:
            pointer = slot["entries"][0][0].rsplit("/content/", 1)[0]
            yield Violation(f"choice {index}: logprob tokens join to {text[:60]!r} but the content is {slot['content'][:60]!r}", pointer)
