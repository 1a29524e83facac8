"""Named faults of the reference server's Anthropic Messages endpoint (see :mod:`conformance.reference.faults`)."""

from conformance.reference.faults import fault  # noqa: F401
