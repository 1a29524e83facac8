"""The client referees of a run in one process of their own, shared by every worker.

The referee checks (``check_openai_sdk``, ``check_anthropic_sdk``, ``check_node_clients``) replay
an exchange through real clients. In-process, each pytest-xdist worker would import openai-python
and anthropic-python (about 2 s of CPU together) and start its own Node process (about 0.5 s):
with 8 workers on 2 cores that is most of a run's CPU. Instead, the controlling process starts
one referee process per run (:func:`start`, ``python -m conformance.referee``): it imports the
clients once, runs one Node replayer, and answers every worker over a Unix socket in a private
folder (``$CONFORMANCE_REFEREE``).

A worker sends an exchange as soon as judge() knows a referee check applies to it
(:func:`prefetch`) and goes on with the other checks while the referee replays it; the referee
checks then take the outcomes (:func:`outcomes`). The replay code is the same
(:func:`conformance.sdk.replay.replay`, :func:`conformance.clients.node.replay`), so the outcomes
are the same as in-process. When there is no referee process, or it does not answer, the checks
replay in-process as before: a referee process can make a run faster, never change a verdict.

Wire format: each message is a 4-byte big-endian length and a pickle. Only the run's own
processes can reach the socket (a 0700 folder); exchanges are already redacted.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

REFEREE_ENV = "CONFORMANCE_REFEREE"  # the Unix socket of the run's referee process
WAIT_S = 150.0  # the longest a worker waits for an answer (the Node replayer's own backstop is 90 s)
NODE, PYTHON = "node", "python"


# -- wire --------------------------------------------------------------------------------------------
def _send(sock: socket.socket, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(4, "big") + data)


def _recv(sock: socket.socket) -> Any:
    size = int.from_bytes(_exactly(sock, 4), "big")
    return pickle.loads(_exactly(sock, size))


def _exactly(sock: socket.socket, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = sock.recv(min(n - got, 1 << 20))
        if not part:
            raise ConnectionError("the referee process closed the connection")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _state(exchange: Any) -> dict[str, Any]:
    """An exchange's fields without its per-process caches (``_json_events``, ``_sdk_outcomes``, …)."""
    return {k: v for k, v in exchange.__dict__.items() if not k.startswith("_")}


def _exchange(state: dict[str, Any]) -> Any:
    from conformance.exchange import Exchange

    exchange = Exchange.__new__(Exchange)
    exchange.__dict__.update(state)
    return exchange


# -- the referee process -------------------------------------------------------------------------------
def answer(request: dict[str, Any]) -> dict[str, Any]:
    """What the referees make of one exchange: {"python": {client: [Outcome]}, "node": [ClientOutcome]}
    for the lanes asked for; a lane that raised is left out (the worker then replays it itself).
    The Node lane runs in its own process: it replays while the Python SDKs do."""
    import warnings

    exchange = _exchange(request["exchange"])
    out: dict[str, Any] = {}
    node_thread = None
    if request.get(NODE):
        def node_lane() -> None:
            from conformance.clients.node import replay as node_replay

            try:
                out[NODE] = node_replay(exchange)
            except Exception:  # noqa: BLE001 - the worker replays it in-process and reports what happens
                pass

        node_thread = threading.Thread(target=node_lane, name="referee-node", daemon=True)
        node_thread.start()
    clients = request.get(PYTHON) or []
    if clients:
        from conformance.sdk.replay import replay

        done = {}
        for client in clients:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    done[client] = replay(exchange, request["endpoint"], client)
            except Exception:  # noqa: BLE001 - as above
                continue
        out[PYTHON] = done
    if node_thread is not None:
        node_thread.join()
    return out


def _serve_connection(conn: socket.socket) -> None:
    with conn:
        while True:
            try:
                request = _recv(conn)
            except (ConnectionError, OSError, EOFError, pickle.UnpicklingError):
                return
            try:
                reply = {"id": request.get("id"), **answer(request)}
            except Exception:  # noqa: BLE001 - a reply without lanes: the worker replays in-process
                reply = {"id": request.get("id") if isinstance(request, dict) else None}
            try:
                _send(conn, reply)
            except OSError:
                return


def _warm() -> None:
    """Import the clients and start Node while the first requests are still on their way."""
    try:
        from conformance.clients import node

        if node.status().available:  # its own process: it starts while the SDKs are imported here
            node.replayer()._start()  # type: ignore[union-attr]
        import conformance.sdk.replay  # noqa: F401
        from conformance.sdk import ANTHROPIC, OPENAI, version

        version(ANTHROPIC), version(OPENAI)  # the suites' first cases are Anthropic's (alphabetical)
    except Exception:  # noqa: BLE001 - warming is an optimisation; requests import what they need
        pass


