"""Checks of the semantic probes that compare two exchanges of one case: a content block that
never reached the model (the prompt costs no more with it than without it)."""

from __future__ import annotations

from typing import Iterator

from conformance.checks import Violation, check
from conformance.findings import Severity
from conformance.exchange import Exchange

BLOCKS_SOURCE = ("CrossModel 000 §Content blocks; CrossModel 003 §Content blocks; the profile's features table "
                 "(content.block.*); DESIGN.md §Verdicts (a semantic probe fails on what the exchange proves)")


def prompt_tokens(exchange: Exchange) -> int | None:
    """The prompt's token count an answer reports: OpenAI ``usage.prompt_tokens``, Anthropic
    ``usage.input_tokens`` (plus the cache counts, which input_tokens leaves out). None when absent."""
    body = exchange.body if isinstance(exchange.body, dict) else {}
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None

    def number(key: str) -> int | None:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    if number("prompt_tokens") is not None:
        return number("prompt_tokens")
    if number("input_tokens") is None:
        return None
    return sum(number(k) or 0 for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def usage_pointer(exchange: Exchange) -> str:
    usage = exchange.body.get("usage") if isinstance(exchange.body, dict) else None
    key = "prompt_tokens" if isinstance(usage, dict) and "prompt_tokens" in usage else "input_tokens"
    return exchange.ptr(f"/usage/{key}")


@check(cls=None, source=BLOCKS_SOURCE, title="a content block reaches the model (the prompt costs more with it than without it)",
       semantic="the request carried a content block; a prompt that costs no more tokens with the block than without it shows "
                "the block was silently dropped before the model",
       evidence="FAIL when the profile documents the block (content.block.* required), WARN otherwise")
def check_content_block_counted(with_block: Exchange, without_block: Exchange, block: str, documented: bool) -> Iterator[Violation]:
    """``with_block`` and ``without_block``: the same request with and without one ``block``."""
    counted, baseline = prompt_tokens(with_block), prompt_tokens(without_block)
    if counted is None or baseline is None:
        return  # no usage to compare: the case is inconclusive
    if counted <= baseline:
        documented_note = "the profile documents it" if documented else "the profile does not document it, so a WARN"
        yield Violation(
            f"the {block} block was dropped: the prompt counts {counted} tokens with it and {baseline} without it "
            f"(exchange {without_block.index}); the block never reached the model ({documented_note})",
            usage_pointer(with_block),
            None if documented else Severity.WARNING,
        )


def counts_prompt(exchange: Exchange) -> bool:
    return prompt_tokens(exchange) is not None



@check(cls=None, source="CrossModel 000 §The choice object (finish_reason stop: natural end or a stop sequence); "
                        "CrossModel 003 §stop_reason (stop_sequence: one of your stop_sequences was hit)",
       title="a reply cut at a stop sequence says so (finish_reason stop, stop_reason stop_sequence)",
       semantic="the probe's reply is the control's reply cut exactly before the stop sequence, so the sequence was hit; "
                "the stop reason must say so, or clients take the reply for a natural end or a truncation")
def check_stop_reported(text: str, reason: object, expected: str, control_text: str, stops: list[str], pointer: str) -> Iterator[Violation]:
    """``text``/``reason``: the probe's reply and its stop reason; ``control_text``: the reply to the
    same request without stop sequences. Silent unless the probe is exactly the control cut at the
    first stop sequence (the only proof that the sequence was hit)."""
    hits = [control_text.index(s) for s in stops if s and s in control_text]
    if not hits or text != control_text[:min(hits)]:
        return
    if reason != expected:
        yield Violation(f"the reply is the control reply cut exactly before a stop sequence, but its stop reason is {reason!r}, not {expected!r}", pointer)
