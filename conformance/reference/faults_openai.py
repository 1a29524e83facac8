"""Named faults of the reference server's OpenAI endpoints (see :mod:`conformance.reference.faults`)."""

from conformance.reference.fault_registry import fault

# -- OpenAI chat completions: basic replies --------------------------------------------------------
fault("wrong_object", "openai", "non-streamed reply says object 'text_completion'",
      ["chat_response_schema"], select="basic")
fault("created_in_ms", "openai", "'created' in milliseconds instead of seconds",
      ["created_timestamp"], select="basic or stream")
fault("bad_choice_index", "openai", "choices[].index starts at 1",
      ["choice_indexes"], select="basic")
fault("bad_finish_reason", "openai", "finish_reason 'done' (not in the enum)",
      ["finish_reason_value.unknown"], ["chat_response_schema"], select="basic")
fault("bad_usage_arithmetic", "openai", "usage.total_tokens is not prompt + completion",
      ["usage_arithmetic"], select="basic or usage")
fault("no_request_id", "openai", "no x-request-id response header",
      ["request_id_header"], select="basic")

# -- streaming ---------------------------------------------------------------------------------
fault("no_done", "openai", "the stream ends without 'data: [DONE]'",
      ["stream_done_terminator"], select="stream")
fault("repeat_role", "openai", "every delta repeats role: assistant",
      ["stream_role_first_only"], select="stream")
fault("first_delta_no_role", "openai", "the first delta carries no role",
      ["stream_first_delta_role"], select="stream")
fault("no_finish_reason", "openai", "no chunk ever carries a finish_reason",
      ["stream_finish_reason.missing"], ["check_stream_matches_nonstream", "check_stop_reported"], select="stream")
fault("empty_finish_reason", "openai", "the final chunk says finish_reason ''",
      ["stream_finish_reason.missing"], ["chat_chunk_schema", "check_stream_matches_nonstream", "check_stop_reported"], select="stream")
fault("finish_reason_twice", "openai", "finish_reason sent on two chunks",
      ["stream_finish_reason.repeated"], select="stream")
fault("changing_chunk_id", "openai", "the chunk id changes within one stream",
      ["stream_constant_fields"], select="stream")
fault("changing_created", "openai", "'created' changes within one stream",
      ["stream_constant_fields.created"], select="stream")
fault("changing_model", "openai", "'model' changes within one stream",
      ["stream_constant_fields.model"], select="stream")
fault("usage_chunk_with_choices", "openai", "the include_usage chunk also carries the last choice",
      ["stream_include_usage.with_choices"], select="include_usage")
fault("usage_chunk_per_choice", "openai", "with n > 1 and include_usage, a usage chunk follows each choice's end instead of one after every choice",
      ["stream_include_usage.several"], select="include_usage")
fault("usage_when_not_asked", "openai", "usage sent in a stream that did not ask for it",
      ["stream_no_unrequested_usage"], select="stream")
fault("ignore_include_usage", "openai", "stream_options.include_usage is ignored",
      ["stream_include_usage"], select="include_usage")
fault("usage_on_every_chunk", "openai", "usage on every chunk when include_usage is set",
      ["stream_include_usage.several"], select="include_usage")
fault("reject_stream_options", "openai", "a request with stream_options is rejected with 400",
      ["stream_options_accepted"], select="include_usage")
fault("stream_wrong_content_type", "openai", "streams served as text/plain",
      ["stream_content_type"], ["sse_framing", "stream_done_terminator"], select="stream")
fault("stream_differs", "openai", "the streamed reply's wording differs from the non-streamed one",
      ["stream_matches_nonstream.wording"], select="matches")
fault("stream_bad_finish_reason", "openai", "the final chunk says finish_reason 'done' (not in the enum)",
      ["stream_finish_reason.unknown"], ["chat_chunk_schema", "check_stream_matches_nonstream", "check_stop_reported", "check_token_cap_finish_reason"], select="stream")
fault("length_below_cap", "openai", "a reply cut by the token cap counts one token less than the cap in usage.completion_tokens",
      ["token_cap_finish_reason.below_cap"], select="test_token_cap and not stream")
fault("stream_finish_differs", "openai", "the streamed reply says finish_reason 'length' where the non-streamed one says 'stop' (a structure difference)",
      ["stream_matches_nonstream"], select="matches")
fault("keepalive_as_data", "openai", "keep-alives sent as empty 'data:' events",
      ["sse_framing.empty_data"], select="stream")