def serve(path: str) -> None:
    """``python -m conformance.referee PATH``: answer on the socket until the parent closes stdin."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    print("ready", flush=True)
    threading.Thread(target=_warm, name="referee-warm", daemon=True).start()

    def watch_parent() -> None:
        sys.stdin.read()  # EOF: the run ended (or its process died)
        os._exit(0)

    threading.Thread(target=watch_parent, name="referee-parent", daemon=True).start()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve_connection, args=(conn,), name="referee-conn", daemon=True).start()


class Referee:
    """The controlling process's handle on its referee process."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="conformance-referee-")
        os.chmod(self.folder, 0o700)
        self.path = str(Path(self.folder) / "socket")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop(REFEREE_ENV, None)
        self.proc = subprocess.Popen([sys.executable, "-m", "conformance.referee", self.path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # bound before it says so: workers can connect at once
        self.ready = line.strip() == b"ready"

    def stop(self) -> None:
        import shutil

        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Referee | None:
    """Start the run's referee process and point this process's children at it ($CONFORMANCE_REFEREE);
    None when it could not start (everything then replays in-process)."""
    try:
        referee = Referee()
    except OSError:
        return None
    if not referee.ready:
        referee.stop()
        return None
    os.environ[REFEREE_ENV] = referee.path
    return referee


def stop(referee: Referee | None) -> None:
    if referee is None:
        return
    if os.environ.get(REFEREE_ENV) == referee.path:
        os.environ.pop(REFEREE_ENV, None)
    referee.stop()


# -- a worker's side -----------------------------------------------------------------------------------
class _Connection:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT_S)
        self.sock.connect(path)
        self.lock = threading.Lock()
        self.next = 0
        self.answers: dict[int, dict[str, Any]] = {}

    def submit(self, request: dict[str, Any]) -> int:
        with self.lock:
            self.next += 1
            _send(self.sock, {**request, "id": self.next})
            return self.next

    def result(self, ident: int) -> dict[str, Any]:
        with self.lock:
            while ident not in self.answers:
                reply = _recv(self.sock)
                self.answers[reply.get("id")] = reply
            return self.answers.pop(ident)


_CONNECTION: list[Any] = [None]  # the process's connection; False once the referee failed (in-process from then on)
_LOCK = threading.Lock()


def _connection() -> _Connection | None:
    path = os.environ.get(REFEREE_ENV)
    if not path:
        return None
    with _LOCK:
        if _CONNECTION[0] is None:
            try:
                _CONNECTION[0] = _Connection(path)
            except OSError:
                _CONNECTION[0] = False
        return _CONNECTION[0] or None


def _broken() -> None:
    with _LOCK:
        connection, _CONNECTION[0] = _CONNECTION[0], False
    if connection:
        try:
            connection.sock.close()
        except OSError:
            pass


def available() -> bool:
    """True when this process can reach a referee process."""
    return _connection() is not None


def prefetch(exchange: Any, endpoint: str, python: list[str], node: bool) -> None:
    """Send the exchange to the referee process for these lanes (nothing when there is none)."""
    if not (python or node) or "_referee" in exchange.__dict__:
        return
    connection = _connection()
    if connection is None:
        return
    try:
        ident = connection.submit({"exchange": _state(exchange), "endpoint": endpoint, PYTHON: python, NODE: node})
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        _broken()
        return
    exchange.__dict__["_referee"] = (connection, ident, None)


def outcomes(exchange: Any, lane: str, client: str | None = None) -> list[Any] | None:
    """The referee process's outcomes for this exchange and lane (``client``: which Python SDK);
    None when it has none (no referee, not sent, it failed): the caller replays in-process."""
    pending = exchange.__dict__.get("_referee")
    if pending is None:
        return None
    connection, ident, reply = pending
    if reply is None:
        try:
            reply = connection.result(ident)
        except (OSError, ConnectionError, EOFError, pickle.UnpicklingError):
            _broken()
            exchange.__dict__.pop("_referee", None)
            return None
        exchange.__dict__["_referee"] = (connection, ident, reply)
    if lane == PYTHON:
        return (reply.get(PYTHON) or {}).get(client)
    return reply.get(NODE)


if __name__ == "__main__":  # pragma: no cover - the referee process
    serve(sys.argv[1])
