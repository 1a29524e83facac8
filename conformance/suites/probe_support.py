"""What the semantic probes of both protocols share: choosing a stop sequence from a control
reply, so that a stop-sequence probe decides whatever the model writes (no magic words)."""

from __future__ import annotations

import re

WORD = re.compile(r"[A-Za-z]{4,}")


def stop_sequences_from(text: str, count: int = 1) -> list[str]:
    """Up to ``count`` words of the control reply to use as stop sequences: words of four letters
    or more that first occur after the reply's first character, the one nearest the middle first
    (so the probe's reply, cut before it, is neither empty nor the whole reply). Empty when the
    control gave nothing usable."""
    seen: set[str] = set()
    candidates = []
    for match in WORD.finditer(text or ""):
        word = match.group()
        if word in seen:
            continue
        seen.add(word)
        if match.start() > 0 and text.index(word) == match.start():
            candidates.append((abs(match.start() - len(text) / 2), match.start(), word))
    candidates.sort()
    return [word for _, _, word in candidates[:count]]
