"""The validating proxy: point an application (or its SDK's base URL) at it, use it normally, and
every exchange it relays is judged with the same rules, profiles and strictness as a run.

Public API::

    ProxySettings(upstream, host, port, profiles, strictness, report_dir, ...)
    ProxyServer(settings).run()                     foreground until SIGINT/SIGTERM, then the reports
    with ProxyServer(settings) as proxy: proxy.url  background thread on an ephemeral port (tests)

Pieces: :mod:`.relay` (the ASGI relay, byte for byte), :mod:`.judging` (the worker process that
records, judges and reports), :mod:`.server` (uvicorn, signals, the live line), :mod:`.cli`.
"""

from conformance.proxy.judging import Recording
from conformance.proxy.server import LiveLine, ProxyServer, ProxySettings

__all__ = ["LiveLine", "ProxyServer", "ProxySettings", "Recording"]