fault("no_blank_lines", "openai", "SSE events not separated by blank lines",
      ["sse_framing.unterminated_event"], ["stream_done_terminator", "stream_finish_reason", "stream_finish_reason.missing", "stream_include_usage", "stream_matches_nonstream", "stream_n_choices", "tool_choice_honoured", "tool_choice_honoured.forced_no_call", "stream_first_delta_role", "stream_constant_fields"], select="stream")
fault("midstream_error_unframed", "openai", "a JSON error written into the stream without 'data:' framing",
      ["sse_framing.line_without_field"], ["stream_done_terminator", "stream_finish_reason.missing", "stream_include_usage", "check_stream_matches_nonstream", "stream_n_choices", "stream_tool_call_arguments"], select="stream")
fault("error_as_200_stream", "openai", "a streamed request for an unknown model gets 200 and an SSE error",
      ["error_before_stream"], select="stream_error")

# -- errors ----------------------------------------------------------------------------------------
fault("error_bare_string", "openai", "error bodies are plain text",
      ["error_shape.not_object"], ["error_row"], select="error")
fault("error_unwrapped", "openai", "error bodies lack the 'error' wrapper",
      ["error_shape"], ["error_row", "error_row.code"], select="error")
fault("unknown_model_200", "openai", "an unknown model is answered with 200 and a completion",
      ["error_status"], ["error_shape", "error_row"], select="model_not_found")
fault("bad_key_400", "openai", "an invalid API key gets 400 instead of 401",
      ["error_status"], ["error_row"], select="invalid_api_key")
fault("bad_json_500", "openai", "a malformed JSON body gets 500",
      ["error_status"], ["error_row"], select="invalid_json")
fault("wrong_error_code", "openai", "errors carry code 'bad_request' instead of the documented code",
      ["error_row.code"], select="error")
fault("model_optional", "openai", "a request without model is served by a default model although the profile requires model",
      ["error_status"], select="test_required_field_missing")
fault("accept_bad_role", "openai", "an unknown message role is accepted",
      ["error_status"], ["error_shape", "error_row"], select="unsupported_message_role")
fault("accept_tool_call_mismatch", "openai", "a tool message answering no tool call is accepted",
      ["error_status"], ["error_shape", "error_row"], select="tool_call_id_mismatch")

# -- models ------------------------------------------------------------------------------------------
fault("models_bare_array", "openai", "GET /models answers a bare array",
      ["models_list_schema"], ["model_lookup"], select="models")
fault("models_no_object_list", "openai", "GET /models lacks object: list",
      ["models_list_schema"], select="models")
fault("models_no_owned_by", "openai", "models lack owned_by",
      ["models_list_schema"], ["model_schema"], select="models")
fault("model_lookup_404", "openai", "GET /models/{id} answers 404 for a listed model",
      ["model_lookup"], select="models")

# -- parameters of the extended tables (issue 3) ---------------------------------------------------------
fault("ignore_n", "openai", "n is ignored: one choice whatever n asks (class 18)",
      ["choice_indexes.n_ignored"], select="test_n_choices and not stream")
fault("ignore_n_stream", "openai", "n is ignored in a stream: one choice whatever n asks (class 18)",
      ["stream_n_choices"], select="test_n_choices_stream", same_as="ignore_n")
fault("ignore_max_tokens", "openai", "max_tokens is ignored",
      ["token_cap_honoured"], select="test_token_cap")
fault("ignore_max_completion_tokens", "openai", "max_completion_tokens is ignored (class 20)",
      ["token_cap_honoured"], select="test_token_cap")
fault("cap_finish_stop", "openai", "a reply cut by the token cap says finish_reason 'stop' instead of 'length', streamed and not",
      ["token_cap_finish_reason"], select="test_token_cap")
fault("reject_max_completion_tokens", "openai", "max_completion_tokens is rejected with 400 (class 20)",
      ["max_completion_tokens_accepted"], select="test_token_cap")
fault("ignore_stop", "openai", "stop sequences are ignored",
      ["stop_honoured"], select="test_stop")
fault("stop_finish_length", "openai", "a reply cut at a stop sequence says finish_reason 'length' instead of 'stop', streamed and not",
      ["stop_reported"], select="test_stop")
fault("accept_out_of_range_temperature", "openai", "temperature outside 0..2 is accepted",
      ["out_of_range_rejected"], select="test_param_out_of_range and temperature")
fault("ignore_json_schema", "openai", "response_format json_schema is ignored: free text comes back (class 19)",
      ["json_reply"], select="test_response_format")
