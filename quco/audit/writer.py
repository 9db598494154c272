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
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quco.audit.log import AuditLog, DecisionRecorder, RowBatcher, UnknownRequest
from quco.errors import AuditError
from quco.process import exit_with_parent

_SEND_EVERY = 0.1


def run_writer(path: str, sock_path: str, store_text: bool, retention_days, retention_rows, parent: int) -> None:
    """The writer process's body. It ignores SIGTERM and SIGINT, which a process-group signal to
    ``quco serve`` delivers to it too: it must outlive the workers still sending their last rows.
    It stops when the server asks (``stop_writer``) or is gone, committing what it holds."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    log = AuditLog(path, store_text=store_text, retention_days=retention_days, retention_rows=retention_rows)

    handlers: set[threading.Thread] = set()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            handlers.add(threading.current_thread())
            try:
                self.serve_lines()
            finally:
                handlers.discard(threading.current_thread())

        def serve_lines(self):
            for line in self.rfile:
                msg = json.loads(line)
                op = msg.get("op")
                reply: dict
                if op == "rows":  # acknowledged once committed: the sender keeps them until then
                    for row in msg["rows"]:
                        log.record(row)
                    log.flush()
                    reply = {"ok": True}
                elif op == "ping":
                    reply = {"ok": True}
                elif op == "key":
                    reply = {"key": log.key.hex(), "store_text": log.store_text}
                elif op == "stop":
                    stop.set()
                    reply = {"ok": True}
                elif op == "flush":
                    log.flush()
                    reply = {"ok": True}
                elif op == "feedback":
                    reply = _feedback(log, msg)
                else:
                    reply = {"error": f"unknown op {op!r}"}
                self.wfile.write((json.dumps(reply) + "\n").encode())
                self.wfile.flush()

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    Path(sock_path).unlink(missing_ok=True)
    server = Server(sock_path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    exit_with_parent(parent, stop.set, every=0.2)  # the server went away: stop as if asked
    try:
        stop.wait()
    finally:
        server.shutdown()
        deadline = time.monotonic() + 10  # rows a closing worker already sent are still being read
        for t in list(handlers):
            t.join(max(0.0, deadline - time.monotonic()))
        log.close()
        Path(sock_path).unlink(missing_ok=True)


def _feedback(log: AuditLog, msg: dict) -> dict:
    """Label a decision. An id not yet in the log may be a decision another server worker has
    answered but not yet sent (its rows go every ``_SEND_EVERY`` s): wait for them briefly before
    saying it is unknown."""
    deadline = time.monotonic() + 3 * _SEND_EVERY + 0.5
    while True:
        try:
            return {"new": log.feedback(msg["request_id"], msg["label"], msg.get("note"))}
        except UnknownRequest as exc:
            if time.monotonic() >= deadline:
                return {"unknown": str(exc)}
            time.sleep(0.05)
        except Exception as exc:
            return {"error": str(exc)}


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
            raise AuditError(f"the audit writer for {path} exited at start (code {proc.exitcode})")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock_path)
            return proc, sock_path
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AuditError(f"the audit writer for {path} did not start")


def stop_writer(proc, sock_path: str, timeout: float = 30.0) -> None:
    """Ask the writer to commit and exit (after the workers have sent their last rows); kill it if
    it has not within ``timeout`` seconds."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(sock_path)
            s.sendall(b'{"op": "stop"}\n')
            s.recv(64)
    except OSError:
        pass  # already gone: join below returns at once
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


def restarts_of(sock_path: str) -> int:
    """How many times the server restarted this writer (read by its workers for metrics and health)."""
    try:
        return int(Path(sock_path + ".restarts").read_text())
    except (OSError, ValueError):
        return 0


class WriterKeeper:
    """The server's audit writer, restarted when it dies (the OOM killer, a kill -9): its workers
    resend what it had not committed, and refuse checks while it cannot be reached."""

    def __init__(self, path: Path, *, store_text: bool, retention_days=None, retention_rows=None, every: float = 0.5):
        self._args = {"store_text": store_text, "retention_days": retention_days, "retention_rows": retention_rows}
        self.path = path
        self.proc, self.sock_path = start_writer(path, **self._args)
        self.restarts = 0
        Path(self.sock_path + ".restarts").write_text("0")
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._watch, daemon=True, name="quco-audit-keeper")
        self._thread.start()

    def _watch(self) -> None:
        import logging

        while not self._stop.wait(self._every):
            if self.proc.is_alive():
                continue
            code = self.proc.exitcode
            try:
                self.proc, _ = start_writer(self.path, **self._args)
            except AuditError as exc:
                logging.getLogger("quco.serve").error("the audit writer exited (code %s) and could not be restarted: %s",
                                                      code, exc)
                continue  # tried again on the next tick; meanwhile checks are refused (policy required)
            self.restarts += 1
            Path(self.sock_path + ".restarts").write_text(str(self.restarts))
            logging.getLogger("quco.serve").warning("the audit writer exited (code %s); restarted (%d so far)",
                                                    code, self.restarts)

    def stop(self) -> None:
        """After the workers: stop watching, then let the writer commit and exit."""
        self._stop.set()
        self._thread.join(5)
        stop_writer(self.proc, self.sock_path)
        Path(self.sock_path + ".restarts").unlink(missing_ok=True)


