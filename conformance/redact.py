"""Secrets never reach an artifact: the one place that scrubs them from what is recorded.

Credential headers are replaced by ``[REDACTED]`` and every known secret value is scrubbed from
URLs, headers, bodies, stream events, error messages and terminal output at capture time, before
anything is stored.

A secret is found whole and as any substring of 8 or more of its characters, case-insensitively,
and in the forms a server may echo it in: base64 (standard and URL-safe, at any alignment),
percent-encoded (minimal and every byte) and JSON ``\\u``-escaped. The matching is done on
8-character windows of the secret (and of each encoded form of each window): overlapping matches
are merged, so a longer piece is removed whole.

:attr:`Redactor.hits` counts the pieces scrubbed; the recorder uses it to flag an exchange whose
response echoed a credential (``Exchange.secret_echo``).
"""

from __future__ import annotations

import base64
import re
import sys
from array import array
from typing import Any, Iterable
from urllib.parse import quote

REDACTED = "[REDACTED]"
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "set-cookie", "x-goog-api-key"}
)
WINDOW = 8  # a piece of a secret this long or longer is a secret
# JSON's two-character escapes and what each stands for
JSON_ESCAPES = (('\\"', '"'), ("\\\\", "\\"), ("\\/", "/"), ("\\b", "\b"), ("\\f", "\f"), ("\\n", "\n"), ("\\r", "\r"), ("\\t", "\t"))
SIEVE_FROM = 32  # characters: on a shorter text the regex alone is as fast as the sieve (see _Sieve)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SECRET_NAME = re.compile(r"key|token|secret|auth|password|credential|session", re.IGNORECASE)


def header_secrets(headers: dict[str, str] | None) -> list[str]:
    """The values of extra headers that are credentials (by name): they are secrets too."""
    out = []
    for name, value in (headers or {}).items():
        if value and (name.lower() in SENSITIVE_HEADERS or _SECRET_NAME.search(name)):
            out.append(value)
            scheme, _, rest = value.partition(" ")
            if rest and scheme.lower() in ("bearer", "basic", "token"):
                out.append(rest.strip())
    return out


