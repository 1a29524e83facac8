"""Named faults of the reference server's OpenAI endpoints (see :mod:`conformance.reference.faults`)."""

from conformance.reference.faults import fault

# -- OpenAI chat completions: basic replies --------------------------------------------------------
fault("wrong_object", "openai", "non-streamed reply says object 'text_completion'",
      ["check_chat_response_schema"], select="basic")
fault("created_in_ms", "openai", "'created' in milliseconds instead of seconds",
      ["check_created_timestamp"], select="basic or stream")
fault("bad_choice_index", "openai", "choices[].index starts at 1",
      ["check_choice_indexes"], select="basic")
fault("bad_finish_reason", "openai", "finish_reason 'done' (not in the enum)",
      ["check_chat_response_schema"], ["check_finish_reason_value"], select="basic")
fault("bad_usage_arithmetic", "openai", "usage.total_tokens is not prompt + completion",
      ["check_usage_arithmetic"], select="basic or usage")
fault("no_request_id", "openai", "no x-request-id response header",
      ["check_request_id_header"], select="basic")

# -- streaming ---------------------------------------------------------------------------------
fault("no_done", "openai", "the stream ends without 'data: [DONE]'",
      ["check_stream_done_terminator"], select="stream")
fault("repeat_role", "openai", "every delta repeats role: assistant",
      ["check_stream_role_first_only"], select="stream")
fault("first_delta_no_role", "openai", "the first delta carries no role",
      ["check_stream_first_delta_role"], select="stream")
fault("no_finish_reason", "openai", "no chunk ever carries a finish_reason",
      ["check_stream_finish_reason"], select="stream")
fault("empty_finish_reason", "openai", "the final chunk says finish_reason ''",
      ["check_stream_finish_reason"], ["check_chat_chunk_schema"], select="stream")
fault("finish_reason_twice", "openai", "finish_reason sent on two chunks",
      ["check_stream_finish_reason"], select="stream")
fault("changing_chunk_id", "openai", "the chunk id changes within one stream",
      ["check_stream_constant_fields"], select="stream")
fault("changing_created", "openai", "'created' changes within one stream",
      ["check_stream_constant_fields"], select="stream")
fault("changing_model", "openai", "'model' changes within one stream",
      ["check_stream_constant_fields"], select="stream")
fault("usage_chunk_with_choices", "openai", "the include_usage chunk also carries the last choice",
      ["check_stream_include_usage"], select="include_usage")
fault("usage_when_not_asked", "openai", "usage sent in a stream that did not ask for it",
      ["check_stream_no_unrequested_usage"], select="stream")
fault("ignore_include_usage", "openai", "stream_options.include_usage is ignored",
      ["check_stream_include_usage"], select="include_usage")
fault("usage_on_every_chunk", "openai", "usage on every chunk when include_usage is set",
      ["check_stream_include_usage"], select="include_usage")
fault("reject_stream_options", "openai", "a request with stream_options is rejected with 400",
      ["check_stream_options_accepted"], select="include_usage")
fault("stream_wrong_content_type", "openai", "streams served as text/plain",
      ["check_stream_content_type"], ["check_sse_framing", "check_stream_done_terminator"], select="stream")
fault("stream_differs", "openai", "the streamed reply differs from the non-streamed one",
      ["check_stream_matches_nonstream"], select="matches")
fault("keepalive_as_data", "openai", "keep-alives sent as empty 'data:' events",
      ["check_sse_framing"], select="stream")
fault("no_blank_lines", "openai", "SSE events not separated by blank lines",
      ["check_sse_framing"], ["check_stream_done_terminator", "check_stream_first_delta_role",
                               "check_stream_finish_reason", "check_stream_matches_nonstream",
                               "check_stream_include_usage", "check_stream_constant_fields"], select="stream")
fault("midstream_error_unframed", "openai", "a JSON error written into the stream without 'data:' framing",
      ["check_sse_framing"], ["check_stream_done_terminator", "check_stream_finish_reason",
                              "check_stream_matches_nonstream", "check_stream_include_usage"], select="stream")
fault("error_as_200_stream", "openai", "a streamed request for an unknown model gets 200 and an SSE error",
      ["check_error_before_stream"], select="stream_error")

# -- errors ----------------------------------------------------------------------------------------
fault("error_bare_string", "openai", "error bodies are plain text",
      ["check_error_shape"], ["check_error_row"], select="error")
fault("error_unwrapped", "openai", "error bodies lack the 'error' wrapper",
      ["check_error_shape"], ["check_error_row"], select="error")
fault("unknown_model_200", "openai", "an unknown model is answered with 200 and a completion",
      ["check_error_status"], ["check_error_shape", "check_error_row"], select="model_not_found")
fault("bad_key_400", "openai", "an invalid API key gets 400 instead of 401",
      ["check_error_status"], ["check_error_row"], select="invalid_api_key")
fault("bad_json_500", "openai", "a malformed JSON body gets 500",
      ["check_error_status"], ["check_error_row"], select="invalid_json")
fault("wrong_error_code", "openai", "errors carry code 'bad_request' instead of the documented code",
      ["check_error_row"], select="error")
fault("accept_bad_role", "openai", "an unknown message role is accepted",
      ["check_error_status"], ["check_error_shape", "check_error_row"], select="unsupported_message_role")
fault("accept_tool_call_mismatch", "openai", "a tool message answering no tool call is accepted",
      ["check_error_status"], ["check_error_shape", "check_error_row"], select="tool_call_id_mismatch")

# -- models ------------------------------------------------------------------------------------------
fault("models_bare_array", "openai", "GET /models answers a bare array",
      ["check_models_list_schema"], ["check_model_lookup"], select="models")
fault("models_no_object_list", "openai", "GET /models lacks object: list",
      ["check_models_list_schema"], select="models")
fault("models_no_owned_by", "openai", "models lack owned_by",
      ["check_models_list_schema"], ["check_model_schema"], select="models")
fault("model_lookup_404", "openai", "GET /models/{id} answers 404 for a listed model",
      ["check_model_lookup"], select="models")
