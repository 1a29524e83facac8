"""Named faults of the reference server's Anthropic Messages endpoint (see :mod:`conformance.reference.faults`).

Every case module of ``conformance/suites/anthropic_messages`` is under a package whose name
contains "anthropic", so ``select`` expressions start with it to keep OpenAI cases out.
"""

from conformance.reference.faults import fault

A = "anthropic"

# -- non-streamed replies -----------------------------------------------------------------------------
fault("anthropic_wrong_message_type", A, "the reply says type 'chat.completion' instead of 'message'",
      ["check_message_schema"], select="anthropic and reply")
fault("anthropic_zero_usage", A, "usage is 0/0 for a non-empty prompt and reply (class 24)",
      ["check_anthropic_usage"], ["check_anthropic_stop_reason", "check_stream_usage"], select="anthropic and reply")
fault("anthropic_stop_reason_always_end_turn", A, "stop_reason hard-coded to end_turn (class 26)",
      ["check_anthropic_stop_reason"], select="anthropic and (max_tokens or tool_use or tool_choice)")
fault("anthropic_tool_choice_any_as_auto", A, "tool_choice {type: any} treated as auto (class 26)",
      ["check_anthropic_tool_choice"], select="anthropic and tool_choice")
fault("anthropic_ignore_tool_choice", A, "tool_choice is ignored: tool, any and none act as auto, streamed and not",
      ["check_anthropic_tool_choice"], select="anthropic and tool_choice")
fault("anthropic_ignore_max_tokens", A, "max_tokens is ignored",
      ["check_anthropic_max_tokens"], ["check_anthropic_stop_reason"], select="anthropic and max_tokens")
fault("anthropic_ignore_stop_sequences", A, "stop_sequences is ignored: the reply runs past the stop sequence (class 26)",
      ["check_anthropic_stop_sequence"], select="anthropic and reply_stop_sequence")
fault("anthropic_stop_sequence_as_end_turn", A, "a reply cut at a stop sequence says stop_reason end_turn and stop_sequence null, streamed and not",
      ["check_stop_reported"], select="anthropic and reply_stop_sequence")
fault("anthropic_no_stop_sequence_value", A, "stop_reason stop_sequence but stop_sequence: null",
      ["check_anthropic_stop_sequence"], select="anthropic and reply_stop_sequence")
fault("anthropic_tool_input_as_string", A, "tool_use input sent as a JSON string instead of an object",
      ["check_message_schema"], ["check_anthropic_tool_use_input", "check_success_status"], select="anthropic and tool and not stream")
fault("anthropic_tool_input_missing_required", A, "tool_use input lacks the keys its input_schema requires",
      ["check_anthropic_tool_use_input"], select="anthropic and tool and not stream")

fault("anthropic_drop_image_block", A, "image content blocks are silently dropped (never reach the model, not counted in input_tokens)",
      ["check_content_block_counted"], select="anthropic and block_reaches_model")

# -- streams ----------------------------------------------------------------------------------------
fault("anthropic_stream_no_event_lines", A, "stream events sent without 'event:' lines (class 22)",
      ["check_stream_event_names"], select="anthropic and stream")
fault("anthropic_stream_wrong_event_names", A, "content_block_delta events named 'delta' (class 22)",
      ["check_stream_event_names"], select="anthropic and stream")
fault("anthropic_stream_done", A, "'data: [DONE]' at the end of an Anthropic stream (class 7)",
      ["check_stream_no_done"], select="anthropic and stream")
fault("anthropic_stream_index_from_1", A, "content-block indexes start at 1 (class 23)",
      ["check_stream_block_indexes"], ["check_stream_matches_message"], select="anthropic and stream")
fault("anthropic_stream_delta_wrong_index", A, "deltas name the next block's index, not the open one (class 23)",
      ["check_stream_block_indexes"], ["check_stream_matches_message"], select="anthropic and stream")
fault("anthropic_stream_no_block_stop", A, "content_block_stop is never sent (class 23)",
      ["check_stream_event_order"], select="anthropic and stream")
fault("anthropic_stream_stop_reason_in_start", A, "message_start already carries stop_reason end_turn",
      ["check_stream_stop_reason"], select="anthropic and stream")
