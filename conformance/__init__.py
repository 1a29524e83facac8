"""conformance: a conformance test suite and compatibility checker for LLM APIs that claim to
speak OpenAI Chat Completions or Anthropic Messages."""

__version__ = "0.1.0"
