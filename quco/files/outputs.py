"""One rule for every path quco writes: an output never destroys an input or a stranger's file.

Every command that writes (``index build``, ``score``, ``eval``, ``demo``) declares its inputs and
its outputs and calls :func:`check_outputs` before doing any work:

* an output may never be an input of the same run: resolved paths and (device, inode) pairs are
  compared, so symlinks and hard links are caught; an input *inside* an output directory counts
  too (the directory is replaced whole);
* two outputs of one run may not be the same file;
* an existing output that is not a quco artefact of the same kind is never replaced unless the
  caller passes ``force=True`` (``--force``). Recognising artefacts is cheap: a header, a first
  line, a marker file.

:class:`OutputLock` serialises writers of one output and removes the temporary files a killed
run left behind (``.NAME.building-PID``, ``.NAME.tmp-PID``, ``.NAME.old-PID``): while we hold
the lock, nobody else can be writing them.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from quco.errors import OutputError

# Kinds of artefact quco writes, and how each is recognised on disk.
KINDS = ("duckdb-index", "infinigram-index", "mmap-index", "sharded-index", "scored", "errors", "parts", "eval-png", "eval-html", "calibration")
PNG_MARKER = b"quco eval"  # written into the PNG's tEXt chunk by quco eval


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()  # follows symlinks: a link to the input is the input
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_outputs(inputs: Iterable[str | os.PathLike | None], outputs: Mapping[str, tuple[str | os.PathLike, str]],
                  *, force: bool = False) -> None:
    """Refuse (``OutputError``) before any work if an output would destroy an input or a stranger's file.

    ``outputs`` maps a label for messages (``"--errors"``) to ``(path, kind)``.
    """
    ins = [Path(p) for p in inputs if p is not None and str(p) != ""]
    in_ids = {_identity(p): p for p in ins if _identity(p) is not None}
    in_real = {_resolved(p): p for p in ins}
    seen: dict = {}
    for label, (path, kind) in outputs.items():
        if kind not in KINDS:
            raise ValueError(f"unknown artefact kind {kind!r}")
        out = Path(path)
        real = _resolved(out)
        ident = _identity(out)
        clash = in_real.get(real) or (in_ids.get(ident) if ident is not None else None)
        if clash is not None:
            raise OutputError(f"{label} {out} is the input {clash} of this run; refusing to overwrite it")
        if kind in ("infinigram-index", "mmap-index", "sharded-index", "parts"):  # replaced or removed whole: nothing inside may be an input
            for r, p in in_real.items():
                if r.is_relative_to(real):
                    raise OutputError(f"{label} {out} is a directory holding the input {p}; refusing to replace it")
        key = ident or real
        if key in seen or real in seen:
            raise OutputError(f"{label} {out} is also {seen.get(key) or seen.get(real)}; give each output its own path")
        seen[key] = seen[real] = label
        if not force and out.exists() and not is_artefact(out, kind):
            raise OutputError(
                f"{label} {out} exists and is not a quco {kind.replace('-', ' ')}; refusing to replace it "
                "(choose another path, or pass --force)"
            )
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError(f"{label} {out}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{label} {out}: directory {parent} is not writable")


def is_artefact(path: Path, kind: str) -> bool:
    """Is the existing ``path`` something quco wrote as ``kind`` (or an empty file, which holds nothing)?"""
    try:
        if path.is_file() and path.stat().st_size == 0:
            return True
        if kind == "infinigram-index":
            return path.is_dir() and (path / "quco.json").is_file()
        if kind == "mmap-index":
            return path.is_dir() and (path / "quco-index.json").is_file()
        if kind == "sharded-index":
            return path.is_dir() and (path / "quco-shards.json").is_file()
        if kind == "parts":
            return path.is_dir() and ((path / "manifest.json").is_file() or not any(path.iterdir()))
        if not path.is_file():
            return False
        if kind == "duckdb-index":
            return _is_duckdb_index(path)
        if kind == "eval-png":
            with open(path, "rb") as fh:
                head = fh.read(4096)
            return head.startswith(b"\x89PNG") and PNG_MARKER in head
        if kind == "calibration":
            try:
                import json

                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                return False
            return isinstance(data, dict) and {"breakpoints", "values", "fitted_for"} <= set(data)
        if kind == "eval-html":
            with open(path, "rb") as fh:
                return b"<title>quco eval" in fh.read(4096)
        if kind in ("scored", "errors"):
            return _has_quco_columns(path, kind)
    except OSError:
        return False
    return False


def _is_duckdb_index(path: Path) -> bool:
    from quco.index.duckdb.reader import read_meta
    from quco.errors import IndexOpenError

    with open(path, "rb") as fh:
        if fh.read(16)[8:12] != b"DUCK":
            return False
    try:
        read_meta(path)
    except IndexOpenError:
        return False  # damaged beyond telling whose it is: only --force replaces it
    return True


_SCORED = {"row", "retrieve", "risk", "decision"}
_ERRORS = {"row", "reason"}


def _has_quco_columns(path: Path, kind: str) -> bool:
    need = _SCORED if kind == "scored" else _ERRORS
    name = path.name.lower()
    if name.endswith(".parquet"):
        import duckdb

        from quco.files.duckdb_conn import connect

        try:
            cols = {r[0] for r in connect().execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()}
        except duckdb.Error:
            return False
        return need <= cols
    with open(path, "rb") as fh:
        first = fh.readline(1 << 20).decode("utf-8", "replace").strip()
    if name.endswith(".csv"):
        return need <= {c.strip().strip('"') for c in first.split(",")}
    try:
        row = json.loads(first)
    except ValueError:
        return False
    return isinstance(row, dict) and need <= set(row)


# -- locks and stale temporary files -------------------------------------------------------------
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:building|tmp|old)-\d+(?:\.wal)?$")


class OutputLock:
    """An exclusive lock on one output path for the duration of a run (``lockf`` on ``.NAME.lock``).

    Acquiring it removes the temporary files of earlier, killed runs of that output; a second run
    of the same output while the first is alive fails at once with a clear error.
    """

    def __init__(self, out: str | os.PathLike, what: str = "run"):
        self.out = Path(out)
        self.what = what
        self.path = self.out.parent / f".{self.out.name}.lock"
        self._fd: int | None = None

    _held: set = set()  # record locks are per process: refuse a second holder in this one ourselves

    def __enter__(self) -> "OutputLock":
        import fcntl

        key = os.path.realpath(self.path)
        if key in OutputLock._held:
            raise OutputError(f"{self.out}: another quco {self.what} is writing it right now")
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"{self.out}: cannot write next to it ({exc.strerror})") from None
            try:
                # A POSIX record lock, not flock: it is not inherited by forked workers, so a killed
                # run's orphans can never keep the output locked.
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise OutputError(f"{self.out}: cannot lock it ({exc.strerror})") from None
                raise OutputError(f"{self.out}: another quco {self.what} is writing it right now") from None
            # The holder before us may have unlinked the lock file on release: lock the live one.
            if _identity(self.path) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino):
                break
            os.close(fd)
        self._fd = fd
        self._key = key
        OutputLock._held.add(key)
        remove_stale_temps(self.out)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)
            finally:
                OutputLock._held.discard(self._key)
                os.close(self._fd)
                self._fd = None


def remove_stale_temps(out: Path) -> list[Path]:
    """Remove ``.OUT.building-PID``, ``.OUT.tmp-PID`` and ``.OUT.old-PID`` left by killed runs.

    Call only while holding :class:`OutputLock` for ``out``: then no live run owns them.
    """
    removed = []
    parent = out.parent if str(out.parent) else Path(".")
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP.match(p.name)
        if not m or m.group("name") != out.name:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed
