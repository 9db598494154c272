"""The memory-mapped index's identity on disk: format name and version, the manifest, and how a
directory is recognised as one (for the output rule and for ``quco.index.open``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from quco.errors import IndexFormatError, IndexOpenError
from quco.files.outputs import Artefact
from quco.index.checksums import file_problem, manifest_problem

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
    problem = manifest_problem(path / MANIFEST, meta)
    if problem is not None:
        raise IndexOpenError(f"{problem}; rebuild the index with `quco index build`")
    return meta


def is_index(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


ARTEFACT = Artefact("mmap-index", is_index, whole_dir=True)


# -- checksums (quco.index.checksums) -------------------------------------------------------------
# Every file of a segment has a checksum in its manifest entry ("files"), the manifest one over itself.
def segment_files(root: Path, entry: dict) -> list[tuple[Path, str]]:
    """(path, checksum) of each file of one segment, as its manifest entry records them."""
    return [(root / entry["name"] / name, want) for name, want in sorted((entry.get("files") or {}).items())]


def segment_problem(root: Path, entry: dict) -> str | None:
    """What is wrong with one segment's files (missing, or not what was written), or None."""
    for path, want in segment_files(root, entry):
        problem = file_problem(path, want)
        if problem is not None:
            return problem
    return None


def index_checks(indexes: list[tuple[Path, dict]]) -> tuple[list[tuple[Path, str]], str]:
    """What opening these indexes (directory, manifest) together checks: every segment file with its
    checksum, and the key naming this build of them (their manifests' checksums) for the stamp."""
    files = [f for root, meta in indexes for e in meta["segments"] for f in segment_files(root, e)]
    return files, "|".join(str(meta.get("checksum", "")) for _, meta in indexes)


def stamp_as_verified(roots: list[Path]) -> None:
    """After a build, add or compaction: the files were hashed as they were written, so the
    indexes open verified at once (``quco.index.verified``) instead of hashed again."""
    from quco.index.verified import record_verified

    files, key = index_checks([(root, read_manifest(root)) for root in roots])
    record_verified([p for p, _ in files], key)
