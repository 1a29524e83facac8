"""Basic, non-streamed chat completions."""

import pytest

from conformance.suites.openai_support import chat_body, check_reply, send

pytestmark = pytest.mark.conformance(protocol="openai", feature="basic")


def test_basic_completion(case):
    """a basic completion is a well-formed chat.completion"""
    check_reply(case, send(case, chat_body(case)))


def test_basic_completion_without_system_message(case):
    """a single user message gets a well-formed reply"""
    body = chat_body(case)
    body["messages"] = body["messages"][1:]
    check_reply(case, send(case, body))
