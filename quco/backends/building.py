"""Helpers shared by the index builders: atomic output, SIGTERM handling, progress bars."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ..errors import Terminated


def install_sigterm() -> bool:
    def handler(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
        return True
    except ValueError:  # not in the main thread: leave signals alone
        return False


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc="indexing", mininterval=0.5, leave=False)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


