"""Heavy checks (drafts, big batches) run in worker processes that can be abandoned.

A thread cannot be stopped: a request that times out in a thread keeps parsing for minutes and
keeps its memory. So ``quco serve`` sends heavy work to a small pool of processes and, when a
request's deadline passes (or its client goes away), kills the process that runs it: CPU is idle
and the memory is returned at once. A worker whose memory grew past ``recycle_rss_mb`` after a
job is replaced too, so one large draft does not pin its peak memory for the server's lifetime.

Workers are forked from a *fork server* that has already loaded spaCy and opened the index
(``multiprocessing``'s forkserver with a preload), so replacing a killed worker costs
milliseconds and no CPU-heavy start-up, and the workers share the loaded model copy-on-write.
When every worker is busy, :class:`Busy` is raised at once (``quco serve`` answers 503 with
``Retry-After``) instead of queueing work nobody may wait for.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import threading

from quco.errors import InvalidValue, QucoError

PRELOAD_MODULE = "quco.service.heavy"
_PRELOADED: dict = {}  # settings -> Detector, filled in the fork server by ``_preload``


class Busy(QucoError):
    """Every heavy worker is busy; retry shortly."""


class WorkerLost(QucoError):
    """The worker process died while running a request (killed from outside, out of memory)."""


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _detector(settings):
    """The worker's detector: the fork server's preloaded one when the settings match."""
    det = _PRELOADED.get(settings)
    if det is None:
        det = settings.detector()
        det.extractor.nlp  # noqa: B018 - load spaCy before the first request
        _PRELOADED[settings] = det
    return det


def _index_signature(settings):
    try:
        st = os.stat(settings.index)
        return (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def _worker_main(conn, settings) -> None:
    """Run checks sent over ``conn`` until it closes. Replies ("ok", reports, rss) or ("error", exc)."""
    # A session of its own: a graceful shutdown (SIGTERM or Ctrl-C to the server's process group)
    # lets the request in hand finish; the worker leaves when the server closes its pipe, and a
    # deadline kills it directly.
    os.setsid()
    det = _detector(settings)
    signature = _index_signature(settings)
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):
            return
        sig = _index_signature(settings)
        if sig is not None and sig != signature:  # the index was rebuilt: reopen it, keep spaCy
            try:
                fresh = settings.detector(settings.open_backend())
                fresh.extractor = det.extractor
                det, signature = fresh, sig
            except QucoError:
                pass  # half-written or broken: keep answering from the index we have
        try:
            reply = ("ok", det.check_many(items), _rss_mb())
        except QucoError as exc:
            reply = ("error", exc, _rss_mb())
        except Exception as exc:  # a bug in a worker must not look like a timeout
            reply = ("error", QucoError(f"internal error in a check worker: {type(exc).__name__}: {exc}"), _rss_mb())
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class _Worker:
    def __init__(self, process, conn):
        self.process, self.conn = process, conn

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class HeavyPool:
    """At most ``size`` worker processes; ``await run(items)`` is ``Detector.check_many`` in one of them."""

    def __init__(self, settings, size: int = 1, *, recycle_rss_mb: float = 700.0):
        if size < 1:
            raise InvalidValue("a heavy pool needs at least one worker")
        self.settings = settings
        self.size = size
        self.recycle_rss_mb = recycle_rss_mb
        self._ctx = multiprocessing.get_context("forkserver")
        self._idle: list[_Worker] = []
        self._live = 0  # alive or starting
        self._busy = 0  # running a request
        self._lock = threading.Lock()
        self.killed = 0  # abandoned at a deadline or a disconnect
        self.recycled = 0  # replaced after growing past recycle_rss_mb
        self._closed = False

    # -- life cycle ------------------------------------------------------------------------------
    def prestart(self) -> None:
        """Start the fork server and every worker now (blocking; call from a thread)."""
        workers = []
        with self._lock:
            room = self.size - self._live
            self._live += room
        try:
            for _ in range(room):
                workers.append(self._spawn())
        except BaseException:
            with self._lock:
                self._live -= room - len(workers)
            raise
        finally:
            with self._lock:
                closed = self._closed
                if not closed:
                    self._idle.extend(workers)
            if closed:  # closed while we were starting them
                for w in workers:
                    w.kill()

    def _spawn(self) -> _Worker:
        # Read by the fork server when it starts (the first spawn): it preloads for these settings.
        os.environ.setdefault("QUCO_HEAVY_PRELOAD", f"{os.getpid()}:{json.dumps(self.settings.to_dict())}")
        self._ctx.set_forkserver_preload([PRELOAD_MODULE])
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.settings), daemon=True, name="quco-check")
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()

    # -- running -----------------------------------------------------------------------------------
    async def _acquire(self) -> _Worker:
        """An idle worker, or a new one; waits only while a worker is starting (never for a busy one)."""
        while True:
            with self._lock:
                if self._closed:
                    raise Busy("the server is shutting down")
                while self._idle:
                    w = self._idle.pop()
                    if w.process.is_alive():
                        return w
                    self._live -= 1
                    w.kill()
                spawn = self._live < self.size
                if spawn:
                    self._live += 1
            if spawn:
                try:
                    return await asyncio.to_thread(self._spawn)
                except BaseException:
                    with self._lock:
                        self._live -= 1
                    raise
            await asyncio.sleep(0.02)  # a worker is starting (prestart): it is ours when ready

    def _give_back(self, w: _Worker, keep: bool) -> None:
        with self._lock:
            if keep and not self._closed:
                self._idle.append(w)
                return
            self._live -= 1
        w.kill()

    async def run(self, items: list, timeout: float | None = None):
        """Check ``items`` in a worker. Raises ``Busy`` when every worker is running a request,
        ``asyncio.TimeoutError`` after ``timeout`` (the worker is killed), and re-raises the
        worker's ``QucoError``."""
        with self._lock:
            if self._busy >= self.size:
                raise Busy(f"all {self.size} check worker(s) are busy")
            self._busy += 1
        try:
            return await self._run(items, timeout)
        finally:
            with self._lock:
                self._busy -= 1

    async def _run(self, items: list, timeout: float | None):
        w = await self._acquire()
        keep = False
        try:
            # The round trip blocks a thread, not the event loop; killing the worker at the deadline
            # ends that thread's wait with EOF.
            status, value, rss = await asyncio.wait_for(asyncio.to_thread(_round_trip, w.conn, items), timeout)
            keep = rss <= self.recycle_rss_mb
            if not keep:
                self.recycled += 1
        except (TimeoutError, asyncio.CancelledError):
            self.killed += 1
            raise
        except (EOFError, OSError) as exc:
            w.process.join(timeout=1)
            raise WorkerLost(f"a check worker died while running the request "
                             f"(exit code {w.process.exitcode}, {type(exc).__name__}: {exc})") from None
        finally:
            self._give_back(w, keep)
        if status == "error":
            raise value
        return value



def _round_trip(conn, items):
    conn.send(items)
    return conn.recv()


def _preload() -> None:
    """In the fork server only: load spaCy and the index once, for the settings the pool that
    started it announced (``QUCO_HEAVY_PRELOAD`` = "PARENT_PID:SETTINGS_JSON"). Anywhere else,
    importing this module does nothing."""
    marker = os.environ.get("QUCO_HEAVY_PRELOAD", "")
    pid, _, payload = marker.partition(":")
    if not payload or pid != str(os.getppid()):
        return
    import signal

    # Ctrl-C reaches the server's whole process group: the server stops this fork server (it closes
    # its pipe), so an interrupt here would only print a traceback in the middle of loading spaCy.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from quco.config import Settings

        _detector(Settings.from_dict(json.loads(payload)))
    except Exception:
        _PRELOADED.clear()


_preload()
