"""The one exception hierarchy of the tool itself (not of the targets it checks).

Every error a user can cause (bad arguments, a config typo, an unknown profile, an unreachable
target) is a :class:`ConformanceError` with a one-line message and an exit code; the CLI prints
the line and exits with the code, never a traceback.

Exit codes (documented in the README): 0 all good, 1 failures, 2 usage or configuration error,
3 target unreachable (no connection) or answering /models but broken (reset, hang, oversized
headers, a body beyond the limits), 4 the target does not look like an OpenAI or Anthropic API,
5 the report could not be written where asked (results.json was saved to a fallback folder).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_AN_API = 4
EXIT_REPORT_FALLBACK = 5


class ConformanceError(Exception):
    """An error of the tool's input; ``str(exc)`` is one line for the user."""

    exit_code = EXIT_USAGE


class ConfigError(ConformanceError):
    """A bad argument, config file, profile or spec file."""


class TargetUnreachable(ConformanceError):
    """The target could not be reached at all (DNS, refused connection, timeout)."""

    exit_code = EXIT_UNREACHABLE


class TargetBroken(ConformanceError):
    """The target accepted the connection but its answer to the preflight was broken (a reset,
    a hang, oversized headers, a body beyond the limits)."""

    exit_code = EXIT_UNREACHABLE


class NotAnApi(ConformanceError):
    """The target answered, but not like an OpenAI or Anthropic API (an HTML page, a non-JSON or
    wrongly shaped /models)."""

    exit_code = EXIT_NOT_AN_API


class CaseStop(Exception):
    """Raised inside a case to end it early; its verdict comes from the findings so far."""


class TransportFailure(Exception):
    """The exchange failed at the transport level; the case's verdict is ERROR."""