fault("anthropic_stream_no_stop_reason", A, "message_delta carries stop_reason: null",
      ["check_stream_stop_reason"], ["check_anthropic_stop_reason", "check_stream_matches_message", "check_anthropic_stop_sequence", "check_stop_reported"], select="anthropic and stream")
fault("anthropic_stream_zero_start_usage", A, "message_start usage is 0/0 (class 24)",
      ["check_stream_usage"], select="anthropic and stream")
fault("anthropic_stream_no_delta_usage", A, "message_delta carries no usage (class 24)",
      ["check_stream_usage", "check_stream_event_schema"], ["check_anthropic_stop_reason"], select="anthropic and stream")
fault("anthropic_stream_tool_json_broken", A, "input_json_delta pieces do not concatenate to valid JSON",
      ["check_stream_tool_input"], ["check_anthropic_tool_use_input"], select="anthropic and stream_tool")
fault("anthropic_stream_drop_tool_use", A, "the stream leaves out the tool_use blocks of the reply (stop_reason still tool_use)",
      ["check_anthropic_tool_choice", "check_anthropic_stop_reason"], ["check_stream_matches_message"],
      select="anthropic and (stream_tool_use or tool_choice_stream)")
fault("anthropic_stream_differs", A, "the streamed reply differs from the non-streamed one",
      ["check_stream_matches_message"], select="anthropic and stream_matches")
fault("anthropic_stream_stop_reason_differs", A, "the stream says stop_reason 'stop_sequence' where the non-streamed message says 'end_turn' (a structure difference)",
      ["check_stream_matches_message"], select="anthropic and stream_matches")
fault("anthropic_stream_error_event_openai_shape", A, "the stream ends with an error event in the OpenAI shape (class 25)",
      ["check_stream_error_event"], ["check_stream_matches_message"], select="anthropic and stream")

fault("anthropic_error_as_200_stream", A, "a streamed request for an unknown model gets 200 and an SSE error event (class 11)",
      ["check_error_before_stream"], select="anthropic and stream_error")

# -- errors and auth --------------------------------------------------------------------------------
fault("anthropic_openai_error_shape", A, "/v1/messages answers errors in the OpenAI shape (class 25)",
      ["check_anthropic_error_shape"], ["check_error_row"], select="anthropic and (error or document)")
fault("anthropic_wrong_error_type", A, "every error says type api_error",
      ["check_error_row"], select="anthropic and (error or document)")
fault("anthropic_bad_key_400", A, "an invalid API key gets 400 instead of 401 (class 14)",
      ["check_error_status"], select="anthropic and invalid_api_key")
fault("anthropic_max_tokens_optional", A, "a request without max_tokens is accepted",
      ["check_error_status"], select="anthropic and missing_max_tokens")
fault("anthropic_model_optional", A, "a request without model is served by a default model (model is required)",
      ["check_error_status"], select="anthropic and required_field_missing")
fault("anthropic_accept_system_role", A, "role system inside messages is accepted",
      ["check_error_status"], select="anthropic and system_role")
fault("anthropic_refuse_x_api_key", A, "the x-api-key header is not accepted (class 27)",
      ["check_auth_scheme_accepted"], select="anthropic and auth_scheme")
fault("anthropic_refuse_bearer", A, "Authorization: Bearer is refused although documented (class 27)",
      ["check_auth_scheme_accepted"], select="anthropic and auth_scheme")
fault("anthropic_require_version", A, "a request without anthropic-version is refused although the profile says optional (class 27)",
      ["check_version_header_handling"], select="anthropic and version_header")
fault("anthropic_accept_missing_version", A, "a request without anthropic-version succeeds where the profile (upstream) requires it (class 27)",
      ["check_version_header_handling"], select="anthropic and version_header", profiles=("anthropic",))

# -- the official client breaks on these too: its SDK check fires with the rule (proven by tests/test_sdk.py) -------
from conformance.reference.faults_openai import _sdk_breaks  # noqa: E402

_sdk_breaks("check_anthropic_sdk", "anthropic_openai_error_shape", "anthropic_stream_delta_wrong_index", "anthropic_stream_error_event_openai_shape",
            "anthropic_stream_index_from_1", "anthropic_stream_no_delta_usage", "anthropic_stream_no_event_lines", "anthropic_stream_tool_json_broken",
            "anthropic_tool_input_as_string")