def _forms(piece: str) -> set[str]:
    """The ways a server may write ``piece``: as is, base64, percent- and \\u-escaped."""
    raw = piece.encode("utf-8")
    forms = {piece, quote(piece, safe=""), "".join(f"%{b:02x}" for b in raw)}
    forms.add("".join(f"\\u{ord(c):04x}" for c in piece))
    for k in range(3):  # base64 of the piece at each alignment: the characters it alone determines
        encoded = base64.b64encode(b"\0" * k + raw).decode()
        stable = encoded[-(-k * 8 // 6) : (k + len(raw)) * 8 // 6]
        if len(stable) >= 6:
            forms.add(stable)
            forms.add(stable.replace("+", "-").replace("/", "_"))
    return {f for f in forms if f}


class Redactor:
    """Scrubs secret values (and credential headers) out of anything recorded."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._quiet: set[str] = set()  # scrubbed, but finding them is not an echo (e.g. a made-up wrong key)
        self._loud: Redactor | None = None
        self._pattern: re.Pattern[str] | None = None
        self._sieve: _Sieve | None = None
        self._risky_escapes: list[str] = []
        self.hits = 0
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None, *, echo: bool = True) -> None:
        """Scrub ``secret`` from now on. ``echo=False``: a value that is scrubbed but whose
        appearance does not count in :attr:`hits` (a deliberately wrong key a case sends)."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.add(secret)
            if not echo:
                self._quiet.add(secret)
            self._pattern = self._loud = self._sieve = None

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._secrets:
            pieces: set[str] = set()
            for secret in self._secrets:
                if len(secret) < WINDOW or secret in self._quiet:  # a made-up key is no secret: only whole
                    pieces.add(secret)
                    continue
                for variant in {secret, secret.lower(), secret.upper()}:
                    for i in range(len(variant) - WINDOW + 1):
                        pieces.add(variant[i : i + WINDOW])
            literals: set[str] = set()
            for piece in pieces:
                literals |= _forms(piece)
            words = {s.lower() for s in literals}
            self._pattern = re.compile(_trie_regex(words))
            self._sieve = _Sieve(words)
            chars = set().union(*words)
            self._risky_escapes = [sequence for sequence, char in JSON_ESCAPES if char in chars]
        return self._pattern

    def escapes_may_hide(self, data: str) -> bool:
        """Whether the strings of the JSON text ``data``, in which :meth:`spans` found nothing,
        may still hold a secret once their escapes are decoded. Not when ``data`` is ASCII with
        no ``\\u`` escape and no escape of a character that is in some form of a secret: then
        every piece of a secret in a decoded string is a run of characters written as they are,
        so it would have been in ``data``."""
        self._compiled()
        if not data.isascii() or "\\u" in data:
            return True
        return any(sequence in data for sequence in self._risky_escapes)

    def may_hold(self, values: Iterable[str]) -> bool:
        """False only when no secret is in any of ``values`` (:meth:`spans` would find nothing in
        each): a cheap test over many short texts at once (a stream's events) before scrubbing
        them one by one."""
        if self._compiled() is None:
            return False
        values = list(values)
        if not values:
            return False
        joined = "\n".join(values)  # a piece of a secret in one value is a piece of the whole
        low = joined.lower()  # the values lower-cased as spans() does ('\n' ends a word for the final sigma)
        if len(low) != len(joined):  # a character that lower-cases to several: spans() does otherwise
            return any(self.spans(value) for value in values)
        assert self._sieve is not None
        return self._sieve.may_hold(low)

    def spans(self, value: str) -> list[tuple[int, int]]:
        """Where secrets (in any form, whole or in pieces) are in ``value``: merged spans."""
        pattern = self._compiled()
        if pattern is None or not value:
            return []
        low = value.lower()
        if len(low) != len(value):  # a non-ASCII character that lower-cases to several
            low = value.translate(_ASCII_LOWER)
        assert self._sieve is not None
        if len(low) >= SIEVE_FROM and not self._sieve.may_hold(low):
            return []
        merged: list[tuple[int, int]] = []
        pos = 0
        while True:
            match = pattern.search(low, pos)
            if match is None:
                return merged
            start, end = match.span()
            probe = start + 1
            while probe < end:  # overlapping pieces: a longer piece of the secret is one span
                more = pattern.match(low, probe)
                if more is not None:
                    end = max(end, more.end())
                probe += 1
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
            pos = end

    def text(self, value: str) -> str:
        spans = self.spans(value)
        if not spans:
            return value
        if not self._quiet:
            self.hits += len(spans)
        else:
            if self._loud is None:
                self._loud = Redactor(self._secrets - self._quiet)
            self.hits += len(self._loud.spans(value))
        out, last = [], 0
        for start, end in spans:
            out.append(value[last:start])
            out.append(REDACTED)
            last = end
        out.append(value[last:])
        return "".join(out)

    def contains_whole(self, value: str) -> bool:
        """True when a secret appears unmasked (whole, as sent) in ``value``."""
        return any(secret in value for secret in self._secrets - self._quiet)

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            value = REDACTED if key in SENSITIVE_HEADERS else self.text(value)
            out[key] = f"{out[key]}, {value}" if key in out else value
        return out

    def obj(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.obj(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.obj(v) for k, v in value.items()}
        return value


class _Sieve:
    """A cheap, exact "no" for the secret regex: whether any of ``words`` (the literals the regex
    matches) is in a text, at C speed.

    Every word is at least ``2 * size - 1`` bytes long in UTF-8, so wherever it occurs in the
    text it covers a whole block of ``size`` bytes at an offset that is a multiple of ``size``.
    The text's aligned blocks are read as integers in one go (``array``) and intersected with the
    set of every ``size``-byte gram of every word; only the words holding a gram that is there
    are then looked for (``in``). No gram in common, or none of those words there, means none
    of ``words`` is in the text: the regex would find nothing."""

    def __init__(self, words: set[str]) -> None:
        encoded = {word: word.encode("utf-8", "surrogatepass") for word in words}
        shortest = min((len(b) for b in encoded.values()), default=0)
        self.code = "I" if shortest >= 7 and array("I").itemsize == 4 else "H"
        self.size = array(self.code).itemsize
        if shortest < 2 * self.size - 1 or self.size not in (2, 4):
            self.code = ""  # no sieve: every text goes to the regex
        grams: dict[int, set[str]] = {}
        if self.code:
            for word, raw in encoded.items():
                for k in range(len(raw) - self.size + 1):
                    grams.setdefault(int.from_bytes(raw[k : k + self.size], sys.byteorder), set()).add(word)
        self.grams = {gram: tuple(sorted(found)) for gram, found in grams.items()}
        self.keys = frozenset(self.grams)

    def may_hold(self, low: str) -> bool:
        """False when no word is in ``low`` (already lower-cased as the regex sees it)."""
        if not self.code:
            return True
        raw = low.encode("utf-8", "surrogatepass")
        blocks = array(self.code)
        blocks.frombytes(memoryview(raw)[: len(raw) - len(raw) % self.size])
        for gram in self.keys.intersection(blocks):
            if any(map(low.__contains__, self.grams[gram])):
                return True
        return False


def _trie_regex(words: set[str]) -> str:
    """One regex matching any of ``words`` (longest first), as a trie: the engine tries one
    character class per position instead of every word, so scanning a large body stays fast."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?"
        return body

    return render(trie)


def environment_redactor(extra: Iterable[str] = ()) -> Redactor:
    """A redactor for terminal output: the keys in the usual environment variables, and ``extra``."""
    import os

    names = ("CONFORMANCE_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    return Redactor([*(os.environ.get(n) for n in names), *extra])