fault("audio_output_no_data", "openai", "audio output carries empty audio data",
      ["audio_output.wrong_format"], select="test_audio_output")
fault("reject_reasoning_effort_value", "openai", "the documented reasoning_effort 'minimal' is rejected",
      ["documented_value_accepted"], select="test_reasoning_effort_accepted")
fault("reasoning_content_object", "openai", "reasoning_content is an object instead of a string",
      ["reasoning_shape"], ["chat_response_schema"], select="test_reasoning_effort_accepted")
fault("stream_reasoning_content_object", "openai", "streamed reasoning_content deltas are objects instead of strings",
      ["stream_reasoning_shape"], ["chat_chunk_schema"], select="test_reasoning_content_stream", same_as="reasoning_content_object")

# -- messages (class 16) ------------------------------------------------------------------------------
fault("reject_null_assistant_content", "openai", "an assistant history message with content null is rejected (class 16)",
      ["history_accepted"], select="test_history_content_accepted")
fault("reject_empty_content", "openai", "a history message with content \"\" is rejected (class 16)",
      ["history_accepted"], select="test_history_content_accepted")

# -- semantic probes ------------------------------------------------------------------------------------
fault("drop_image_block", "openai", "image_url content blocks are silently dropped (never reach the model, not counted in prompt_tokens)",
      ["check_content_block_counted"], select="test_content_block_reaches_model")

# -- tools (classes 1, 2, 9, 15) -------------------------------------------------------------------------
fault("stream_tool_call_no_index", "openai", "streamed tool-call deltas carry no index (class 1)",
      ["stream_tool_call_index"], ["chat_chunk_schema"], select="test_tool_call_stream")
fault("stream_tool_call_header_repeated", "openai", "every tool-call delta repeats id, type and name (class 2)",
      ["stream_tool_call_header_once"], ["stream_tool_call_arguments.undeclared_name"], select="test_tool_call_stream")
fault("tool_calls_finish_stop", "openai", "finish_reason 'stop' although the reply holds tool calls (class 9, a warning)",
      ["finish_reason_value.stop_with_tool_calls"], select="test_tool_call and not stream")
fault("stream_tool_calls_finish_stop", "openai", "a stream with tool calls finishes with 'stop' (class 9, a warning)",
      ["stream_tool_calls_finish_reason.stop"], select="test_tool_call_stream", same_as="tool_calls_finish_stop")
fault("tool_arguments_object", "openai", "tool-call arguments sent as an object, not a JSON string (class 15)",
      ["tool_call_arguments.not_string"], ["chat_response_schema"], select="test_tool_call and not stream")
fault("stream_tool_arguments_object", "openai", "streamed tool-call argument deltas are objects, not strings (class 15)",
      ["stream_tool_call_arguments.not_string"], ["chat_chunk_schema"], select="test_tool_call_stream", same_as="tool_arguments_object")
fault("tool_arguments_empty", "openai", "arguments \"\" for a tool without parameters (class 15)",
      ["tool_call_arguments"], ["chat_response_schema"], select="test_tool_call and without_parameters")
fault("ignore_tool_choice", "openai", "tool_choice is ignored (none, required and a forced function act as auto): required gives no call",
      ["tool_choice_honoured"], select="test_tool_choice and required")
fault("ignore_tool_choice_none", "openai", "tool_choice is ignored: 'none' still calls a tool",
      ["tool_choice_honoured.none_called"], select="test_tool_choice and none", same_as="ignore_tool_choice")
fault("ignore_tool_choice_forced", "openai", "tool_choice is ignored: a forced function is not the one called",
      ["tool_choice_honoured.forced_other"], select="test_tool_choice and forced", same_as="ignore_tool_choice")
fault("ignore_parallel_tool_calls", "openai", "parallel_tool_calls: false is ignored",
      ["parallel_tool_calls_disabled"], select="test_parallel_tool_calls_disabled")

# -- logprobs (class 17) ----------------------------------------------------------------------------------
fault("logprobs_legacy_shape", "openai", "logprobs in the legacy completions shape (tokens, token_logprobs, ...)",
      ["logprobs_present.legacy_shape"], ["chat_chunk_schema", "chat_response_schema"], select="test_logprobs")
fault("logprobs_dropped", "openai", "requested logprobs are silently dropped (null)",
      ["logprobs_present"], select="test_logprobs")
