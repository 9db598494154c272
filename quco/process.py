"""How a process ends: child processes that must not outlive their parent (kill -9 included: a
watcher thread notices the re-parenting and ends the child), and which stop signals arrived.

A DuckDB query running when Ctrl-C or SIGTERM arrives is cut short and reports "Query interrupted"
(a plain ``RuntimeError``) in place of the signal handler's exception; ``arrived`` tells that from
a failure."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from quco.errors import Terminated

_ARRIVED: set[int] = set()  # signals are the process's, and so is this record


def remember(signum: int) -> None:
    """Record that ``signum`` arrived (a signal handler's first step)."""
    _ARRIVED.add(signum)


def arrived(signum: int) -> bool:
    """Whether ``signum`` arrived since it was last ``forget``-ed."""
    return signum in _ARRIVED


def forget(signum: int) -> None:
    _ARRIVED.discard(signum)


@contextlib.contextmanager
def interrupts_noted() -> Iterator[None]:
    """Within the block Ctrl-C (SIGINT) raises ``KeyboardInterrupt`` as by default, and is
    remembered; the previous handler is back after it. Where SIGINT does not raise
    ``KeyboardInterrupt`` (ignored, as in a background job, or another handler) and outside the main
    thread nothing changes."""

    def handler(signum: int, frame: FrameType | None) -> None:
        remember(signum)
        signal.default_int_handler(signum, frame)

    forget(signal.SIGINT)
    previous = signal.getsignal(signal.SIGINT)
    try:
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, handler)
    except ValueError:  # not in the main thread
        previous = None
    try:
        yield
    finally:
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
        forget(signal.SIGINT)


def install_sigterm() -> bool:
    """SIGTERM raises ``Terminated`` and is remembered (``arrived``); in the main thread
    only (elsewhere signals are left alone: False)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        remember(signum)
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread: leave signals alone
        return False
    forget(signal.SIGTERM)
    return True


def restore_sigterm(previous: Any) -> None:
    """The SIGTERM handler found before ``install_sigterm`` back, and the signal forgotten: a build
    that raised ``Terminated`` for it has said so."""
    signal.signal(signal.SIGTERM, previous)
    forget(signal.SIGTERM)


def signalled_stop() -> BaseException | None:
    """The exception a stop signal that arrived stands for — ``Terminated`` after SIGTERM,
    ``KeyboardInterrupt`` after Ctrl-C — to raise in place of an error it caused (a query cut short
    says "Query interrupted"); None when none arrived."""
    if arrived(signal.SIGTERM):
        return Terminated()
    if arrived(signal.SIGINT):
        return KeyboardInterrupt()
    return None


def exit_with_parent(parent: int, on_orphan: Callable[[], None] | None = None, every: float = 0.5) -> None:
    """Watch for this process being re-parented away from ``parent`` (which then died, however):
    call ``on_orphan`` (a graceful stop), or exit at once without one."""

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                if on_orphan is None:
                    os._exit(1)
                on_orphan()
                return

    threading.Thread(target=watch, daemon=True, name="quco-parent-watch").start()
