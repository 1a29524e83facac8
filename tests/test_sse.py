"""The SSE parser: WHATWG framing, incremental feeding, and framing violations as issues."""

import pytest

from conformance.sse import parse

GOOD = b'data: {"a": 1}\n\n: keep-alive\n\nevent: message_start\ndata: {"b": 2}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("chunk_size", [0, 1, 2, 3, 5, 7, 64])
def test_a_well_framed_stream_parses_the_same_in_any_chunking(chunk_size):
    parser = parse(GOOD, expect_done=True, chunk_size=chunk_size)
    assert [e.data for e in parser.events] == ['{"a": 1}', '{"b": 2}', "[DONE]"]
    assert [e.event for e in parser.events] == [None, "message_start", None]
    assert parser.events[0].json == {"a": 1}
    assert parser.comments == ["keep-alive"]
    assert parser.issues == []
    assert parser.saw_done


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_every_line_ending_is_accepted(newline):
    data = GOOD.replace(b"\n", newline)
    for chunk_size in (0, 1):
        parser = parse(data, expect_done=True, chunk_size=chunk_size)
        assert [e.data for e in parser.events] == ['{"a": 1}', '{"b": 2}', "[DONE]"], chunk_size
        assert parser.issues == []


def test_a_leading_byte_order_mark_is_ignored():
    parser = parse(b"\xef\xbb\xbfdata: {}\n\n")
    assert parser.events[0].json == {} and parser.issues == []


def test_data_field_without_space_and_multi_line_data_join_with_newline():
    parser = parse(b"data:x\ndata: y\n\n")
    assert parser.events[0].data == "x\ny"
    assert parser.issues == []


@pytest.mark.parametrize(
    "stream, kind",
    [
        (b'data: {"a": 1}\ndata: {"b": 2}\n\n', "missing_blank_line"),
        (b'data: {"a": 1}\n\n{"error": {"message": "boom"}}\n\n', "line_without_field"),
        (b'data: {"a": 1}\n\ndata: \n\n', "empty_data"),
        (b'data: {"a": 1}\n\ndata: {"b": 2}', "unterminated_event"),
        (b'data: {"a": 1}\n\n', "missing_done"),
        (b'data: [DONE]\n\ndata: {"late": true}\n\n', "data_after_done"),
        (b'dta: {"a": 1}\n\n', "line_without_field"),
    ],
)
def test_framing_violations_are_reported_not_raised(stream, kind):
    for chunk_size in (0, 1):
        parser = parse(stream, expect_done=True, chunk_size=chunk_size)
        assert kind in [i.kind for i in parser.issues], (chunk_size, parser.issues)


def test_missing_done_is_only_an_issue_when_expected():
    assert parse(b'data: {"a": 1}\n\n', expect_done=False).issues == []


def test_invalid_utf8_does_not_crash_the_parser():
    parser = parse(b'data: {"a": "\xff\xfe"}\n\n')
    assert len(parser.events) == 1 and parser.events[0].json == {"a": "\ufffd\ufffd"}


def test_event_ids_and_retry_are_read():
    parser = parse(b"id: 7\nretry: 1500\ndata: {}\n\n")
    assert parser.events[0].id == "7" and parser.events[0].retry == 1500


@pytest.mark.parametrize("stream", [True, False], ids=["fast_path", "line_by_line"])
def test_an_event_nested_too_deeply_is_not_json_not_a_crash(stream):
    """A hostile event nested past the interpreter's recursion limit: the recording (transport,
    proxy, offline check) gets json_error for it and goes on, it never raises out of the parser."""
    from conformance.exchange import record
    from conformance.sse import TOO_DEEP

    deep = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    text = f"data: {deep}\n\ndata: [DONE]\n\n" if stream else f"data: {deep}\r\n\r\ndata: [DONE]\r\n\r\n"
    ex = record(method="POST", url="http://h/v1/chat/completions", request_headers={}, request_body={"model": "m", "messages": [], "stream": True},
                status=200, headers={"content-type": "text/event-stream"}, body=text.encode())
    assert ex.events[0].json is None and ex.events[0].json_error == TOO_DEEP
    assert ex.saw_done
    parsed = parse(f"data: {deep}\ndata: {deep}\n\n".encode())  # two data lines: the blank-line check must not crash either
    assert parsed.events[0].json_error
