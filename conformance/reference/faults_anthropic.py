"""Named faults of the reference server's Anthropic Messages endpoint (see :mod:`conformance.reference.faults`).

Every case module of ``conformance/suites/anthropic_messages`` is under a package whose name
contains "anthropic", so ``select`` expressions start with it to keep OpenAI cases out.
"""

from conformance.reference.fault_registry import fault

A = "anthropic"

# -- non-streamed replies -----------------------------------------------------------------------------
fault("anthropic_wrong_message_type", A, "the reply says type 'chat.completion' instead of 'message'",
      ["message_schema"], ["stream_event_schema"], select="anthropic and reply")
fault("anthropic_zero_usage", A, "usage is 0/0 for a non-empty prompt and reply (class 24)",
      ["anthropic_usage", "anthropic_usage.output_zero"], ["anthropic_stop_reason.max_tokens_below_cap", "stream_usage.zero"], select="anthropic and reply")
fault("anthropic_stop_reason_always_end_turn", A, "stop_reason hard-coded to end_turn (class 26): a tool call ends with end_turn",
      ["anthropic_stop_reason"], select="anthropic and (tool_use or tool_choice)")
fault("anthropic_stop_reason_end_turn_at_cap", A, "stop_reason hard-coded to end_turn (class 26): a reply cut at max_tokens ends with end_turn",
      ["anthropic_stop_reason.max_tokens_missing"], select="anthropic and max_tokens", same_as="anthropic_stop_reason_always_end_turn")
fault("anthropic_tool_choice_any_as_auto", A, "tool_choice {type: any} treated as auto (class 26)",
      ["anthropic_tool_choice"], select="anthropic and tool_choice")
fault("anthropic_ignore_tool_choice", A, "tool_choice is ignored: tool, any and none act as auto, streamed and not",
      ["anthropic_tool_choice"], ["check_anthropic_tool_choice"], select="anthropic and tool_choice")
fault("anthropic_ignore_max_tokens", A, "max_tokens is ignored",
      ["anthropic_max_tokens"], ["anthropic_stop_reason.max_tokens_missing"], select="anthropic and max_tokens")
fault("anthropic_ignore_stop_sequences", A, "stop_sequences is ignored: the reply runs past the stop sequence (class 26)",
      ["anthropic_stop_sequence"], select="anthropic and reply_stop_sequence")
fault("anthropic_stop_sequence_as_end_turn", A, "a reply cut at a stop sequence says stop_reason end_turn and stop_sequence null, streamed and not",
      ["stop_reported"], select="anthropic and reply_stop_sequence")
fault("anthropic_no_stop_sequence_value", A, "stop_reason stop_sequence but stop_sequence: null",
      ["anthropic_stop_sequence.wrong_value"], select="anthropic and reply_stop_sequence")
fault("anthropic_tool_input_as_string", A, "tool_use input sent as a JSON string instead of an object",
      ["anthropic_tool_use_input.not_object"], ["message_schema", "success_status"], select="anthropic and tool and not stream")
fault("anthropic_tool_input_missing_required", A, "tool_use input lacks the keys its input_schema requires",
      ["anthropic_tool_use_input"], select="anthropic and tool and not stream")

fault("anthropic_drop_image_block", A, "image content blocks are silently dropped (never reach the model, not counted in input_tokens)",
      ["check_content_block_counted"], select="anthropic and block_reaches_model")

# -- streams ----------------------------------------------------------------------------------------
fault("anthropic_stream_no_event_lines", A, "stream events sent without 'event:' lines (class 22)",
      ["stream_event_names"], select="anthropic and stream")
fault("anthropic_stream_wrong_event_names", A, "content_block_delta events named 'delta' (class 22)",
      ["stream_event_names.mismatch"], select="anthropic and stream")
fault("anthropic_stream_done", A, "'data: [DONE]' at the end of an Anthropic stream (class 7)",
      ["stream_no_done"], select="anthropic and stream")
fault("anthropic_stream_index_from_1", A, "content-block indexes start at 1 (class 23)",
      ["stream_block_indexes"], ["stream_matches_message"], select="anthropic and stream")
fault("anthropic_stream_delta_wrong_index", A, "deltas name the next block's index, not the open one (class 23)",
      ["stream_block_indexes.wrong_block"], ["stream_matches_message"], select="anthropic and stream")
fault("anthropic_stream_no_block_stop", A, "content_block_stop is never sent (class 23)",
      ["stream_event_order"], select="anthropic and stream")
fault("anthropic_stream_stop_reason_in_start", A, "message_start already carries stop_reason end_turn",
      ["stream_stop_reason.in_start"], select="anthropic and stream")
