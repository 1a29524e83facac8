"""The fast paths of stream recording give exactly what the general paths give (issue 12).

Each fast path has a switch back to the general one; random streams made of the tricky parts
(CR, CRLF, comments, unknown fields, multi-line data, [DONE], empty data, invalid JSON, BOM,
secrets whole, in pieces, escaped and encoded, split across chunks and multi-byte characters
split across chunks) are recorded both ways and compared field by field.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
from urllib.parse import quote

import pytest

from conformance import redact
from conformance.exchange import Exchange, Recorder
from conformance.redact import REDACTED, Redactor
from conformance.sse import SSEParser

SECRET = "sk-fast-path-secret-0123456789abcdef"
# every 7th character \u-escaped: no piece of 8 is in the data, the whole secret is in its JSON
ESCAPED = "".join(f"\\u{ord(c):04x}" if i % 7 == 0 else c for i, c in enumerate(SECRET))
TEXTS = [
    "hello", "tok ", "line\nbreak", "İstanbul", "ΑΣ'. end", 'quote " and \\ backslash', "é accent", "Σ sigma ΑΣ", "\u2028 separator",
    SECRET, SECRET.upper(), SECRET[5:13], f"key={SECRET[:10]}****{SECRET[-10:]}",
    base64.b64encode(f"Bearer {SECRET}".encode()).decode(), quote(SECRET, safe=""),
    "".join(f"%{b:02X}" for b in SECRET.encode()), "sk-fast", "fast-path", "secret-0", "path-sec",
]


def _payload(rng: random.Random) -> str:
    text = rng.choice(TEXTS)
    body = json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"content": text}}]}, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.15 and SECRET in body:  # a secret the data shows only through JSON escapes
        body = body.replace(SECRET, ESCAPED)
    return body


PARTS = [
    lambda r: f"data: {_payload(r)}\n\n",
    lambda r: f"data: {_payload(r)}\n\n",
    lambda r: f"data: {_payload(r)}\n\n",
    lambda r: f"data:{_payload(r)}\n\n",
    lambda r: f"data: {_payload(r)}  \n\n",  # trailing spaces: valid JSON for json.loads
    lambda r: f"data: {_payload(r)} x\n\n",  # extra data
    lambda r: 'data: {"a": \n\n',
    lambda r: "data: {}\n\n",
    lambda r: "data: [DONE]\n\n",
    lambda r: "data: \n\n",
    lambda r: ": keep-alive\n",
    lambda r: ":\n\n",
    lambda r: "event: message\n",
    lambda r: "id: 7\n",
    lambda r: "retry: 1500\n",
    lambda r: "x-vendor-trace: 1\n",
    lambda r: 'dta: {"a": 1}\n\n',
    lambda r: '{"error": {"message": "boom"}}\n\n',
    lambda r: f"data: {_payload(r)}\ndata: {_payload(r)}\n\n",  # missing blank line
    lambda r: f"data: {_payload(r)}\ndata: more\n\n",
    lambda r: "\n",
]


def _stream(seed: int) -> tuple[bytes, list[int]]:
    rng = random.Random(seed)
    pieces = [rng.choice(PARTS)(rng) for _ in range(rng.randint(1, 40))]
    text = "".join(pieces)
    ending = rng.choice(["\n", "\n", "\r\n", "\r", "mixed"])
    if ending == "mixed":
        text = "".join(p.replace("\n", rng.choice(["\n", "\r\n", "\r"])) if rng.random() < 0.2 else p for p in pieces)
    elif ending != "\n":
        text = text.replace("\n", ending)
    if rng.random() < 0.1:
        text = "\ufeff" + text
    if rng.random() < 0.2:
        text = text.rstrip("\r\n")  # unterminated
    data = text.encode("utf-8")
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.choice([0, 1, 3, 10, 50])))) if len(data) > 1 else []
    if rng.random() < 0.2:
        cuts = list(range(1, len(data)))  # byte by byte
    return data, cuts


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _parse(data: bytes, cuts: list[int], fast: bool) -> SSEParser:
    parser = SSEParser(expect_done=True)
    parser._fast = fast
    for chunk in _chunks(data, cuts):
        parser.feed(chunk)
    parser.close()
    return parser


def _picture(parser: SSEParser) -> dict:
    return {"events": parser.events, "issues": parser.issues, "comments": parser.comments,
            "unknown_fields": parser.unknown_fields, "saw_done": parser.saw_done, "offset": parser._offset}


@pytest.mark.parametrize("seed", range(300))
def test_the_plain_event_fast_path_parses_exactly_as_line_by_line(seed):
    data, cuts = _stream(seed)
    assert _picture(_parse(data, cuts, fast=True)) == _picture(_parse(data, cuts, fast=False))


def test_the_fast_path_takes_the_common_case_and_leaves_the_rest():
    data = b'data: {"a": 1}\n\ndata: {"b": 2}\n\n: c\ndata: {"c": 3}\n\ndata: [DONE]\n\n'
    fast = _parse(data, [], fast=True)
    assert [e.json for e in fast.events] == [{"a": 1}, {"b": 2}, {"c": 3}, None]
    assert [e.offset for e in fast.events] == [0, 16, 36, 52]
    assert fast.comments == ["c"] and fast.issues == [] and fast.saw_done
    # what follows [DONE] still goes through the path that records it
    late = _parse(b'data: [DONE]\n\ndata: {"late": 1}\n\n', [], fast=True)
    assert [i.kind for i in late.issues] == ["data_after_done"]


# -- redaction ---------------------------------------------------------------------------------------
def _record(data: bytes, cuts: list[int], slow: bool, monkeypatch) -> tuple[Exchange, int]:
    with monkeypatch.context() as m:
        if slow:
            m.setattr(redact._Sieve, "may_hold", lambda self, low: True)  # every text through the regex
            m.setattr(Redactor, "may_hold", lambda self, values: True)  # every event scrubbed one by one
            m.setattr(SSEParser, "_fast", False)
        ex = Exchange(index=0, method="POST", url="http://x/v1/chat/completions", request_headers={}, request_body={"stream": True},
                      status=200, headers={"content-type": "text/event-stream"})
        redactor = Redactor([SECRET])
        recorder = Recorder(ex, redactor, stream=True, expect_done=True)
        for chunk in _chunks(data, cuts):
            recorder.feed(chunk)
        recorder.finish()
    return ex, redactor.hits


@pytest.mark.parametrize("seed", range(150))
def test_recording_with_the_fast_paths_scrubs_exactly_as_without(seed, monkeypatch):
    data, cuts = _stream(seed)
    fast, fast_hits = _record(data, cuts, slow=False, monkeypatch=monkeypatch)
    slow, slow_hits = _record(data, cuts, slow=True, monkeypatch=monkeypatch)
    assert fast.events == slow.events
    assert (fast.text, fast.raw_sse, fast.framing, fast.comments) == (slow.text, slow.raw_sse, slow.framing, slow.comments)
    assert (fast.secret_echo, fast.secret_echo_unmasked, fast_hits) == (slow.secret_echo, slow.secret_echo_unmasked, slow_hits)
    assert SECRET not in json.dumps(fast.to_dict()) and SECRET.upper() not in json.dumps(fast.to_dict())


def test_a_secret_split_across_chunks_and_events_of_a_clean_batch_is_scrubbed(monkeypatch):
    clean = "".join(f'data: {{"n": {i}, "t": "fast path secret"}}\n\n' for i in range(600))
    data = (clean + f'data: {{"k": "{SECRET}"}}\n\n' + clean + f'data: {{"k": "{ESCAPED}"}}\n\n').encode()
    for cuts in ([], list(range(7, len(data), 7)), [len(clean) + 20]):
        ex, hits = _record(data, cuts, slow=False, monkeypatch=monkeypatch)
        assert ex.events[600].json == {"k": REDACTED} and ex.events[600].data == f'{{"k": "{REDACTED}"}}'
        assert ex.events[-1].json == {"k": REDACTED}
        assert hits >= 2 and ex.secret_echo == ["stream"]
        assert SECRET not in json.dumps(ex.to_dict(record_limit=10**9))


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 200, 900])
def test_secrets_behind_escapes_in_keys_and_deep_json_are_treated_as_before(depth, monkeypatch):
    events = [f'{{"n": {i}, "t": "a\\nb"}}' for i in range(600)]
    events[10] = f'{{"{ESCAPED}": 1, "t": "x\\ty"}}'  # in a key (the batch of the first 256 events)
    events[300] = '{"k": ' * depth + '"a\\nb"' + "}" * depth  # no secret, deep (the second batch)
    events[520] = '{"k": ' * depth + f'"{ESCAPED}"' + "}" * depth  # a secret, deep (the third batch)
    data = "".join(f"data: {e}\n\n" for e in events).encode()
    fast, fast_hits = _record(data, [], slow=False, monkeypatch=monkeypatch)
    slow, slow_hits = _record(data, [], slow=True, monkeypatch=monkeypatch)
    assert fast.events == slow.events and fast_hits == slow_hits and fast.secret_echo == slow.secret_echo == ["stream"]
    assert fast.events[10].json == {REDACTED: 1, "t": "x\ty"}
    assert SECRET not in json.dumps([e.json for e in fast.events])


@pytest.mark.parametrize("seed", range(200))
def test_the_sieve_never_hides_what_the_regex_finds(seed, monkeypatch):
    rng = random.Random(seed)
    secrets = [SECRET, "abcd", "pässwörd-ünïcode-42", "tok_\U0001F511_emoji_key", "κλειδί-ΣΟΦΙΑΣ-2024"][: rng.randint(1, 5)]
    quiet = rng.choice([None, "made-up-key-value-000"])
    redactor = Redactor(secrets)
    if quiet:
        redactor.add(quiet, echo=False)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_%\\\"{}: äöüΣςİ'.\U0001F511"
    pieces = []
    for _ in range(rng.randint(1, 8)):
        secret = rng.choice(secrets + ([quiet] if quiet else []))
        piece = secret[rng.randint(0, len(secret) // 2):]
        form = rng.choice([piece, piece.upper(), quote(piece, safe=""), "".join(f"\\u{ord(c):04x}" for c in piece),
                           base64.b64encode(rng.choice([b"", b"x", b"xy"]) + piece.encode()).decode(), secret])
        pieces.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) + (form if rng.random() < 0.6 else ""))
    text = "".join(pieces)
    got = redactor.spans(text)
    with monkeypatch.context() as m:
        m.setattr(redact._Sieve, "may_hold", lambda self, low: True)
        assert got == redactor.spans(text)
    assert redactor.may_hold(pieces) == any(redactor.spans(p) for p in pieces)


def test_sieve_grams_cover_short_secrets():
    redactor = Redactor(["abcd"])
    assert redactor.spans("xxabcdxx") == [(2, 6)]
    assert redactor.spans("xxABCDxx") == [(2, 6)]
    assert redactor.spans("xxabcxdxx") == []
    assert not redactor.may_hold(["abc", "dabc", "bcd"])
    assert redactor.may_hold(["xx", "zzABCDzz"])


# -- the schema check's quick key ------------------------------------------------------------------
def _chunk(**changes):
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "tok"}, "logprobs": None, "finish_reason": None}]}
    for path, value in changes.items():
        *where, last = path.split("__")
        node = chunk
        for part in where:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return chunk


VARIANTS = [
    {}, {"choices__0__delta__content": "other words"}, {"id": "chatcmpl-2"}, {"model": "another"},
    {"choices__0__index": False}, {"choices__0__index": 0.0}, {"choices__0__index": 1}, {"created": True},
    {"created": 1700000000.0}, {"object": "chat.completion"}, {"object": "chat.completion.chunk "},
    {"choices__0__finish_reason": "stop"}, {"choices__0__finish_reason": "bogus"}, {"choices__0__finish_reason": ""},
    {"choices__0__delta__content": None}, {"choices__0__delta__content": 5}, {"choices__0__delta__content": ["tok"]},
    {"choices__0__delta__content": KeyError}, {"choices__0__delta__role": "assistant"}, {"choices__0__delta__role": "user"},
    {"choices__0__delta__refusal": "no"}, {"choices__0__logprobs": {"content": []}}, {"choices": []},
    {"choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]},
    {"choices": {"0": {"index": 0, "delta": {"content": "x"}}}}, {"id": 7}, {"id": KeyError}, {"usage": None},
    {"usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}, {"system_fingerprint": "fp"},
]


@pytest.mark.parametrize("strictness", ["compatible", "strict"])
def test_a_chunk_is_known_valid_only_when_the_schema_says_valid(strictness):
    """Whatever was validated before and in whatever order: known_valid(x) implies no error for x,
    and a chunk differing from a validated one only in its free text is known valid."""
    from conformance.schemas import SchemaRegistry, specs_dir

    name = f"openai/{strictness}/chat_chunk"
    rng = random.Random(12)
    for _ in range(30):
        reg = SchemaRegistry(specs_dir() / "schemas")  # a fresh cache each round
        order = VARIANTS * 2
        rng.shuffle(order)
        for changes in order:
            chunk = _chunk(**changes)
            if reg.known_valid(name, chunk):
                assert list(reg.errors(name, chunk)) == [], changes
            else:
                list(reg.errors(name, chunk))
    reg = SchemaRegistry(specs_dir() / "schemas")
    assert not reg.known_valid(name, _chunk()) and list(reg.errors(name, _chunk())) == []
    assert reg.known_valid(name, _chunk()) and reg.known_valid(name, _chunk(choices__0__delta__content="more text"))
    assert reg._valid_quick  # the quick key is what answered
    assert not reg.known_valid(name, _chunk(choices__0__finish_reason="bogus"))
    assert not reg.known_valid(name, _chunk(choices__0__index=False))


def test_an_escaped_slash_can_hide_a_base64_form_and_is_looked_through(monkeypatch):
    secret = "sk-slash-???-key-0123456789"
    redactor = Redactor([secret])
    whole = base64.b64encode(secret.encode()).decode()
    slash = whole.index("/")
    # a piece of the base64 form around its '/': found as is, but not once JSON escapes the '/'
    encoded = next(whole[a:b] for a in range(slash, -1, -1) for b in range(slash + 1, len(whole) + 1)
                   if redactor.spans(whole[a:b]) and not redactor.spans(whole[a:b].replace("/", "\\/")))
    escaped = encoded.replace("/", "\\/")
    events = [f'{{"n": {i}, "t": "a\\nb"}}' for i in range(50)] + [f'{{"t": "{escaped}"}}']
    data = "".join(f"data: {e}\n\n" for e in events).encode()
    ex = Exchange(index=0, method="POST", url="http://x/v1/chat/completions", request_headers={}, request_body={"stream": True},
                  status=200, headers={"content-type": "text/event-stream"})
    redactor = Redactor([secret])
    recorder = Recorder(ex, redactor, stream=True)
    recorder.feed(data)
    recorder.finish()
    assert REDACTED in ex.events[-1].json["t"] and encoded not in json.dumps(ex.events[-1].json)
    assert ex.secret_echo == ["stream"]
    assert not redactor.escapes_may_hide('{"t": "a\\nb \\"quoted\\""}')  # escapes no form of the secret has
    assert redactor.escapes_may_hide('{"t": "a\\/b"}') and redactor.escapes_may_hide('{"t": "\\u0041"}')
    assert redactor.escapes_may_hide('{"t": "é\\n"}')


def test_the_recorder_parses_plain_events_at_the_end_with_collection_paused_and_restored(monkeypatch):
    import gc

    seen = []
    monkeypatch.setattr(SSEParser, "parse_deferred", lambda self, original=SSEParser.parse_deferred: (seen.append(gc.isenabled()), original(self)))
    data = b'data: {"a": 1}\n\ndata: {"b": \n\ndata: [DONE]\n\n'
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            ex, _ = _record(data, [3], slow=False, monkeypatch=monkeypatch)
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
        assert [e.json for e in ex.events] == [{"a": 1}, None, None] and ex.events[1].json_error
    assert seen == [False, False]
    parser = SSEParser(defer_json=True)
    parser.feed(b'data: {"a": 1}\n\n')
    assert parser.events[0].json is None
    parser.parse_deferred()
    assert parser.events[0].json == {"a": 1}
