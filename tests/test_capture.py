"""`conformance check FILE…`: recorded traffic (HAR, raw curl captures, JSONL, results.json) judged
offline by the same judge() as a live run, with the usual reports."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conformance.cli import main

SECRET = "sk-live-capture-secret-0123456789"
ANT_SECRET = "sk-ant-capture-secret-9876543210"
COOKIE = "sessioncookievalue42"
QUERY_KEY = "AIzaQueryKeySecret777"
CREATED = 1700000000  # 2023-11-14: the capture's own time, far from the local clock
STARTED = "2023-11-14T22:13:20.000Z"


def chunk(delta: dict, finish=None, created=CREATED) -> str:
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": created, "model": "m",
                       "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})


def chat_stream(done: bool = True, created=CREATED) -> str:
    events = [chunk({"role": "assistant", "content": ""}, created=created), chunk({"content": "Hello"}, created=created),
              chunk({}, "stop", created=created)]
    return "".join(f"data: {e}\n\n" for e in events) + ("data: [DONE]\n\n" if done else "")


def chat_reply(created=CREATED, echo: str = "Hello") -> dict:
    return {"id": "chatcmpl-2", "object": "chat.completion", "created": created, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": echo, "refusal": None}, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


def anthropic_reply() -> dict:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}


def har_entry(url: str, request_body, status: int, response_text: str, mime: str, *, headers=(), method="POST", base64_body=False) -> dict:
    content = {"size": len(response_text), "mimeType": mime, "text": response_text}
    if base64_body:
        content = {**content, "text": base64.b64encode(response_text.encode()).decode(), "encoding": "base64"}
    request = {"method": method, "url": url, "httpVersion": "HTTP/2", "cookies": [], "queryString": [], "headersSize": -1, "bodySize": -1,
               "headers": [{"name": ":authority", "value": "api.example.com"}, {"name": "content-type", "value": "application/json"}, *headers]}
    if request_body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(request_body)}
    return {"startedDateTime": STARTED, "time": 12, "request": request,
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/2", "cookies": [], "redirectURL": "", "headersSize": -1, "bodySize": -1,
                         "headers": [{"name": "content-type", "value": mime}], "content": content},
            "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 2}}


def har(*entries) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "devtools", "version": "1"}, "entries": list(entries)}}


def save(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def run_check(capsys, *argv) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rules(report_dir: Path) -> dict[str, set[str]]:
    results = json.loads((report_dir / "results.json").read_text())
    return {c["id"]: {f["rule"] for f in c["findings"]} for c in results["cases"]}


AUTH = [{"name": "authorization", "value": f"Bearer {SECRET}"}]
STREAM_REQ = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
REPLY_REQ = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_har_stream_without_done_fires_and_a_correct_one_stays_silent(tmp_path, capsys):
    capture = save(tmp_path / "app.har", har(
        har_entry("https://api.example.com/v1/chat/completions", STREAM_REQ, 200, chat_stream(done=True), "text/event-stream", headers=AUTH),
        har_entry("https://api.example.com/v1/chat/completions", STREAM_REQ, 200, chat_stream(done=False), "text/event-stream", headers=AUTH),
        har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, json.dumps(chat_reply()), "application/json", headers=AUTH, base64_body=True),
    ))
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, err  # openai-python tolerates a stream without [DONE]: a WARN in compatible
    found = rules(tmp_path / "r")
    assert found == {"app.har#0": set(), "app.har#1": {"stream_done_terminator"}, "app.har#2": set()}
    assert "3 exchange(s) judged (compatible; openai, anthropic) in 3 case(s): 2 PASS, 0 FAIL, 1 WARN" in out
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    case = next(c for c in results["cases"] if c["id"] == "app.har#1")
    assert (case["protocol"], case["feature"], case["verdict"]) == ("openai", "streaming", "WARN")
    code, out, err = run_check(capsys, str(capture), "--strictness", "strict", "--report-dir", str(tmp_path / "s"))
    assert code == 1 and "2 PASS, 1 FAIL" in out, out + err
    assert case["exchanges"][0]["response"]["raw_sse"].endswith('"finish_reason": "stop"}]}\n\n')
    for name in ("summary.md", "junit.xml", "index.html"):
        assert (tmp_path / "r" / name).is_file()


def test_har_framing_goes_through_the_strict_sse_parser(tmp_path, capsys):
    glued = chat_stream().replace("\n\ndata: ", "\ndata: ", 1)  # two events without a blank line between them
    capture = save(tmp_path / "glued.har", har(har_entry("https://api.example.com/v1/chat/completions", STREAM_REQ, 200, glued, "text/event-stream")))
    code, _, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 1, err
    assert "sse_framing" in {r.split(".")[0] for r in rules(tmp_path / "r")["glued.har#0"]}


def test_non_llm_entries_are_counted_and_skipped(tmp_path, capsys):
    capture = save(tmp_path / "page.har", har(
        har_entry("https://app.example.com/static/app.js", None, 200, "console.log(1)", "application/javascript", method="GET"),
        har_entry("https://api.example.com/v1/chat/completions", None, 204, "", "text/plain", method="OPTIONS"),
        har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, json.dumps(chat_reply()), "application/json"),
    ))
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, err
    assert "1 exchange(s) judged" in out and "2 non-LLM entries skipped" in out
    assert list(rules(tmp_path / "r")) == ["page.har#2"]


def test_secrets_of_the_capture_never_reach_the_outputs(tmp_path, capsys):
    echoed = chat_reply(echo=f"your key is {SECRET} and {ANT_SECRET} and {COOKIE} and {QUERY_KEY}")
    capture = save(tmp_path / "secrets.har", har(
        har_entry(f"https://api.example.com/v1/chat/completions?key={QUERY_KEY}", REPLY_REQ, 200, json.dumps(echoed), "application/json",
                  headers=[*AUTH, {"name": "cookie", "value": f"session={COOKIE}; theme=dark"}]),
        har_entry("https://api.example.com/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": f"repeat {SECRET}"}]},
                  200, json.dumps(anthropic_reply()), "application/json", headers=[{"name": "x-api-key", "value": ANT_SECRET}]),
    ))
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code in (0, 1), err
    for path in (tmp_path / "r").iterdir():
        text = path.read_text()
        for secret in (SECRET, ANT_SECRET, COOKIE, QUERY_KEY):
            assert secret not in text, f"{secret} leaked into {path.name}"
    assert "[REDACTED]" in (tmp_path / "r" / "results.json").read_text()
    for secret in (SECRET, ANT_SECRET, COOKIE, QUERY_KEY):
        assert secret not in out + err


def test_created_is_judged_against_the_capture_time_not_the_local_clock(tmp_path, capsys):
    capture = save(tmp_path / "old.har", har(har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, json.dumps(chat_reply()), "application/json")))
    code, _, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0 and rules(tmp_path / "r")["old.har#0"] == set(), err
    # the same reply with 'created' three days before the capture still fires
    late = save(tmp_path / "late.har", har(har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, json.dumps(chat_reply(created=CREATED - 3 * 86400)), "application/json")))
    run_check(capsys, str(late), "--report-dir", str(tmp_path / "r2"))
    assert rules(tmp_path / "r2")["late.har#0"] == {"created_timestamp.clock_skew"}


CURL = (
    "POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer " + SECRET + "\r\nContent-Type: application/json\r\n\r\n"
    + json.dumps(STREAM_REQ) + "\r\n\r\n"
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ndate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n" + chat_stream(done=False)
    + "HTTP/2 200 \r\ncontent-type: application/json\r\ndate: Tue, 14 Nov 2023 22:13:21 GMT\r\n\r\n" + json.dumps(chat_reply()) + "\n"
)


def test_raw_curl_capture_with_several_exchanges(tmp_path, capsys):
    capture = save(tmp_path / "bug.txt", CURL)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, err  # a stream without [DONE]: WARN in compatible
    assert rules(tmp_path / "r") == {"bug.txt#0": {"stream_done_terminator"}, "bug.txt#1": set()}
    assert "bug.txt#1: the capture has no request: endpoint /v1/chat/completions inferred" in out
    assert SECRET not in (tmp_path / "r" / "results.json").read_text()


def test_raw_curl_without_request_does_not_apply_request_driven_rules(tmp_path, capsys):
    # stop was asked and ignored, but the capture does not say so: no stop_honoured finding, no false FAIL
    usage = json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CREATED, "model": "m", "choices": [],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}})
    stream = chat_stream().replace("data: [DONE]", f"data: {usage}\n\ndata: [DONE]")  # include_usage was asked, but the capture cannot say
    capture = save(tmp_path / "c.txt", "HTTP/1.1 200 OK\ncontent-type: text/event-stream\nDate: Tue, 14 Nov 2023 22:13:20 GMT\n\n" + stream)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, out + err
    assert rules(tmp_path / "r") == {"c.txt#0": set()}


def test_jsonl_capture_and_a_broken_line(tmp_path, capsys):
    good = {"request": {"method": "POST", "url": "https://api.example.com/v1/chat/completions", "headers": {"authorization": f"Bearer {SECRET}"}, "body": STREAM_REQ},
            "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": chat_stream(done=False)}, "started_at": STARTED}
    reply = {"request": {"url": "https://api.example.com/v1/chat/completions", "body": REPLY_REQ},
             "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": chat_reply()}, "started_at": STARTED}
    capture = save(tmp_path / "traffic.jsonl", json.dumps(good) + "\n" + json.dumps(reply) + "\n" + '{"request": {"url": "https://a/v1/chat/comp' + "\n")
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 2
    assert err.strip() == "conformance: error: traffic.jsonl#line 3: invalid JSON (Unterminated string starting at column 21)"
    assert rules(tmp_path / "r") == {"traffic.jsonl#line 1": {"stream_done_terminator"}, "traffic.jsonl#line 2": set()}
    assert "2 exchange(s) judged" in out and "1 unreadable skipped" in out


def test_truncated_har_judges_the_complete_entries_and_names_the_cut(tmp_path, capsys):
    entries = [har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, json.dumps(chat_reply()), "application/json") for _ in range(3)]
    text = json.dumps(har(*entries), indent=1)
    capture = save(tmp_path / "cut.har", text[: int(len(text) * 0.8)])
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("conformance: error: cut.har#2: the file is cut or invalid here")
    assert set(rules(tmp_path / "r")) == {"cut.har#0", "cut.har#1"}


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ("hello world\n", "not a recognised capture"),
    ('{"log": {"entries": 3}}', "not a HAR file: no log.entries list"),
    ('{"log": {"entri', "invalid HAR"),
])
def test_unreadable_captures_get_one_line_and_exit_2(tmp_path, capsys, content, message):
    capture = save(tmp_path / "bad.har", content)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 2
    assert err.startswith(f"conformance: error: {capture}: {message}") or err.startswith(f"conformance: error: bad.har#0: {message}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_capture_with_nothing_to_judge_exits_2(tmp_path, capsys):
    capture = save(tmp_path / "page.har", har(har_entry("https://app.example.com/", None, 200, "<html>", "text/html", method="GET")))
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 2
    assert err.strip() == f"conformance: error: {capture}: no LLM API exchange to judge (1 other entry skipped)"


def test_missing_file_and_unknown_check(tmp_path, capsys):
    code, _, err = run_check(capsys, str(tmp_path / "nope.har"))
    assert code == 2 and err.strip() == f"conformance: error: {tmp_path / 'nope.har'}: no such file"
    capture = save(tmp_path / "a.har", har())
    code, _, err = run_check(capsys, str(capture), "--disable-check", "check_nope")
    assert code == 2 and "unknown check 'check_nope'" in err


def test_format_can_be_forced_and_checks_disabled(tmp_path, capsys):
    good = {"request": {"url": "https://api.example.com/v1/chat/completions", "body": STREAM_REQ},
            "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": chat_stream(done=False)}, "started_at": STARTED}
    capture = save(tmp_path / "capture.log", json.dumps(good) + "\n")
    code, out, err = run_check(capsys, str(capture), "--format", "jsonl", "--disable-check", "check_stream_done_terminator", "--report-dir", str(tmp_path / "r"))
    assert code == 0, err
    assert rules(tmp_path / "r") == {"capture.log#line 1": set()}


def test_rejudging_a_results_json_keeps_its_cases_and_says_when_a_stream_was_truncated(tmp_path, capsys):
    from conformance.exchange import MAX_RAW_SSE_CHARS

    stream_events = [{"event": None, "data": chunk({"role": "assistant", "content": ""})}, {"event": None, "data": chunk({}, "stop")}]
    saved = {
        "schema_version": "1", "tool": {"name": "conformance", "version": "0"}, "started_at": STARTED, "duration_s": 1, "strictness": "compatible",
        "targets": [{"name": "gw", "base_url": "https://gw.example.com/v1", "profile": ["openai"]}],
        "summary": {"total": 2, "passed": 2, "failed": 0, "warned": 0, "unsupported": 0, "skipped": 0, "errors": 0},
        "cases": [
            {"id": "openai_chat/test_stream.py::test_a", "target": "gw", "protocol": "openai", "feature": "streaming", "title": "a", "verdict": "PASS", "duration_s": 0,
             "findings": [], "exchanges": [{"request": {"method": "POST", "url": "https://gw.example.com/v1/chat/completions", "headers": {}, "body": STREAM_REQ},
                                             "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": None,
                                                          "events": stream_events, "raw_sse": chat_stream(done=False), "error": None}}]},
            {"id": "openai_chat/test_stream.py::test_long", "target": "gw", "protocol": "openai", "feature": "streaming", "title": "long", "verdict": "PASS", "duration_s": 0,
             "findings": [], "exchanges": [{"request": {"method": "POST", "url": "https://gw.example.com/v1/chat/completions", "headers": {}, "body": STREAM_REQ},
                                             "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": None,
                                                          "events": [*stream_events, {"event": None, "data": "[DONE]"}],
                                                          "raw_sse": ("data: " + chunk({"content": "x" * 100}) + "\n\n") * (MAX_RAW_SSE_CHARS // 100), "error": None}}]},
        ],
    }
    capture = save(tmp_path / "results.json", saved)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, err  # a stream without [DONE]: WARN in compatible
    assert "(compatible; openai)" in out
    assert rules(tmp_path / "r") == {"openai_chat/test_stream.py::test_a": {"stream_done_terminator"}, "openai_chat/test_stream.py::test_long": set()}
    assert "note: results.json#openai_chat/test_stream.py::test_long: the stream was longer than" in out
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    long = next(c for c in results["cases"] if c["id"].endswith("test_long"))
    assert "judged from its stored events" in long["reason"] and long["target"] == "gw"


def test_rejudging_a_saved_run_applies_the_new_strictness(tmp_path, capsys):
    reply = chat_reply()
    del reply["choices"][0]["logprobs"], reply["choices"][0]["message"]["refusal"]  # omitted nullables: fine for SDKs, not for the spec
    saved = {
        "schema_version": "1", "tool": {"name": "conformance", "version": "0"}, "started_at": STARTED, "duration_s": 1, "strictness": "compatible",
        "targets": [{"name": "gw", "base_url": "https://gw.example.com/v1", "profile": ["openai"]}],
        "summary": {"total": 1, "passed": 1, "failed": 0, "warned": 0, "unsupported": 0, "skipped": 0, "errors": 0},
        "cases": [{"id": "openai_chat/test_basic.py::test_basic", "target": "gw", "protocol": "openai", "feature": "basic", "title": "basic", "verdict": "PASS",
                   "duration_s": 0, "findings": [],
                   "exchanges": [{"request": {"method": "POST", "url": "https://gw.example.com/v1/chat/completions", "headers": {"authorization": "[REDACTED]"}, "body": REPLY_REQ},
                                  "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": reply, "events": None, "raw_sse": None, "error": None}}]}],
    }
    capture = save(tmp_path / "results.json", saved)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "same"))
    assert code == 0 and "(compatible; openai)" in out, out + err
    assert rules(tmp_path / "same") == {"openai_chat/test_basic.py::test_basic": set()}
    code, out, err = run_check(capsys, str(capture), "--strictness", "strict", "--report-dir", str(tmp_path / "strict"))
    assert code == 1 and "(strict; openai)" in out, out + err
    assert rules(tmp_path / "strict") == {"openai_chat/test_basic.py::test_basic": {"chat_response_schema"}}


def test_rejudging_carries_the_case_expectations_over(tmp_path, capsys):
    saved = {
        "schema_version": "1", "tool": {"name": "conformance", "version": "0"}, "started_at": STARTED, "duration_s": 1, "strictness": "compatible",
        "targets": [{"name": "gw", "profile": "openai"}],
        "summary": {"total": 1, "passed": 0, "failed": 1, "warned": 0, "unsupported": 0, "skipped": 0, "errors": 0},
        "cases": [{"id": "openai_chat/test_errors.py::test_bad_role", "target": "gw", "protocol": "openai", "feature": "errors", "title": "bad role", "verdict": "FAIL",
                   "duration_s": 0, "findings": [{"rule": "error_status", "check": "check_error_status", "class": None, "severity": "error", "message": "200 instead of 400", "pointer": "", "source": "x"}],
                   "exchanges": [{"request": {"method": "POST", "url": "https://gw.example.com/v1/chat/completions", "headers": {}, "body": REPLY_REQ},
                                  "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": chat_reply(), "events": None, "raw_sse": None, "error": None}}]}],
    }
    capture = save(tmp_path / "results.json", saved)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 1, out + err
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    case = results["cases"][0]
    assert (case["verdict"], [f["rule"] for f in case["findings"]]) == ("FAIL", ["error_status"])
    assert "1 finding(s) of the case's own expectations carried over from the saved run" in case["reason"]
    code, out, err = run_check(capsys, str(capture), "--disable-check", "check_error_status", "--report-dir", str(tmp_path / "off"))
    assert code == 0, out + err


def test_har_entries_without_their_body_are_skipped_not_failed(tmp_path, capsys):
    no_text = har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, "", "application/json")
    del no_text["response"]["content"]["text"]
    empty_stream = har_entry("https://api.example.com/v1/chat/completions", STREAM_REQ, 200, "", "text/event-stream")
    good = har_entry("https://api.example.com/v1/chat/completions", REPLY_REQ, 200, json.dumps(chat_reply()), "application/json")
    capture = save(tmp_path / "devtools.har", har(no_text, empty_stream, good))
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, out + err
    assert list(rules(tmp_path / "r")) == ["devtools.har#2"]
    assert "2 without a judgeable exchange skipped" in out


CURL_VERBOSE = (
    "* Connected to api.example.com (127.0.0.1) port 443\n"
    "> POST /v1/chat/completions HTTP/1.1\n> Host: api.example.com\n> Authorization: Bearer " + SECRET + "\n> Content-Type: application/json\n>\n"
    "* upload completely sent off\n"
    "< HTTP/1.1 200 OK\n< content-type: text/event-stream\n< date: Tue, 14 Nov 2023 22:13:20 GMT\n<\n" + chat_stream(done=False)
)


def test_curl_verbose_capture(tmp_path, capsys):
    capture = save(tmp_path / "verbose.txt", CURL_VERBOSE)
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    assert code == 0, out + err  # a stream without [DONE]: WARN in compatible
    assert rules(tmp_path / "r") == {"verbose.txt#0": {"stream_done_terminator"}}
    results = (tmp_path / "r" / "results.json").read_text()
    assert SECRET not in results and "https://api.example.com/v1/chat/completions" in results


def test_a_stream_larger_than_the_memory_limit_is_not_judged_not_failed(tmp_path, capsys):
    """A conformant stream past max_stream_bytes is read only in part: judged, its cut end would
    lack [DONE] and finish_reason (a false FAIL). It is an ERROR that says it was not judged."""
    from conformance.exchange import MAX_STREAM_BYTES

    piece = chunk({"content": "x" * 1000})
    events = [chunk({"role": "assistant", "content": ""})] + [piece] * (MAX_STREAM_BYTES // len(piece) + 100) + [chunk({}, "stop")]
    big = {"request": {"method": "POST", "url": "https://api.example.com/v1/chat/completions", "body": STREAM_REQ},
           "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
                        "body": "".join(f"data: {e}\n\n" for e in events) + "data: [DONE]\n\n"}, "started_at": STARTED}
    capture = save(tmp_path / "big.jsonl", json.dumps(big) + "\n")
    code, out, err = run_check(capsys, str(capture), "--report-dir", str(tmp_path / "r"))
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    [case] = results["cases"]
    assert case["findings"] == [] and case["verdict"] == "ERROR"
    assert case["reason"].startswith("not judged: response stream larger than the 24 MB limit (max_stream_bytes)")
    assert code == 1
