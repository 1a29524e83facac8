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