fault("logprobs_require_top", "openai", "logprobs: true without top_logprobs is answered 400",
      ["logprobs_accepted"], select="test_logprobs and without_top_logprobs")
fault("top_logprobs_unsorted", "openai", "top_logprobs listed from least to most likely",
      ["top_logprobs.unsorted"], select="test_logprobs and top_logprobs_5")
fault("top_logprobs_wrong_length", "openai", "top_logprobs one entry short of the requested number",
      ["top_logprobs"], select="test_logprobs and top_logprobs_")
fault("logprob_bytes_mismatch", "openai", "logprob bytes do not decode to the token",
      ["logprob_entries.bytes_mismatch"], ["logprobs_join_content"], select="test_logprobs")
fault("logprobs_tokens_mismatch", "openai", "one token is missing from logprobs.content",
      ["logprobs_join_content"], select="test_logprobs")

# -- vendor profile rules (conformance/reference/emulation.py) -----------------------------------------
fault("extension_field_wrong_type", "openai", "vendor extension fields with a numeric schema are sent as strings",
      ["extension_fields"], select="profile_rules", profiles=("llmgateway",))
fault("routing_metadata_missing", "openai", "a reply routed from model auto carries no routing metadata",
      ["routing_metadata"], select="auto_routing", profiles=("llmgateway",))
fault("default_model_other", "openai", "a request without model is served by another model than the documented default",
      ["default_model"], select="default_model", profiles=("cryptgpt",))
fault("param_bounds_clamped", "openai", "values beyond a documented range are silently clamped instead of rejected",
      ["out_of_range_rejected"], select="documented_integer_bound or param_out_of_range", profiles=("cryptgpt",))
fault("x_api_key_refused", "openai", "the documented x-api-key header is not accepted",
      ["success_status"], select="auth_scheme", profiles=("llmgateway",))
fault("model_ids_off_format", "openai", "GET /models lists an id outside the documented model id format",
      ["model_id_format"], select="model_ids_follow", profiles=("cryptgpt",))

# -- one fault per rule (issue 11): each breaks exactly one rule ---------------------------------------
B = "basic_completion and not without"
fault("reply_not_object", "openai", "the non-streamed reply is a JSON array holding the completion",
      ["chat_response_schema.not_object"], select=B)
fault("json_as_text_plain", "openai", "JSON replies served as text/plain",
      ["json_content_type"], select=B)
fault("created_before_2001", "openai", "'created' is a small number, not a Unix timestamp",
      ["created_timestamp.before_2001"], select=B)
fault("created_stale", "openai", "'created' is ten days before the reply",
      ["created_timestamp.clock_skew"], select=B)
fault("finish_tool_calls_without_calls", "openai", "finish_reason 'tool_calls' on a reply that calls no tool",
      ["finish_reason_value.tool_calls_without_calls"], select=B)
fault("usage_prompt_zero", "openai", "usage.prompt_tokens is 0 for a non-empty prompt",
      ["usage_arithmetic.prompt_zero"], select=B)
fault("usage_completion_zero", "openai", "usage.completion_tokens is 0 for a non-empty reply",
      ["usage_arithmetic.completion_zero"], select=B)
fault("usage_cached_exceeds_prompt", "openai", "prompt_tokens_details.cached_tokens exceeds prompt_tokens",
      ["usage_arithmetic.cached_exceeds"], select=B)
fault("usage_reasoning_exceeds_completion", "openai", "completion_tokens_details.reasoning_tokens exceeds completion_tokens",
      ["usage_arithmetic.reasoning_exceeds"], select=B)
fault("tool_calls_finish_length", "openai", "finish_reason 'length' although the reply holds tool calls",
      ["finish_reason_value"], select="test_tool_call and not stream")
fault("stream_tool_calls_finish_length", "openai", "a stream with tool calls finishes with 'length'",
      ["stream_tool_calls_finish_reason"], select="test_tool_call_stream", same_as="tool_calls_finish_length")
fault("tool_call_undeclared_name", "openai", "tool calls name a function that was not declared",
      ["tool_call_arguments.undeclared_name"], select="test_tool_call and not stream")
fault("stream_tool_call_undeclared_name", "openai", "streamed tool calls name a function that was not declared",
      ["stream_tool_call_arguments.undeclared_name"], select="test_tool_call_stream", same_as="tool_call_undeclared_name")
fault("tool_arguments_truncated", "openai", "tool-call arguments lose their last character (not JSON)",
      ["tool_call_arguments"], select="test_tool_call and not stream")
