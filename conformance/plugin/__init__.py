"""The pytest plugin, split by concern. ``conformance.pytest_plugin`` (the registered entry point)
holds only the hooks and fixtures; the work is done here:

- :mod:`.options`: command-line options and the run's settings (from the CLI's JSON or pytest options);
- :mod:`.session`: one target per session, its credentials and the embedded reference server;
- :mod:`.case`: the per-case context (transport, judge(), checks, refusals) and case identity;
- :mod:`.outcome`: a case's verdict as a pytest outcome and its record attached to the report;
- :mod:`.results`: results.json from every worker's records, the gate and the terminal summary.

This package module itself is a leaf (constants only), so anything may import it.
"""

from conformance.clients import CLIENT_OUTCOMES  # noqa: E402,F401 - what the client referees made of a case's exchanges, worker → controller
CASE_PROPERTY = "conformance_case"  # the user property each case's record travels in, worker → controller
SUITES_MARK = "conformance/suites/"
