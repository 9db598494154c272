"""One rule for every path quco writes: an output never destroys an input or a stranger's file.

Every command that writes (``index build``, ``score``, ``reward``, ``eval``, ``demo``) declares its inputs and
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from quco.errors import OutputError

PNG_MARKER = b"quco eval"  # written into the PNG's tEXt chunk by quco eval


@dataclass(frozen=True)
class Artefact:
    """A kind of file or directory quco writes, and how one is recognised on disk (cheaply: a header,
    a first line, a marker file). ``whole_dir``: replaced or removed whole, so nothing inside may be
    an input. Index formats define theirs beside their format identity (``quco.index.*.format``)."""

    name: str
    recognise: Callable[[Path], bool]
    whole_dir: bool = False


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()  # follows symlinks: a link to the input is the input
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_outputs(inputs: Iterable[str | os.PathLike | None],
                  outputs: Mapping[str, tuple[str | os.PathLike, Artefact | str]], *, force: bool = False) -> None:
    """Refuse (``OutputError``) before any work if an output would destroy an input or a stranger's file.
    Missing parent directories of the outputs are created once every output has been checked.

    ``outputs`` maps a label for messages (``"--errors"``) to ``(path, kind)``: an :class:`Artefact`,
    or the name of one of this module's :data:`FILE_ARTEFACTS`.
    """
    ins = [Path(p) for p in inputs if p is not None and str(p) != ""]
    in_ids = {_identity(p): p for p in ins if _identity(p) is not None}
    in_real = {_resolved(p): p for p in ins}
    seen: dict = {}
    missing: list[Path] = []
    for label, (path, kind) in outputs.items():
        artefact = kind if isinstance(kind, Artefact) else FILE_ARTEFACTS[kind]
        out = Path(path)
        real = _resolved(out)
        ident = _identity(out)
        clash = in_real.get(real) or (in_ids.get(ident) if ident is not None else None)
        if clash is not None:
            raise OutputError(f"{label} {out} is the input {clash} of this run; refusing to overwrite it")
        if artefact.whole_dir:
            for r, p in in_real.items():
                if r.is_relative_to(real):
                    raise OutputError(f"{label} {out} is a directory holding the input {p}; refusing to replace it")
        key = ident or real
        if key in seen or real in seen:
            raise OutputError(f"{label} {out} is also {seen.get(key) or seen.get(real)}; give each output its own path")
        seen[key] = seen[real] = label
        if not force and out.exists() and not is_artefact(out, artefact):
            raise OutputError(
                f"{label} {out} exists and is not a quco {artefact.name.replace('-', ' ')}; refusing to replace it "
                "(choose another path, or pass --force)"
            )
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():  # created once every output has passed (mkdir -p), as a user expects
            existing = next(p for p in [parent, *parent.parents] if p.exists() or p == Path(p.anchor))
            if not existing.is_dir():
                raise OutputError(f"{label} {out}: {existing} is not a directory")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise OutputError(f"{label} {out}: cannot create {parent} ({existing} is not writable)")
            missing.append(parent)
        elif not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{label} {out}: directory {parent} is not writable")
    for parent in missing:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the directory {parent} ({exc.strerror})") from None


def is_artefact(path: Path, artefact: Artefact) -> bool:
    """Is the existing ``path`` something quco wrote as ``artefact`` (or an empty file, which holds nothing)?"""
    try:
        if path.is_file() and path.stat().st_size == 0:
            return True
        return artefact.recognise(path)
    except OSError:
        return False


def _is_parts(path: Path) -> bool:
    return path.is_dir() and ((path / "manifest.json").is_file() or not any(path.iterdir()))


def _is_eval_png(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return head.startswith(b"\x89PNG") and PNG_MARKER in head


def _is_calibration(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and {"breakpoints", "values", "fitted_for"} <= set(data)


def _is_eval_html(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return b"<title>quco eval" in fh.read(4096)


_SCORED = {"row", "retrieve", "risk", "decision"}
_REWARDED = {"row", "reward", "scheme", "status"}
_ERRORS = {"row", "reason"}


def _has_quco_columns(path: Path, need: set[str]) -> bool:
    if not path.is_file():
        return False
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


# The kinds of file quco writes outside its index formats, by name.
FILE_ARTEFACTS = {a.name: a for a in (
    Artefact("scored", lambda p: _has_quco_columns(p, _SCORED)),
    Artefact("rewarded", lambda p: _has_quco_columns(p, _REWARDED)),
    Artefact("errors", lambda p: _has_quco_columns(p, _ERRORS)),
    Artefact("parts", _is_parts, whole_dir=True),
    Artefact("eval-png", _is_eval_png),
    Artefact("eval-html", _is_eval_html),
    Artefact("calibration", _is_calibration),
)}


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

    def __enter__(self) -> OutputLock:
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

    def __exit__(self, *exc: object) -> None:
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
    removed: list[Path] = []
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