fault("stream_tool_arguments_truncated", "openai", "streamed tool-call arguments lose their last character (not JSON)",
      ["stream_tool_call_arguments"], select="test_tool_call_stream", same_as="tool_arguments_truncated")
fault("tool_arguments_array", "openai", "tool-call arguments are a JSON array, not an object",
      ["tool_call_arguments.not_object"], select="test_tool_call and not stream")
fault("stream_tool_arguments_array", "openai", "streamed tool-call arguments join to a JSON array",
      ["stream_tool_call_arguments.not_object"], select="test_tool_call_stream", same_as="tool_arguments_array")
fault("tool_arguments_schema_mismatch", "openai", "tool-call arguments do not match the declared parameters",
      ["tool_call_arguments.schema"], select="test_tool_call and not stream")
fault("stream_tool_arguments_schema_mismatch", "openai", "streamed tool-call arguments do not match the declared parameters",
      ["stream_tool_call_arguments.schema"], select="test_tool_call_stream", same_as="tool_arguments_schema_mismatch")
fault("duplicate_tool_call_id", "openai", "parallel tool calls share one id",
      ["tool_call_arguments.duplicate_id"], select="test_parallel_tool_calls and not disabled and not stream")
fault("stream_tool_call_no_id", "openai", "the first delta of a streamed tool call has id null",
      ["stream_tool_call_header_once.missing_header"], ["chat_chunk_schema"], select="test_tool_call_stream")
fault("forced_tool_choice_as_none", "openai", "a forced function tool_choice is treated as none",
      ["tool_choice_honoured.forced_no_call"], select="test_tool_choice and forced")
fault("json_mode_array", "openai", "JSON mode answers a JSON array, not an object",
      ["json_reply.not_object"], select="test_response_format")
fault("json_schema_mismatch", "openai", "structured output does not match the requested json_schema",
      ["json_reply.schema"], select="test_response_format and json_schema")
fault("token_cap_usage_understated", "openai", "the reply runs past the token cap while usage stays within it",
      ["token_cap_honoured.words"], select="test_token_cap")
fault("reasoning_tokens_negative", "openai", "completion_tokens_details.reasoning_tokens is -1",
      ["reasoning_shape.tokens_invalid"], ["chat_response_schema"], select="test_reasoning_effort_accepted")
fault("reasoning_tokens_zero", "openai", "reasoning_content comes with reasoning_tokens 0 (a warning)",
      ["reasoning_shape.tokens_zero"], select="test_reasoning_effort_accepted")
fault("audio_output_missing", "openai", "modalities audio gives message.audio null",
      ["audio_output"], select="test_audio_output")
fault("audio_expires_at_string", "openai", "message.audio.expires_at is a string",
      ["audio_output.field_type"], select="test_audio_output")
fault("audio_data_not_base64", "openai", "message.audio.data is not base64",
      ["audio_output.not_base64"], select="test_audio_output")
fault("logprobs_string", "openai", "logprobs is a string, not an object",
      ["logprobs_present.not_object"], ["chat_response_schema", "chat_chunk_schema"], select="test_logprobs and top_logprobs_2")
fault("logprobs_content_null", "openai", "logprobs.content is null although tokens were generated",
      ["logprobs_present.content_not_array"], select="test_logprobs and top_logprobs_2")
fault("logprob_positive", "openai", "token logprobs are positive",
      ["logprob_entries"], select="test_logprobs and top_logprobs_2")
fault("logprob_entry_not_object", "openai", "logprobs.content lists token strings, not objects",
      ["logprob_entries.not_object"], ["chat_response_schema", "logprobs_join_content", "top_logprobs.not_array"], select="test_logprobs and top_logprobs_2 and not stream")
fault("logprob_token_null", "openai", "logprob entries have token null",
      ["logprob_entries.token"], ["chat_response_schema", "chat_chunk_schema"], select="test_logprobs and top_logprobs_2")
fault("logprob_bytes_out_of_range", "openai", "logprob bytes hold a value above 255",
      ["logprob_entries.bytes_invalid"], ["chat_response_schema", "chat_chunk_schema"], select="test_logprobs and top_logprobs_2")
fault("top_logprobs_null", "openai", "top_logprobs is null although it was requested",
      ["top_logprobs.not_array"], ["chat_response_schema", "chat_chunk_schema"], select="test_logprobs and top_logprobs_2")
fault("models_list_500", "openai", "GET /models answers 500",
      ["models_list_schema.status"], select="test_models_list")
