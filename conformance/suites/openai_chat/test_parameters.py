"""Request parameters of both CrossModel tables and the extended table: documented values are
accepted (or refused cleanly), out-of-range values are rejected, and every parameter whose
effect is observable is honoured."""

import pytest

from conformance.checks.errors import check_error_row, check_error_shape, check_error_status
from conformance.checks.openai_chat import check_choice_indexes
from conformance.checks.openai_params import (
    check_json_reply,
    check_max_completion_tokens_accepted,
    check_out_of_range_rejected,
    check_stream_n_choices,
    check_token_cap_finish_reason,
    check_token_cap_honoured,
)
from conformance.checks.openai_stream import choice_entries, streamed_text
from conformance.checks.probes import check_stop_reported
from conformance.suites.probe_support import stop_sequences_from
from conformance.suites.openai_support import chat_body, check_reply, check_reply_or_unsupported, check_stream, refused_cleanly, send

pytestmark = pytest.mark.conformance(protocol="openai", feature="parameters")

STORY = "Tell me a short story about a river, in at least five sentences."

# Parameters with no effect a client can observe: sent with a documented value, they must give a
# well-formed reply (or a clean, documented refusal: UNSUPPORTED).
ACCEPTED = {
    "temperature": {"temperature": 0.7},
    "top_p": {"top_p": 0.9},
    "presence_penalty": {"presence_penalty": 0.5},
    "frequency_penalty": {"frequency_penalty": 0.5},
    "seed": {"seed": 42},
    "metadata": {"metadata": {"purpose": "conformance"}},
    "store": {"store": False},
    "service_tier": {"service_tier": "auto"},
    "verbosity": {"verbosity": "low"},
    "user": {"user": "user-4f9c2a"},
    "safety_identifier": {"safety_identifier": "hash-4f9c2a"},
    "safety_identifier_and_user": {"safety_identifier": "hash-4f9c2a", "user": "user-4f9c2a"},
    "prediction": {"prediction": {"type": "content", "content": "Hello from the conformance suite"}},
    "web_search_options": {"web_search_options": {}},
    "logit_bias": {"logit_bias": {"1000": -1}},
    "response_format_text": {"response_format": {"type": "text"}},
    "max_tokens_legacy": {"max_tokens": 64},
    "stream_false": {"stream": False},
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_param_accepted(case, name):
    """{name} with a documented value gives a well-formed reply (or a clean refusal)"""
    feature = {"max_tokens_legacy": "max_tokens", "response_format_text": "response_format.text",
               "safety_identifier_and_user": "safety_identifier", "stream_false": "stream"}.get(name, name)
    check_reply_or_unsupported(case, send(case, chat_body(case, **ACCEPTED[name])), name, feature=feature)


BOUNDED = ["temperature", "top_p", "presence_penalty", "frequency_penalty", "n", "stop", "logit_bias"]


def _bounds(case, name):
    rule = case.rule("params", name, default={}) or {}
    if not rule.get("check_bounds"):
        case.skip(f"profile {case.profile.name} documents no range for {name}")
    return rule


def _value(name, rule, which):
    """The request value for a bound ('min', 'max') or one step beyond it ('below', 'above')."""
    if name == "stop":
        count = rule["max_items"] + (1 if which == "above" else 0)
        return [f"zq{k}zq" for k in range(count)]
    bound = rule.get("max" if which in ("max", "above") else "min")
    if bound is None:
        return None
    step = {"below": -1, "above": 1}.get(which, 0)
    value = bound + step
    if name == "logit_bias":
        return {"1000": value * (2 if which in ("below", "above") else 1)}
    return value


@pytest.mark.parametrize("which", ["min", "max"])
@pytest.mark.parametrize("name", BOUNDED)
def test_param_bound_accepted(case, name, which):
    """{name} at its documented {which} bound is accepted"""
    rule = _bounds(case, name)
    value = _value(name, rule, which)
    if value is None or (name == "stop" and which == "min"):
        case.skip(f"the documents state no {which} bound for {name}")
    exchange = send(case, chat_body(case, **{name: value}))
    n = value if name == "n" else None
    check_reply_or_unsupported(case, exchange, f"{name}={value}", n)


@pytest.mark.parametrize("which", ["below", "above"])
@pytest.mark.parametrize("name", BOUNDED)
def test_param_out_of_range(case, name, which):
    """{name} {which} its documented range is rejected with 400 invalid_request_error"""
    rule = _bounds(case, name)
    value = _value(name, rule, which)
    if value is None or (name == "stop" and which == "below"):
        case.skip(f"the documents state no {'min' if which == 'below' else 'max'} bound for {name}")
    exchange = send(case, chat_body(case, **{name: value}))
    case.check(check_out_of_range_rejected, exchange, name, value)
    if exchange.status is not None and exchange.status >= 400:
        row = case.rule("errors", "unsupported_parameter") or {"status": 400, "type": "invalid_request_error"}
        case.check(check_error_status, exchange, int(row["status"]))
        case.check(check_error_shape, exchange, case.schemas, case.strictness)
        case.check(check_error_row, exchange, f"{name}={value}", row, f"{case.profile.name}:errors.unsupported_parameter")


# -- observable parameters ------------------------------------------------------------------------
CAPS = {
    "max_tokens": {"max_tokens": 5},
    "max_completion_tokens": {"max_completion_tokens": 5},
    "max_completion_tokens_precedence": {"max_tokens": 64, "max_completion_tokens": 5},
}


@pytest.mark.parametrize("name", list(CAPS))
def test_token_cap(case, name):
    """{name} caps the reply"""
    body = chat_body(case, STORY)
    del body["max_completion_tokens"]
    body.update(CAPS[name])
    exchange = send(case, body)
    param = "max_tokens" if name == "max_tokens" else "max_completion_tokens"
    if param == "max_completion_tokens":
        case.require(case.check(check_max_completion_tokens_accepted, exchange))
    else:
        refused_cleanly(case, exchange, "max_tokens")
    body = check_reply(case, exchange)
    case.check(check_token_cap_honoured, exchange, 5, param)
    _judge_cap_finish(case, exchange, [c.get("finish_reason") for c in body.get("choices") or [] if isinstance(c, dict)], param)


def _judge_cap_finish(case, exchange, finishes, param):
    """The story cannot be told in 5 tokens: a reply that filled the cap must say length."""
    if case.check(check_token_cap_finish_reason, exchange, 5, param):
        return
    if finishes and all(f != "length" for f in finishes):
        case.inconclusive("the model finished within 5 tokens, so the cap was never reached")


def test_token_cap_stream(case):
    """max_completion_tokens caps a streamed reply, which then says finish_reason: length"""
    body = chat_body(case, STORY, max_completion_tokens=5, stream=True, stream_options={"include_usage": True})
    exchange = send(case, body)
    case.require(case.check(check_max_completion_tokens_accepted, exchange))
    check_stream(case, exchange)
    finishes = [c.get("finish_reason") for _, _, c in choice_entries(exchange) if c.get("finish_reason") is not None]
    _judge_cap_finish(case, exchange, finishes, "max_completion_tokens")


def test_n_choices(case):
    """n: 2 gives two choices"""
    exchange = send(case, chat_body(case, n=2))
    refused_cleanly(case, exchange, "n=2")
    check_reply(case, exchange)
    case.check(check_choice_indexes, exchange, 2)


def test_n_choices_stream_include_usage(case):
    """n: 2 in a stream with include_usage gives two choices and exactly one usage chunk, after every choice ended"""
    exchange = send(case, chat_body(case, n=2, stream=True, stream_options={"include_usage": True}))
    refused_cleanly(case, exchange, "n=2 (stream)")
    check_stream(case, exchange)  # judge(): n choices, one final usage chunk with choices: [], its arithmetic
    case.check(check_stream_n_choices, exchange, 2)


def test_n_choices_stream(case):
    """n: 2 in a stream gives two choices"""
    exchange = send(case, chat_body(case, n=2, stream=True))
    refused_cleanly(case, exchange, "n=2 (stream)")
    check_stream(case, exchange)
    case.check(check_stream_n_choices, exchange, 2)


STOP_FORMS = {"string": 1, "array": 2}


def _stop_probe(case, form, stream=False):
    """A control request without stop, then the probe with a stop sequence taken from the control's
    own reply: whatever the model writes, a reply that still holds the sequence proves stop was
    ignored (judge()'s stop rule). Inconclusive only when the control gives nothing usable."""
    body = chat_body(case, STORY)
    control = send(case, body)
    refused_cleanly(case, control, "the stop-sequence control request")
    check_reply(case, control)
    texts = [(c.get("message") or {}).get("content") or "" for c in control.body.get("choices") or [] if isinstance(c, dict)]
    stops = stop_sequences_from(texts[0] if texts else "", STOP_FORMS[form])
    if len(stops) < STOP_FORMS[form]:
        case.inconclusive("the control reply (without stop) holds no word to use as a stop sequence")
    stop = stops[0] if form == "string" else stops
    exchange = send(case, {**body, "stop": stop, **({"stream": True} if stream else {})})
    refused_cleanly(case, exchange, f"stop ({form}{', stream' if stream else ''})", feature="stop")
    if stream:
        check_stream(case, exchange)
        text = streamed_text(exchange).get(0, "")
        finishes = [(c.get("finish_reason"), exchange.event_ptr(p, f"/choices/{k}/finish_reason"))
                    for p, k, c in choice_entries(exchange) if c.get("finish_reason") is not None]
        reason, pointer = finishes[-1] if finishes else (None, f"/exchanges/{exchange.index}/response/events")
    else:
        choices = check_reply(case, exchange).get("choices") or [{}]
        first = choices[0] if isinstance(choices[0], dict) else {}
        text, reason, pointer = (first.get("message") or {}).get("content") or "", first.get("finish_reason"), exchange.ptr("/choices/0/finish_reason")
    case.check(check_stop_reported, text, reason, "stop", texts[0], stops, pointer)


@pytest.mark.parametrize("form", list(STOP_FORMS))
def test_stop(case, form):
    """stop given as a {form}, taken from a control reply, ends the reply before the sequence"""
    _stop_probe(case, form)


def test_stop_stream(case):
    """stop taken from a control reply ends the streamed reply before the sequence"""
    _stop_probe(case, "string", stream=True)


JSON_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
FORMATS = {
    "json_object": ("Reply with a JSON object with one key, answer, whose value is the word hello.", {"type": "json_object"}, None),
    "json_schema": ("Give the city Paris and its population as JSON.",
                    {"type": "json_schema", "json_schema": {"name": "city_info", "strict": True, "schema": JSON_SCHEMA}}, JSON_SCHEMA),
}


@pytest.mark.parametrize("kind", list(FORMATS))
def test_response_format(case, kind):
    """response_format {kind} gives JSON content"""
    prompt, fmt, schema = FORMATS[kind]
    exchange = send(case, chat_body(case, prompt, response_format=fmt, max_completion_tokens=256))
    refused_cleanly(case, exchange, f"response_format {kind}")
    body = check_reply(case, exchange)
    if all(c.get("finish_reason") == "length" for c in body["choices"]):
        case.inconclusive("the reply was cut by the token cap, so its JSON cannot be judged")
    case.check(check_json_reply, exchange, schema)


AUDIO_FORMATS = ["wav", "mp3"]


@pytest.mark.capability("audio")
@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
def test_audio_output(case, fmt):
    """modalities text+audio with audio format {fmt} returns message.audio (or a clean refusal)"""
    from conformance.checks.openai_params import check_audio_output

    exchange = send(case, chat_body(case, modalities=["text", "audio"], audio={"voice": "alloy", "format": fmt}))
    refused_cleanly(case, exchange, f"audio output ({fmt})")
    check_reply(case, exchange)
    case.check(check_audio_output, exchange, fmt)
