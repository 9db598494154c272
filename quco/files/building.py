"""Helpers shared by the index builders: atomic output, progress bars (SIGTERM: ``quco.process``)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from quco.errors import BuildError, QucoError
from quco.files.outputs import Artefact, OutputLock, check_outputs


def build_sources(sources: Sequence, out: Path, kind: Artefact, force: bool) -> list[Path]:
    """The source paths of a build, after the output rule (``quco.files.outputs``) has accepted ``out``."""
    if not sources:
        raise BuildError("no source files given")
    paths = [Path(s) for s in sources]
    check_outputs(paths, {"--out": (out, kind)}, force=force)
    return paths


def quco_version() -> str:
    """The version written into every index's metadata."""
    from quco import __version__

    return __version__


def swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished directory ``tmp`` over ``out``; readers of the old one keep their open files."""
    old = None
    if out.exists() or out.is_symlink():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    fsync_dir(out.parent)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:  # a file replaced with --force
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def building_dir(out: Path) -> Iterator[Path]:
    """Hold the output's lock and yield a fresh private directory; when the block succeeds it is
    swapped into place at ``out``, and on any failure removed (the previous ``out`` stays)."""
    with OutputLock(out, "index build"):
        tmp = out.parent / f".{out.name}.building-{os.getpid()}"
        try:
            tmp.mkdir()
            yield tmp
            swap_into_place(tmp, out)
        except QucoError:
            raise
        except OSError as exc:
            raise BuildError(write_failure(out, exc)) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _full_disk_kind(exc: BaseException | str) -> str | None:
    """"errno" or "short write" when a failure (or a worker's report of one) says the disk is full."""
    text = str(exc)
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text:
        return "errno"
    if "requested and" in text and "written" in text:  # NumPy's short write: the disk filled up
        return "short write"
    return None


def disk_full(exc: BaseException | str) -> bool:
    """Does this failure (or a worker's report of one) say the disk is full?"""
    return _full_disk_kind(exc) is not None


def write_failure(path: str | os.PathLike, exc: BaseException | str) -> str:
    """One line for a failed write of ``path``: a full disk (or quota) says so, whatever layer
    reported it (an errno, NumPy's short write, or a worker process's error as text)."""
    kind = _full_disk_kind(exc)
    if kind == "errno":
        reason = "no space left on the device"
    elif kind == "short write":
        reason = f"a short write ({exc}): no space left on the device?"
    else:
        reason = getattr(exc, "strerror", None) or str(exc)
    return f"writing {path}: {reason}"


@contextlib.contextmanager
def temporary_beside(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` (``.NAME.tmp-PID``) for the caller to write and rename into
    place; removed if the block fails (a full disk, a signal), so no half-written file is left."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool, *, desc: str = "indexing", unit: str = "B") -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, mininterval=0.5, leave=False)


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