fault("model_lookup_wrong_id", "openai", "GET /models/{id} returns another model's id",
      ["model_lookup.wrong_id"], select="test_model_lookup")
fault("model_lookup_no_object", "openai", "GET /models/{id} returns a model without object: model",
      ["model_schema"], select="test_model_lookup")

# -- streams, one rule each --------------------------------------------------------------------------
S = "test_stream_chunk_sequence"
fault("chunk_wrong_object", "openai", "stream chunks say object 'chat.completion'",
      ["chat_chunk_schema"], select=S)
fault("two_chunks_per_event", "openai", "the first two chunks share one SSE event (no blank line between them)",
      ["sse_framing"], ["stream_first_delta_role"], select=S)
fault("data_after_done", "openai", "a chunk follows data: [DONE]",
      ["sse_framing.data_after_done", "stream_done_terminator.events_after"], select=S)
fault("data_not_json", "openai", "an event's data is not JSON",
      ["sse_framing.not_json"], select=S)
fault("keepalive_comments", "openai", "keep-alive comment lines in the stream (legal; a warning)",
      ["sse_comments"], select=S)
fault("stream_no_choices", "openai", "every chunk has choices: []",
      ["stream_finish_reason.missing"], select=S)
fault("content_after_finish", "openai", "content arrives after the choice's finish_reason",
      ["stream_finish_reason.content_after"], select=S)
fault("usage_chunk_not_last", "openai", "a chunk follows the include_usage chunk",
      ["stream_include_usage.not_last"], select="include_usage")
fault("error_as_4xx_stream", "openai", "a streamed request for an unknown model gets 404 with an event stream",
      ["error_before_stream.as_stream"], select="stream_error and not anthropic")

# -- routing metadata (llmgateway), one rule each ---------------------------------------------------------
R = dict(select="auto_routing", profiles=("llmgateway",))
fault("routing_requested_model_wrong", "openai", "routing metadata names the served model as the requested one",
      ["routing_metadata.requested"], **R)
fault("routing_used_model_auto", "openai", "routing metadata says used_model 'auto' instead of the concrete model",
      ["routing_metadata.used"], **R)
fault("routing_model_disagrees", "openai", "the reply's model is not the model the routing metadata names",
      ["routing_metadata.model_disagrees"], **R)
fault("routing_no_provider", "openai", "routing metadata lacks used_provider",
      ["routing_metadata.provider"], ["extension_fields"], **R)

# -- refusals of a documented parameter (conformance.verdicts.classify_refusal) -----------------------------
T = "test_param_accepted and temperature"
fault("refuse_temperature", "openai", "temperature, which the profile documents as required, is refused with 400",
      ["feature_refused"], select=T)
fault("refuse_temperature_401", "openai", "a valid, authenticated request with temperature is refused with 401",
      ["feature_refused.auth"], select=T)
fault("refuse_temperature_404", "openai", "a documented request with temperature is answered 404",
      ["feature_refused.not_found"], select=T)

# -- the official client breaks on these too: its SDK check fires with the rule (proven by tests/test_sdk.py) -------
def _sdk_breaks(check: str, *names: str) -> None:
    from dataclasses import replace

    from conformance.reference.fault_registry import FAULTS

    for name in names:
        FAULTS[name] = replace(FAULTS[name], may_also=FAULTS[name].may_also + (check,))


_sdk_breaks("check_openai_sdk", "error_bare_string", "keepalive_as_data", "midstream_error_unframed", "models_bare_array", "no_blank_lines",
            "repeat_role", "stream_tool_call_header_repeated", "stream_tool_call_no_index", "tool_arguments_object", "tool_arguments_empty")

# -- rules of the merged lanes (sdk: legal variations that WARN; hostile: credential echo) --------------------
fault("error_code_integer", "openai", "error.code is the HTTP status as an integer (tolerated by the SDKs: a warning)",
      ["error_shape.code_type"], ["error_row.code"], select="openai_chat and test_error_row")
fault("stream_tool_call_type_repeated", "openai", "later tool-call deltas repeat type: function (tolerated by the SDKs: a warning)",
      ["stream_tool_call_header_once.type_repeated"], select="test_tool_call_stream")
fault("echo_key_in_error", "openai", "error messages repeat the caller's API key",
      ["credential_echo"], select="openai_chat and test_error_row and model_not_found")
fault("echo_key_in_reply", "openai", "a successful reply repeats the caller's API key",
      ["credential_echo.unmasked"], select=B)
