"""A real (small) tokenizer for the reference server.

The vocabulary is a fixed list of pieces: common words with and without a leading space,
punctuation, digits, and one fallback token per byte (written ``<0xNN>``). Encoding is greedy
longest-match over the pieces, falling back to single bytes, so every text encodes and
``decode(encode(text)) == text`` always holds. Token ids are stable across runs.
"""

from __future__ import annotations

import functools

_WORDS = """
the of and to a in is it you that he was for on are with as i his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her long
make thing see him two has look more day could go come did number sound no most people my over
know water than call first who may down side been now find any new work part take get place made
live where after back little only round man year came show every good me give our under name very
through just form sentence great think say help low line differ turn cause much mean before move
right boy old too same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men change went light
kind off need house picture try us again animal point mother world near build self earth father
head stand own page should country found answer school grow study still learn plant cover food sun
four between state keep eye never last let thought city tree cross farm hard start might story saw
far sea draw left late run while press close night real life few north open seem together next
white children begin got walk example ease paper group always music those both mark often letter
until mile river car feet care second book carry took science eat room friend began idea fish
mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual
young ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass since top whole king space heard best hour better
true during hundred five remember step early hold west ground interest reach fast verb sing listen
six table travel less morning ten simple several vowel toward war lay against pattern slow center
love person money serve appear road map rain rule govern pull cold notice voice unit power town
fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct
able pound done beauty drive stood contain front teach week final gave green oh quick develop ocean
warm free minute strong special mind behind clear tail produce fact street inch multiply nothing
course stay wheel full force blue object decide surface deep moon island foot system busy test
record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape
equate miss brought heat snow tire bring yes distant fill east paint language among hello weather
answer result tool function call json true false null alpha beta gamma delta epsilon zeta eta theta
paris tokyo london berlin madrid rome shanghai sydney lima cairo
""".split()

_PUNCT = list(".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`") + ["\n", "\n\n", " ", "  ", "...", "\": \"", "\", \"", "{\"", "\"}"]


@functools.lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    pieces: list[str] = []
    seen: set[str] = set()

    def add(piece: str) -> None:
        if piece not in seen:
            seen.add(piece)
            pieces.append(piece)

    for word in _WORDS:
        for form in (word, word.capitalize()):
            add(form)
            add(" " + form)
    for digit in "0123456789":
        add(digit)
        add(" " + digit)
    for punct in _PUNCT:
        add(punct)
    return tuple(pieces)


BYTE_BASE = 1_000_000  # ids of byte fallback tokens: BYTE_BASE + byte value


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, int], int]:
    vocab = vocabulary()
    return {piece: i for i, piece in enumerate(vocab)}, max(len(p) for p in vocab)


def encode(text: str) -> list[int]:
    """Greedy longest-match encoding with byte fallback."""
    ids, longest = _index()
    out: list[int] = []
    pos = 0
    while pos < len(text):
        for size in range(min(longest, len(text) - pos), 0, -1):
            piece = text[pos : pos + size]
            token = ids.get(piece)
            if token is not None:
                # do not split a word in the middle: a word piece must end at a word boundary
                end = pos + size
                if piece[-1].isalnum() and end < len(text) and text[end].isalnum():
                    continue
                out.append(token)
                pos = end
                break
        else:
            out.extend(BYTE_BASE + b for b in text[pos].encode("utf-8"))
            pos += 1
    return out


def token_bytes(token: int) -> bytes:
    if token >= BYTE_BASE:
        return bytes([token - BYTE_BASE])
    return vocabulary()[token].encode("utf-8")


def token_text(token: int) -> str:
    """The token as a string; a lone byte of a multi-byte character shows as ``\\xNN``."""
    data = token_bytes(token)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\x{b:02x}" for b in data)


def decode(tokens: list[int]) -> str:
    return b"".join(token_bytes(t) for t in tokens).decode("utf-8", "replace")


def count(text: str) -> int:
    return len(encode(text))
