"""One audit writer for all of ``quco serve``'s worker processes.

DuckDB lets one process write a database file, so ``quco serve --audit PATH`` starts a writer
process that owns the ``AuditLog`` and listens on a Unix socket beside it; each worker holds an
``AuditClient`` that sends its rows there in small batches (every ``_SEND_EVERY`` seconds, from a
background thread: answering a request never waits for the audit) and asks it about feedback.
Protocol: one JSON object per line — ``{"op": "rows", "rows": [...]}`` (no reply),
``{"op": "key"}``, ``{"op": "feedback", ...}``, ``{"op": "flush"}`` (one reply line each).
The writer exits when its parent does, after committing what it has.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
import time
from pathlib import Path

from quco.audit.log import AuditLog, DecisionRecorder, RowBatcher, UnknownRequest

_SEND_EVERY = 0.1


def run_writer(path: str, sock_path: str, store_text: bool, retention_days, retention_rows, parent: int) -> None:
    """The writer process's body."""
    log = AuditLog(path, store_text=store_text, retention_days=retention_days, retention_rows=retention_rows)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                msg = json.loads(line)
                op = msg.get("op")
                if op == "rows":
                    for row in msg["rows"]:
                        log.record(row)
                    continue
                if op == "key":
                    reply = {"key": log.key.hex(), "store_text": log.store_text}
                elif op == "flush":
                    log.flush()
                    reply = {"ok": True}
                elif op == "feedback":
                    try:
                        reply = {"new": log.feedback(msg["request_id"], msg["label"], msg.get("note"))}
                    except UnknownRequest as exc:
                        reply = {"unknown": str(exc)}
                    except Exception as exc:
                        reply = {"error": str(exc)}
                else:
                    reply = {"error": f"unknown op {op!r}"}
                self.wfile.write((json.dumps(reply) + "\n").encode())
                self.wfile.flush()

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    Path(sock_path).unlink(missing_ok=True)
    server = Server(sock_path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        while os.getppid() == parent:  # the server (our parent) went away: commit and stop
            time.sleep(0.2)
    finally:
        server.shutdown()
        log.close()
        Path(sock_path).unlink(missing_ok=True)


def start_writer(path: Path, *, store_text: bool, retention_days=None, retention_rows=None):
    """Start the writer process; returns (process, socket path) once it accepts connections."""
    import multiprocessing

    sock_path = str(path.with_name(f".{path.name}.{os.getpid()}.sock"))
    ctx = multiprocessing.get_context("spawn")  # a clean process: no inherited DuckDB state
    proc = ctx.Process(target=run_writer, args=(str(path), sock_path, store_text, retention_days, retention_rows,
                                                os.getpid()), daemon=True, name="quco-audit-writer")
    proc.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"the audit writer for {path} exited at start (code {proc.exitcode})")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock_path)
            return proc, sock_path
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the audit writer for {path} did not start")


class AuditClient(DecisionRecorder):
    """What a serving worker uses: ``record_report`` (queued, sent in the background) and
    ``feedback`` (asked and answered), over the writer's socket."""

    def __init__(self, sock_path: str):
        self.sock_path = sock_path
        self._req = self._connect()
        self._req_lock = threading.Lock()
        info = self._ask({"op": "key"})
        self.key, self.store_text = bytes.fromhex(info["key"]), info["store_text"]
        self._out = None
        self._lost = 0  # rows the writer could not be reached for
        self._rows = RowBatcher(self._send, every=_SEND_EVERY, batch_rows=1000, name="quco-audit-sender")

    @property
    def dropped(self) -> int:
        return self._rows.dropped + self._lost

    def _connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.sock_path)
        return s.makefile("rwb")

    def _ask(self, msg: dict) -> dict:
        with self._req_lock:
            self._req.write((json.dumps(msg) + "\n").encode())
            self._req.flush()
            return json.loads(self._req.readline())

    def record(self, row: dict) -> None:
        self._rows.put(row)

    def _send(self, rows: list[dict]) -> None:
        try:
            if self._out is None:
                self._out = self._connect()
            self._out.write((json.dumps({"op": "rows", "rows": rows}, ensure_ascii=False) + "\n").encode())
            self._out.flush()
        except OSError:  # the writer is gone or restarting: count the rows, reconnect next time
            self._lost += len(rows)
            self._out = None

    def flush(self) -> None:
        """Every row recorded so far sent, then committed by the writer."""
        self._rows.wait(timeout=10.0)
        self._ask({"op": "flush"})

    def feedback(self, request_id: str, label: str, note: str | None = None) -> bool:
        self.flush()
        reply = self._ask({"op": "feedback", "request_id": request_id, "label": label, "note": note})
        if "unknown" in reply:
            raise UnknownRequest(reply["unknown"])
        if "error" in reply:
            from quco.errors import UsageError

            raise UsageError(reply["error"])
        return reply["new"]

    def close(self) -> None:
        try:
            self._req.close()
        except OSError:
            pass