class AuditClient(DecisionRecorder):
    """What a serving worker uses: ``record_report`` (queued, sent in the background) and
    ``feedback`` (asked and answered), over the writer's socket.

    Rows are kept until the writer acknowledges their commit; a batch the writer could not take
    (it died and is being restarted) is sent again for ``resend_within`` seconds, then counted as
    lost (``dropped``, and ``on_lost``). ``available()`` says whether the writer can be reached:
    a server that requires its audit trail refuses to answer while it cannot."""

    def __init__(self, sock_path: str, *, resend_within: float = 10.0, on_lost: Callable[[int], None] | None = None):
        self.sock_path = sock_path
        self.resend_within = resend_within
        self.on_lost = on_lost
        self._req = self._connect()
        self._req_lock = threading.Lock()
        info = self._ask({"op": "key"})
        self.key, self.store_text = bytes.fromhex(info["key"]), info["store_text"]
        self._out: Any = None  # the connection rows are sent on, opened at the first batch
        self._lost = 0  # rows the writer could not be reached for
        self._up = True  # the last exchange with the writer worked
        self._rows = RowBatcher(self._send, every=_SEND_EVERY, batch_rows=1000, name="quco-audit-sender")

    def available(self) -> bool:
        """Can the writer be reached now? (Cheap while it could; one connection attempt otherwise.)"""
        if self._up:
            return True
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1.0)
                s.connect(self.sock_path)
        except OSError:
            return False
        self._up = True
        return True

    @property
    def dropped(self) -> int:
        return self._rows.dropped + self._lost

    def _connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.sock_path)
        return s.makefile("rwb")

    def _ask(self, msg: dict) -> dict:
        """One question to the writer; after a failure one reconnection is tried (the writer may
        have been restarted), then ``AuditError``."""
        with self._req_lock:
            for _attempt in (1, 2):
                try:
                    if self._req is None:
                        self._req = self._connect()
                    self._req.write((json.dumps(msg) + "\n").encode())
                    self._req.flush()
                    line = self._req.readline()
                    if line:
                        return json.loads(line)
                except (OSError, ValueError):
                    pass
                self._req = None
                self._up = False
            raise AuditError("the audit log's writer cannot be reached (it is being restarted): try again")

    def record(self, row: dict) -> None:
        self._rows.put(row)

    def _send(self, rows: list[dict]) -> None:
        message = (json.dumps({"op": "rows", "rows": rows}, ensure_ascii=False) + "\n").encode()
        give_up_at = time.monotonic() + self.resend_within
        while True:
            try:
                out = self._out
                if out is None:
                    out = self._out = self._connect()
                out.write(message)
                out.flush()
                if json.loads(out.readline() or b"{}").get("ok"):  # committed
                    self._up = True
                    return
            except (OSError, ValueError):
                pass
            self._out, self._up = None, False  # the writer is gone or restarting: send the batch again
            if time.monotonic() >= give_up_at:
                self._lost += len(rows)
                if self.on_lost is not None:
                    self.on_lost(len(rows))
                return
            time.sleep(0.2)

    def flush(self) -> None:
        """Every row recorded so far sent, then committed by the writer."""
        self._rows.wait(timeout=10.0)
        self._ask({"op": "flush"})

    def feedback(self, request_id: str, label: str, note: str | None = None) -> bool:
        """Label a decision, once the rows sent before it are committed (its own may be among them).
        While the writer is down or still catching up this fails at once or within 3 s with
        ``AuditError`` (the server answers 503): it never waits past a request's deadline."""
        if not self.available() or not self._rows.wait(timeout=3.0):
            raise AuditError("the audit log's writer is being restarted or catching up: try again")
        self._ask({"op": "flush"})
        reply = self._ask({"op": "feedback", "request_id": request_id, "label": label, "note": note})
        if "unknown" in reply:
            raise UnknownRequest(reply["unknown"])
        if "error" in reply:
            from quco.errors import UsageError

            raise UsageError(reply["error"])
        return reply["new"]

    def close(self) -> None:
        """Send the rows still queued, then close the connections."""
        self._rows.close(timeout=10.0)
        for conn in (self._out, self._req):
            try:
                if conn is not None:
                    conn.close()
            except OSError:
                pass
