"""Running the reference server: in a background thread (embedded runs, tests) or in the foreground."""

from __future__ import annotations

import threading
import time

import uvicorn

from conformance.reference.app import ServerSettings, build_app


class EmbeddedServer:
    """The reference server on an ephemeral 127.0.0.1 port, for the life of a ``with`` block."""

    def __init__(self, settings: ServerSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        config = uvicorn.Config(
            build_app(settings), host=host, port=port, log_level="error", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="reference-server", daemon=True)
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "EmbeddedServer":
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded reference server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(settings: ServerSettings, host: str, port: int) -> None:
    uvicorn.run(build_app(settings), host=host, port=port, log_level="info", lifespan="off")