fault("anthropic_stream_no_stop_reason", A, "message_delta carries stop_reason: null",
      ["stream_stop_reason"], ["anthropic_stop_reason", "anthropic_stop_reason.max_tokens_missing", "check_stream_matches_message", "check_anthropic_stop_sequence", "check_stop_reported"], select="anthropic and stream")
fault("anthropic_stream_zero_start_usage", A, "message_start usage is 0/0 (class 24)",
      ["stream_usage.zero"], select="anthropic and stream")
fault("anthropic_stream_no_delta_usage", A, "message_delta carries no usage (class 24)",
      ["stream_usage"], ["stream_event_schema", "anthropic_stop_reason.max_tokens_below_cap"], select="anthropic and stream")
fault("anthropic_stream_tool_json_broken", A, "input_json_delta pieces do not concatenate to valid JSON",
      ["stream_tool_input"], ["anthropic_tool_use_input.not_object"], select="anthropic and stream_tool")
fault("anthropic_stream_drop_tool_use", A, "the stream leaves out the tool_use blocks of the reply (stop_reason still tool_use)",
      ["anthropic_tool_choice", "anthropic_stop_reason.tool_use_without_call"], ["check_anthropic_tool_choice", "check_anthropic_stop_reason", "check_stream_matches_message"],
      select="anthropic and (stream_tool_use or tool_choice_stream)")
fault("anthropic_stream_differs", A, "the streamed reply differs from the non-streamed one",
      ["stream_matches_message.wording"], select="anthropic and stream_matches")
fault("anthropic_stream_stop_reason_differs", A, "the stream says stop_reason 'stop_sequence' where the non-streamed message says 'end_turn' (a structure difference)",
      ["stream_matches_message"], select="anthropic and stream_matches")
fault("anthropic_stream_error_event_openai_shape", A, "the stream ends with an error event in the OpenAI shape (class 25)",
      ["stream_error_event"], ["stream_matches_message"], select="anthropic and stream")

fault("anthropic_error_as_200_stream", A, "a streamed request for an unknown model gets 200 and an SSE error event (class 11)",
      ["error_before_stream"], select="anthropic and stream_error")

# -- errors and auth --------------------------------------------------------------------------------
fault("anthropic_openai_error_shape", A, "/v1/messages answers errors in the OpenAI shape (class 25)",
      ["anthropic_error_shape.openai_shape"], ["error_row"], select="anthropic and (error or document)")
fault("anthropic_wrong_error_type", A, "every error says type api_error",
      ["error_row"], select="anthropic and (error or document)")
fault("anthropic_bad_key_400", A, "an invalid API key gets 400 instead of 401 (class 14)",
      ["error_status"], select="anthropic and invalid_api_key")
fault("anthropic_max_tokens_optional", A, "a request without max_tokens is accepted",
      ["error_status"], select="anthropic and missing_max_tokens")
fault("anthropic_model_optional", A, "a request without model is served by a default model (model is required)",
      ["error_status"], select="anthropic and required_field_missing")
fault("anthropic_accept_system_role", A, "role system inside messages is accepted",
      ["error_status"], select="anthropic and system_role")
fault("anthropic_refuse_x_api_key", A, "the x-api-key header is not accepted (class 27)",
      ["auth_scheme_accepted"], select="anthropic and auth_scheme")
fault("anthropic_refuse_bearer", A, "Authorization: Bearer is refused although documented (class 27)",
      ["auth_scheme_accepted"], select="anthropic and auth_scheme")
fault("anthropic_require_version", A, "a request without anthropic-version is refused although the profile says optional (class 27)",
      ["version_header_handling.optional_refused"], select="anthropic and version_header")
fault("anthropic_accept_missing_version", A, "a request without anthropic-version succeeds where the profile (upstream) requires it (class 27)",
      ["version_header_handling"], select="anthropic and version_header", profiles=("anthropic",))

# -- one fault per rule (issue 11): each breaks exactly one rule ---------------------------------------
fault("anthropic_reply_not_object", A, "the reply is a JSON array holding the message",
      ["message_schema.not_object"], select="anthropic and reply_message")
fault("anthropic_stop_reason_tool_use_always", A, "stop_reason tool_use on a reply without a tool_use block",
      ["anthropic_stop_reason.tool_use_without_call"], select="anthropic and reply_message")
fault("anthropic_max_tokens_usage_understated", A, "stop_reason max_tokens with output_tokens one below the cap",
      ["anthropic_stop_reason.max_tokens_below_cap"], select="anthropic and reply_stop_reason_max_tokens")
fault("anthropic_stop_sequence_reason_end_turn", A, "a matched stop sequence is named in stop_sequence but stop_reason says end_turn",
      ["anthropic_stop_sequence.value_without_reason"], ["stop_reported"], select="anthropic and reply_stop_sequence")
