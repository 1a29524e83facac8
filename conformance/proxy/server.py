"""Running the validating proxy: uvicorn serving the relay, a judging worker, the live line."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, TextIO

import uvicorn

from conformance.proxy.judging import Judging, WorkerConfig
from conformance.proxy.relay import ProxyApp, RelaySettings

LIVE_EVERY_SECONDS = 2.0  # not a terminal: the summary line at most this often (and at the end)


@dataclass(frozen=True)
class ProxySettings:
    upstream: str
    host: str = "127.0.0.1"
    port: int = 8080
    profiles: tuple[str, ...] = ("openai", "anthropic")
    strictness: str = "compatible"
    disabled: frozenset[str] = frozenset()
    report_dir: str = "reports"
    max_body_bytes: int = 32 * 1024 * 1024
    max_record_bytes: int = 8 * 1024 * 1024
    write_every: int = 10
    write_seconds: float = 2.0
    read_timeout_s: float = 600.0


class LiveLine:
    """The one-line summary: rewritten in place on a terminal, a plain line now and then otherwise."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._last_print = 0.0
        self._line = ""
        self._printed = ""

    def __call__(self, line: str) -> None:
        with self._lock:
            self._line = line
            if self.tty:
                width = 160
                self.stream.write("\r\x1b[K" + (line if len(line) <= width else line[: width - 1] + "…"))
                self.stream.flush()
            elif time.monotonic() - self._last_print >= LIVE_EVERY_SECONDS:
                self._emit()

    def _emit(self) -> None:
        self.stream.write(self._line + "\n")
        self.stream.flush()
        self._printed = self._line
        self._last_print = time.monotonic()

    def final(self, line: str) -> None:
        with self._lock:
            self._line = line
            if self.tty:
                self.stream.write("\r\x1b[K" + line + "\n")
                self.stream.flush()
            elif line != self._printed:
                self._emit()


class _QuietDisconnects(logging.Filter):
    """uvicorn logs an error when a response ends without completing: that is how a relayed
    upstream failure reaches the client (its connection is cut, as the upstream's was). The
    exchange is recorded with the reason; the log line would only be noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


class _Server(uvicorn.Server):
    """uvicorn, but SIGINT/SIGTERM only stop serving: the proxy then writes its reports (uvicorn
    would re-raise the signal after shutdown, killing the process before that)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


class ProxyServer:
    """The validating proxy: ``run()`` in the foreground (the CLI), or ``start()``/``stop()`` (a
    ``with`` block) on an ephemeral port in a background thread (tests)."""

    def __init__(self, settings: ProxySettings, *, live: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.judging = Judging(
            WorkerConfig(
                profiles=tuple(settings.profiles), strictness=settings.strictness, disabled=settings.disabled,
                report_dir=settings.report_dir, upstream=settings.upstream,
                write_every=settings.write_every, write_seconds=settings.write_seconds,
            ),
            live=live,
        )
        self.app = ProxyApp(
            RelaySettings(upstream=settings.upstream, max_body_bytes=settings.max_body_bytes,
                          max_record_bytes=settings.max_record_bytes, read_timeout_s=settings.read_timeout_s),
            self.judging.submit,
        )
        config = uvicorn.Config(
            self.app, host=settings.host, port=settings.port, http="h11", lifespan="on", log_level="warning",
            access_log=False, server_header=False, date_header=False, timeout_graceful_shutdown=5,
            timeout_keep_alive=30,
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None
        self.host = settings.host
        self.port = settings.port
        self.written: list[str] = []
        logging.getLogger("uvicorn.error").addFilter(_QuietDisconnects())

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self, sock: socket.socket | None = None) -> list[str]:
        """Serve (on ``sock`` when given) until SIGINT/SIGTERM, then write the reports; their paths."""
        try:
            self._server.run(sockets=[sock] if sock is not None else None)
        finally:
            self.written = self.judging.close()
        if not self._server.started:
            from conformance.errors import ConfigError

            raise ConfigError(f"could not listen on {self.host}:{self.port} (is the port in use? choose another with --listen)")
        return self.written

    def start(self) -> "ProxyServer":
        self._thread = threading.Thread(target=self._server.run, name="conformance-proxy", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.judging.close()
                raise RuntimeError("the proxy did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> list[str]:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.written = self.judging.close()
        return self.written

    def __enter__(self) -> "ProxyServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
