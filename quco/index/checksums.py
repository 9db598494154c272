"""Checksums of index files, and how an open index vouches for its answers while they are checked.

Every file quco writes into an index has a checksum recorded beside it (in the format's manifest,
``"files"``), and each manifest one over itself (``"checksum"``). A manifest is checked whenever
it is read. The files are checked when the index opens: at once when they are small (a damaged
one is refused naming it), otherwise in the background, answers meanwhile flagged approx and
refused once damage is found (``Verification``). ``quco index verify`` checks everything in full.
An index written before checksums existed has none: there is nothing to compare.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from quco.errors import BackendError, IndexOpenError

__all__ = ["VERIFY_AT_OPEN_BYTES", "file_checksum", "files_checksums", "manifest_checksum", "manifest_problem",
           "file_problem", "Verification"]

log = logging.getLogger("quco.index")

VERIFY_AT_OPEN_BYTES = 512 << 20

A = TypeVar("A")


def file_checksum(path: Path) -> str:
    with open(path, "rb") as fh:
        return "blake2b:" + hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def files_checksums(directory: Path, skip: Sequence[str] = ()) -> dict[str, str]:
    """The checksum of every file directly in a freshly written directory, for its manifest."""
    return {p.name: file_checksum(p) for p in sorted(directory.iterdir()) if p.is_file() and p.name not in skip}


def manifest_checksum(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def manifest_problem(path: Path, meta: dict) -> str | None:
    """Why the manifest read from ``path`` is not the one written (None: it is, or has no checksum)."""
    if "checksum" in meta and meta["checksum"] != manifest_checksum(meta):
        return f"{path}: damaged (its checksum differs from the one written with it)"
    return None


def file_problem(path: Path, want: str) -> str | None:
    """What is wrong with one file (missing, or not what was written), or None."""
    try:
        got = file_checksum(path)
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror})"
    if got != want:
        return f"{path}: damaged (its checksum differs from the one written at build)"
    return None


class Verification:
    """The files of one open index checked against their checksums; ``vouch`` passes answers on as
    the index can vouch for them. ``files``: (path, checksum) pairs; ``key``: what identifies this
    build of them (its manifests' checksums), for the verification stamp."""

    def __init__(self, files: Sequence[tuple[Path, str]], key: str, *, at_open_bytes: int | None = None):
        from quco.index.verified import stamp_path, stamped

        limit = VERIFY_AT_OPEN_BYTES if at_open_bytes is None else at_open_bytes
        self.files = list(files)
        self.damage: str | None = None
        self.verified = True
        self._thread: threading.Thread | None = None  # the background verification, when one runs
        if sum(p.stat().st_size for p, _ in self.files if p.exists()) <= limit:
            for path, want in self.files:
                problem = file_problem(path, want)
                if problem is not None:
                    raise IndexOpenError(f"{problem}; rebuild the index with `quco index build`")
            return
        paths = [p for p, _ in self.files]
        self.stamp = stamp_path(paths, key)
        self.verified = stamped(self.stamp, paths)
        if not self.verified:
            self._thread = threading.Thread(target=self._verify_all, daemon=True, name="quco-verify")
            self._thread.start()

    @property
    def verifying(self) -> bool:
        """Whether the background verification is still running (tests, benchmarks)."""
        return self._thread is not None and self._thread.is_alive()

    def _verify_all(self) -> None:
        from quco.index.verified import stamp_lock, stamped, stats_of, write_stamp

        paths = [p for p, _ in self.files]
        with stamp_lock(self.stamp):
            if not stamped(self.stamp, paths):  # else another process verified them while this one waited
                try:
                    before = stats_of(paths)
                except OSError:
                    return  # a file went away: never verified, answers stay approx
                for path, want in self.files:
                    problem = file_problem(path, want)
                    if problem is not None:
                        self.damage = problem
                        log.error("%s: queries are refused from now on", problem)
                        return
                try:
                    unchanged = stats_of(paths) == before
                except OSError:
                    unchanged = False
                if not unchanged:  # replaced while being hashed: what was hashed is not what is open
                    log.warning("index files changed while being verified; answers stay approximate")
                    return
                write_stamp(self.stamp, paths, before)
        self.verified = True

    def vouch(self, answers: list[A]) -> list[A]:
        """Answers as the index can vouch for them: unknown once damage was found (never 0, never
        exact: the detector retrieves), approx while the files are still being checked."""
        if self.damage is not None:
            raise BackendError(f"{self.damage}; rebuild the index with `quco index build`")
        if self.verified:
            return answers
        return [replace(a, approx=True) for a in answers]  # type: ignore[type-var]
