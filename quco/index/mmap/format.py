"""The memory-mapped index's identity on disk: format name and version, the manifest, and how a
directory is recognised as one (for the output rule and for ``quco.index.open``)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from quco.errors import IndexFormatError, IndexOpenError
from quco.files.outputs import Artefact

FORMAT_NAME = "quco-mmap-index"


FORMAT_VERSION = 2  # 2: segments carry the forward index (stream.npy) and may be merged


MANIFEST = "quco-index.json"


def read_manifest(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise IndexOpenError(f"{path}: not a quco memory-mapped index (no {MANIFEST})")
    try:
        meta = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexOpenError(f"{path}: the index manifest is damaged ({exc}); rebuild it with `quco index build`") from None
    if meta.get("format") != FORMAT_NAME:
        raise IndexOpenError(f"{path}: not a quco memory-mapped index (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version != FORMAT_VERSION:


        if isinstance(version, int) and version < FORMAT_VERSION:
            raise IndexFormatError(f"{path}: index format version {version} is older than this quco reads "
                                   f"({FORMAT_VERSION}); rebuild it with `quco index build`")
        raise IndexFormatError(f"{path}: index format version {version!r} is not one this quco reads "
                               f"({FORMAT_VERSION}); upgrade quco or rebuild the index with `quco index build`")
    if "checksum" in meta and meta["checksum"] != manifest_checksum(meta):
        raise IndexOpenError(f"{path / MANIFEST}: damaged (its checksum differs from the one written with it); "
                             "rebuild the index with `quco index build`")
    return meta


def is_index(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


ARTEFACT = Artefact("mmap-index", is_index, whole_dir=True)


# -- checksums ------------------------------------------------------------------------------------
# Every file of a segment has a checksum in its manifest entry ("files"), and the manifest one over
# itself ("checksum"). The manifest is checked whenever it is read; a segment when an index opens
# (in the background past VERIFY_AT_OPEN_BYTES, answers meanwhile flagged approx) and in full by
# `quco index verify`. An index written before checksums existed has none: nothing to compare.
VERIFY_AT_OPEN_BYTES = 512 << 20


def file_checksum(path: Path) -> str:
    with open(path, "rb") as fh:
        return "blake2b:" + hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def segment_checksums(seg_dir: Path) -> dict[str, str]:
    """The checksum of every file of a freshly written segment, for its manifest entry."""
    return {p.name: file_checksum(p) for p in sorted(seg_dir.iterdir()) if p.is_file()}


def manifest_checksum(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def segment_problem(root: Path, entry: dict) -> str | None:
    """What is wrong with one segment's files (missing, or not what was written), or None."""
    for name, want in (entry.get("files") or {}).items():
        path = root / entry["name"] / name
        try:
            got = file_checksum(path)
        except OSError as exc:
            return f"{path}: cannot be read ({exc.strerror})"
        if got != want:
            return f"{path}: damaged (its checksum differs from the one written at build)"
    return None


def segment_bytes(root: Path, entries: list[dict]) -> int:
    return sum((root / e["name"] / n).stat().st_size for e in entries for n in (e.get("files") or {})
               if (root / e["name"] / n).exists())
