"""Content blocks of requests: text, image (base64 and URL), tool_result forms, document."""

import pytest

from conformance.checks.common import check_success_status
from conformance.suites.anthropic_support import HELLO, WEATHER_TOOL, body, check_error, check_reply, png_base64, send

pytestmark = pytest.mark.conformance(protocol="anthropic", feature="content_blocks")

IMAGE_PROMPT = "Describe this image in one short sentence."


def test_content_text_blocks(case):
    """user content as an array of text blocks is accepted"""
    content = [{"type": "text", "text": "Please follow the next instruction."}, {"type": "text", "text": HELLO}]
    check_reply(case, send(case, body(case, content)), max_tokens=64)


@pytest.mark.capability("vision")
def test_content_image_base64(case):
    """an image block with a base64 source is accepted"""
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_base64()}},
               {"type": "text", "text": IMAGE_PROMPT}]
    check_reply(case, send(case, body(case, content)), max_tokens=64)


@pytest.mark.capability("vision")
def test_content_image_url(case):
    """an image block with a URL source is accepted"""
    url = case.target.image_url
    if not url:
        case.skip(f"no image URL configured: pass {case.option('image_url')} with an https image the target can fetch (or image_url in the config)")
    content = [{"type": "image", "source": {"type": "url", "url": url}}, {"type": "text", "text": IMAGE_PROMPT}]
    check_reply(case, send(case, body(case, content)), max_tokens=64)


def _tool_history(result_block):
    return [
        {"role": "user", "content": "What is the weather in Paris? Use get_weather."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_conformance_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [result_block]},
    ]


TOOL_RESULTS = {
    "string": {"type": "tool_result", "tool_use_id": "toolu_conformance_1", "content": "{\"temp_c\": 21}"},
    "blocks": {"type": "tool_result", "tool_use_id": "toolu_conformance_1", "content": [{"type": "text", "text": "{\"temp_c\": 21}"}]},
    "is_error": {"type": "tool_result", "tool_use_id": "toolu_conformance_1", "content": "the weather service is down", "is_error": True},
}


@pytest.mark.parametrize("form", sorted(TOOL_RESULTS))
def test_content_tool_result(case, form):
    """a tool_result block ({form}) answering an earlier tool_use is accepted"""
    request = body(case, max_tokens=256, tools=[WEATHER_TOOL], messages=_tool_history(TOOL_RESULTS[form]))
    check_reply(case, send(case, request), max_tokens=256)


def test_content_document(case):
    """a document block gets a reply, or the documented refusal where the profile says it is unsupported"""
    content = [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "The river is long."}},
               {"type": "text", "text": "Summarise the document in one sentence."}]
    exchange = send(case, body(case, content))
    unsupported = "document" in (case.rule("content_blocks", "unsupported", default=[]) or [])
    row = case.rule("errors", "unsupported_content_block", default=None)
    if unsupported and row and exchange.status != 200:
        check_error(case, exchange, "unsupported_content_block", row)  # the documented refusal passes
        return  # (a reply instead means support was added since the document: judged as a reply below)
    if exchange.status is not None and 400 <= exchange.status < 500 and row:
        check_error(case, exchange, "unsupported_content_block", row)
        case.unsupported(f"the target refused the document block with {exchange.status}")
    case.check(check_success_status, exchange)
    check_reply(case, exchange, max_tokens=64)
