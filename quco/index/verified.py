"""Remembering that a large index was verified, so each process that opens it does not hash it again.

A verification stamp records, for every file whose checksum was just found correct, its device,
inode, size, modification time and change time (which no copy can preserve: a file copied over a
freed inode, with its mtime kept, is still a new file). A later open whose files all still have those exact stats
takes them as verified; any change (a rebuild, `index add`, a copied or rewritten file) and the
files are hashed again. Stamps live in the user's cache directory (``$QUCO_CACHE_DIR``, else
``$XDG_CACHE_HOME/quco``, else ``~/.cache/quco``), never in the index: a read-only index works,
and the index's bytes stay what its build wrote. Damage that leaves a file's stats untouched (a
bit flipped by the disk itself) is not seen by a stamp: ``quco index verify`` always hashes
everything. Processes opening the same index at once take turns (an advisory lock on the stamp),
so one hashes it and the others read its stamp.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["cache_dir", "stamp_path", "stamped", "stats_of", "write_stamp", "record_verified", "stamp_lock"]


def cache_dir() -> Path:
    if os.environ.get("QUCO_CACHE_DIR"):
        return Path(os.environ["QUCO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quco"


def stamp_path(files: list[Path], manifest_checksum: str) -> Path:
    """The stamp for these files as described by this manifest (a rebuilt index has a new one)."""
    key = hashlib.sha256(json.dumps([str(p.resolve()) for p in files] + [manifest_checksum]).encode()).hexdigest()
    return cache_dir() / "verified" / f"{key[:32]}.json"


def stats_of(files: list[Path]) -> list[list[int]]:
    """What a stamp records of each file (device, inode, size, mtime, ctime)."""
    out = []
    for p in files:
        st = p.stat()
        out.append([st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
    return out


def stamped(stamp: Path, files: list[Path]) -> bool:
    """Whether a stamp says these files were verified and none has changed since."""
    try:
        return json.loads(stamp.read_text()).get("stats") == stats_of(files)
    except (OSError, ValueError, AttributeError):
        return False


def write_stamp(stamp: Path, files: list[Path], stats: list[list[int]] | None = None) -> None:
    """Record that these files were just verified — as they were when hashing began (``stats``),
    so a file replaced meanwhile is never stamped; a cache that cannot be written is skipped."""
    from quco.files.building import temporary_beside

    with contextlib.suppress(OSError):
        stamp.parent.mkdir(parents=True, exist_ok=True)
        with temporary_beside(stamp) as tmp:
            tmp.write_text(json.dumps({"files": [str(p) for p in files],
                                       "stats": stats if stats is not None else stats_of(files)}))
            os.replace(tmp, stamp)


def record_verified(files: list[Path], key: str) -> None:
    """A build, add or compaction hashed these files as it wrote them: stamp them verified under
    ``key`` (what the reader's ``Verification`` is given), so the index opens verified at once."""
    write_stamp(stamp_path(files, key), files)


@contextlib.contextmanager
def stamp_lock(stamp: Path) -> Iterator[None]:
    """Hold the stamp's advisory lock (blocking): one process verifies, the others then read the
    stamp. Without a writable cache there is no lock, and each process verifies on its own."""
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(stamp.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
