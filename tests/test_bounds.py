"""Secrets scrubbed in every form, the credential-echo rule, and the memory bounds of one exchange
(issue 18): unit level, no server (the CLI against hostile servers is tests/test_hostile.py)."""

from __future__ import annotations

import base64
import gzip
import json
import resource
from urllib.parse import quote

import pytest

from hostile_servers import CANARY, leaks

from conformance.checks import evaluate
from conformance.checks.common import check_credential_echo
from conformance.exchange import Exchange, Recorder, record
from conformance.findings import Severity, Strictness
from conformance.judge import JudgeContext, judge
from conformance.redact import REDACTED, Redactor, header_secrets

FORMS = {
    "plain": CANARY,
    "upper": CANARY.upper(),
    "bearer_base64": base64.b64encode(f"Bearer {CANARY}".encode()).decode(),
    "basic_base64_urlsafe": base64.urlsafe_b64encode(f"user:{CANARY}".encode()).decode(),
    "percent": quote(CANARY, safe=""),
    "percent_every_byte": "".join(f"%{b:02X}" for b in CANARY.encode()),
    "u_escaped": "".join(f"\\u{ord(c):04x}" for c in CANARY),
    "u_escaped_upper": "".join(f"\\u{ord(c):04X}" for c in CANARY.upper()),
    "prefix_8": CANARY[:8],
    "masked": f"{CANARY[:10]}****{CANARY[-10:]}",
    "middle_piece": CANARY[11:23],
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_of_a_secret_is_scrubbed(form):
    text = f"error: key {FORMS[form]} is not valid"
    out = Redactor([CANARY]).text(text)
    assert REDACTED in out and leaks(out) == []
    assert out.startswith("error: key ") and out.endswith(" is not valid")


def test_short_pieces_and_other_text_are_left_alone():
    redactor = Redactor([CANARY])
    text = "sk-canar is 8 chars but this one is 7: sk-cana; hello world, sk-other-key-0000"
    assert redactor.text("sk-cana and hello world") == "sk-cana and hello world"
    assert redactor.hits == 0
    assert redactor.text(text).count(REDACTED) == 1


def test_header_values_that_are_credentials_are_secrets():
    assert set(header_secrets({"X-Custom-Token": "tok-123456789", "Authorization": "Bearer abcdefghijkl", "X-Trace": "t"})) == {
        "tok-123456789", "Bearer abcdefghijkl", "abcdefghijkl"}


def test_scrubbing_a_large_body_is_fast_enough():
    import time

    body = '{"choices": [{"delta": {"content": "0123456789abcdef hello"}}]}\n' * 200_000  # 13 MB
    started = time.monotonic()
    assert Redactor([CANARY]).text(body) == body
    assert time.monotonic() - started < 5


# -- the flag on the exchange and the rule -------------------------------------------------------
def _echo(status: int, body: bytes, content_type: str = "application/json", headers=()) -> Exchange:
    return record(method="POST", url="http://h/v1/chat/completions", request_headers={"authorization": f"Bearer {CANARY}"},
                  request_body={"model": "m", "messages": []}, status=status,
                  headers=[("content-type", content_type), *headers], body=body, redactor=Redactor([CANARY]))


def test_the_recorder_flags_where_the_key_was_echoed_and_whether_unmasked():
    ex = _echo(200, json.dumps({"choices": [{"message": {"content": f"your key {CANARY}"}}]}).encode())
    assert ex.secret_echo == ["body"] and ex.secret_echo_unmasked
    assert leaks(json.dumps(ex.to_dict())) == []
    ex = _echo(401, json.dumps({"error": {"message": f"bad key {CANARY}"}}).encode())
    assert ex.secret_echo == ["body"] and not ex.secret_echo_unmasked  # an error body: WARN
    ex = _echo(200, f"data: {json.dumps({'c': CANARY.upper()})}\n\n".encode(), "text/event-stream")
    assert ex.secret_echo == ["stream"] and not ex.secret_echo_unmasked  # upper-cased: not as sent
    assert leaks(json.dumps(ex.to_dict())) == []
    ex = _echo(200, b'{"choices": []}')
    assert ex.secret_echo == [] and not ex.secret_echo_unmasked


def test_check_credential_echo_fires_on_an_echo_and_stays_silent_otherwise():
    unmasked = evaluate(check_credential_echo, _echo(200, json.dumps({"k": CANARY}).encode()), strictness=Strictness.COMPATIBLE)
    assert [(f.rule, f.severity) for f in unmasked] == [("credential_echo.unmasked", Severity.ERROR)]
    masked = evaluate(check_credential_echo, _echo(401, json.dumps({"k": CANARY[:12] + "..."}).encode()), strictness=Strictness.STRICT)
    assert [(f.rule, f.severity) for f in masked] == [("credential_echo", Severity.WARNING)]
    assert evaluate(check_credential_echo, _echo(200, b'{"k": "nothing"}')) == []


def test_judge_applies_the_credential_echo_rule():
    context = JudgeContext(profiles=["openai"])
    rules = {f.rule for f in judge(_echo(401, json.dumps({"error": {"message": f"bad {CANARY}"}}).encode()), context)}
    assert "credential_echo" in rules
    assert not any(f.rule.startswith("credential_echo") for f in judge(_echo(200, b'{"error": {"message": "x"}}'), context))


# -- memory bounds of one exchange -----------------------------------------------------------------
def _recorder(stream: bool, **limits) -> Recorder:
    ex = Exchange(index=0, method="POST", url="u", request_headers={}, request_body=None, status=200,
                  headers={"content-type": "text/event-stream" if stream else "application/json"})
    return Recorder(ex, Redactor([CANARY]), stream=stream, **limits)


def test_a_body_past_its_limit_stops_with_the_limit_named():
    recorder = _recorder(False, max_body=100_000)
    for _ in range(10):
        recorder.feed(b"x" * 30_000)
        if recorder.limit_error:
            break
    assert recorder.limit_error == "response body larger than the 100,000 bytes limit (max_body_bytes); reading stopped"
    assert recorder.finish(complete=False).size == 100_000


def test_a_stream_past_its_event_limit_stops_with_the_limit_named():
    recorder = _recorder(True, max_events=1000)
    while not recorder.limit_error:
        recorder.feed(b"data: {}\n\n" * 300)
    ex = recorder.finish(complete=False)
    assert "more than 1,000 events (max_events)" in recorder.limit_error and len(ex.events) == 1000


def test_the_default_number_of_tiny_events_stays_compact():
    """500,000 events of 'data: {}' (the default max_events; 5 MB on the wire): measured RSS
    growth stays small (about 300 bytes an event; 1,000,000 by hand: see the issue's note)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    recorder = _recorder(True)
    batch = b"data: {}\n\n" * 10_000
    for _ in range(50):
        recorder.feed(batch)
    ex = recorder.finish()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(ex.events) == 500_000 and recorder.limit_error is None
    assert grown_mb < 250, f"{grown_mb:.0f} MB for 500k events"
    stored = ex.to_dict(record_limit=64 * 1024)["response"]
    assert stored["recording"]["total_events"] == 500_000 and stored["recording"]["stored_events"] < 1000


def test_bounded_recording_of_a_large_body_keeps_size_and_hash():
    body = json.dumps({"pad": "y" * 3_000_000}).encode()
    ex = _echo(200, body)
    stored = ex.to_dict(record_limit=1000)["response"]
    assert body.decode().startswith(stored["body"]) and 900 < len(json.dumps(stored["body"])) <= 1000
    import hashlib

    assert stored["recording"] == {"truncated": True, "limit_bytes": 1000, "total_bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert ex.body == {"pad": "y" * 3_000_000}  # checks see the whole body
    assert "recording" not in _echo(200, b'{"a": 1}').to_dict()["response"]


def test_a_gzip_bomb_is_cut_at_the_body_limit_after_decoding():
    from conformance.transport import _Decoder

    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    decoder = _Decoder("gzip")
    recorder = _recorder(False, max_body=1024 * 1024)
    for start in range(0, len(bomb), 8192):
        for piece in decoder.decode(bomb[start : start + 8192]):
            recorder.feed(piece)
            if recorder.limit_error:
                break
        if recorder.limit_error:
            break
    assert recorder.limit_error and recorder.size == 1024 * 1024


@pytest.mark.parametrize("encoding", ["br", "gzip, gzip", "zstd"])
def test_an_encoding_not_asked_for_is_refused(encoding):
    from conformance.transport import _Decoder

    with pytest.raises(ValueError, match="was not asked for"):
        _Decoder(encoding)


def test_a_made_up_key_is_scrubbed_but_quoting_it_is_not_an_echo():
    redactor = Redactor([CANARY])
    redactor.add("sk-invalid-0000000000000000", echo=False)
    assert redactor.text("Incorrect API key provided: sk-invalid-0000000000000000") == f"Incorrect API key provided: {REDACTED}"
    assert redactor.hits == 0
    assert redactor.text(f"and {CANARY}") == f"and {REDACTED}" and redactor.hits == 1


def test_a_made_up_key_is_scrubbed_whole_only():
    redactor = Redactor()
    redactor.add("sk-conformance-invalid-key-000000000000", echo=False)
    assert redactor.text("Hello there, conformance suite") == "Hello there, conformance suite"
    assert redactor.text("bad key sk-conformance-invalid-key-000000000000") == f"bad key {REDACTED}"