fault("anthropic_tool_choice_none_ignored", A, "tool_choice {type: none} still calls a tool",
      ["anthropic_tool_choice.none_called"], select="anthropic and tool_choice")
fault("anthropic_tool_choice_tool_ignored", A, "tool_choice {type: tool} calls no tool",
      ["anthropic_tool_choice.tool_not_called"], select="anthropic and tool_choice")
fault("anthropic_tool_use_undeclared", A, "tool_use blocks name a tool that was not declared",
      ["anthropic_tool_choice.undeclared"], select="anthropic and tool_choice and any")
fault("anthropic_tool_use_duplicated", A, "each tool_use block is sent twice with the same id",
      ["anthropic_tool_use_input.duplicate_id"], select="anthropic and tool_use_reply")
fault("anthropic_error_no_type", A, "error bodies lack error.type",
      ["anthropic_error_shape"], ["error_row"], select="anthropic and test_errors")
fault("anthropic_error_bare_string", A, "error bodies are plain text",
      ["anthropic_error_shape.not_object"], select="anthropic and test_errors")
fault("anthropic_x_api_key_400", A, "a valid key in x-api-key gets 400 (the key is read from Authorization only)",
      ["auth_scheme_accepted.other_status"], select="anthropic and auth_scheme")
fault("anthropic_missing_version_401", A, "a request without the required anthropic-version gets 401, not 400",
      ["version_header_handling.required_status"], select="anthropic and version_header", profiles=("anthropic",))

AS = "anthropic and stream and not matches"
fault("anthropic_stream_wrong_delta_type", A, "text blocks stream thinking_delta deltas",
      ["stream_block_indexes.delta_type"], select=AS)
fault("anthropic_stream_empty", A, "the stream carries only pings",
      ["stream_event_order.empty"], select=AS)
fault("anthropic_stream_no_message_start", A, "the stream starts without message_start",
      ["stream_event_order.first_not_start"], select=AS)
fault("anthropic_stream_event_after_stop", A, "message_delta is sent again after message_stop",
      ["stream_event_order.after_stop"], select=AS)
fault("anthropic_stream_two_message_starts", A, "message_start is sent twice",
      ["stream_event_order.second_start"], select=AS)
fault("anthropic_stream_block_after_delta", A, "message_delta comes before the content blocks",
      ["stream_event_order.block_after_delta"], select=AS)
fault("anthropic_stream_delta_before_start", A, "the first content_block_delta comes before its content_block_start",
      ["stream_event_order.delta_outside_block"], ["stream_block_indexes.wrong_block", "stream_tool_input"], select=AS)
fault("anthropic_stream_extra_block_stop", A, "the first content_block_stop is sent twice",
      ["stream_event_order.stop_without_block", "stream_block_indexes.stop_wrong_block"], select=AS)
fault("anthropic_stream_no_message_delta", A, "the stream never sends message_delta",
      ["stream_event_order.stop_without_delta", "stream_stop_reason.no_delta"], ["anthropic_stop_reason", "stop_reported"], select=AS)
fault("anthropic_stream_no_message_stop", A, "the stream ends without message_stop",
      ["stream_event_order.no_message_stop"], select=AS)
fault("anthropic_stream_delta_stop_reason_changed", A, "the streamed stop_reason says stop_sequence (with no stop_sequence) where the message says end_turn",
      ["stream_matches_message"], select="anthropic and stream_matches")
fault("anthropic_stream_stop_sequence_differs", A, "the streamed stop_sequence is 'END' where the message has none",
      ["stream_matches_message"], select="anthropic and stream_matches")
fault("anthropic_stream_tool_input_array", A, "input_json_delta pieces join to a JSON array, not an object",
      ["stream_tool_input.not_object"], ["anthropic_tool_use_input.not_object"], select="anthropic and stream_tool")
fault("anthropic_zero_input_tokens", A, "usage.input_tokens is 0 for a non-empty prompt",
      ["anthropic_usage"], select="anthropic and reply_message")
fault("anthropic_zero_output_tokens", A, "usage.output_tokens is 0 for a non-empty reply",
      ["anthropic_usage.output_zero"], select="anthropic and reply_message")
fault("anthropic_stream_start_role_user", A, "message_start says role 'user'",
      ["stream_event_schema"], select=AS)

# -- the official client breaks on these too: its SDK check fires with the rule (proven by tests/test_sdk.py) -------
from conformance.reference.faults_openai import _sdk_breaks  # noqa: E402

_sdk_breaks("check_anthropic_sdk", "anthropic_openai_error_shape", "anthropic_stream_delta_wrong_index", "anthropic_stream_error_event_openai_shape",
            "anthropic_stream_index_from_1", "anthropic_stream_no_delta_usage", "anthropic_stream_no_event_lines", "anthropic_stream_tool_json_broken",
            "anthropic_tool_input_as_string")
