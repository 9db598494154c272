"""The infini-gram index's identity as quco builds it: format name and version, the metadata file
beside the suffix array, and how a directory is recognised as one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from quco.errors import IndexFormatError, IndexOpenError
from quco.files.outputs import Artefact
from quco.index.checksums import manifest_problem

FORMAT_NAME = "quco-infinigram-index"


FORMAT_VERSION = 1


META_FILE = "quco.json"


def read_infinigram_meta(path: str | os.PathLike) -> dict | None:
    """The quco.json of a quco-built index, or None for an index built elsewhere."""
    path = Path(path)
    if not path.exists():
        raise IndexOpenError(f"{path}: index not found (build one with `quco index build SRC... --backend infinigram --out {path}`)")
    if not path.is_dir():
        raise IndexOpenError(f"{path}: an infini-gram index is a directory")
    meta_path = path / META_FILE
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise IndexOpenError(f"{meta_path}: unreadable ({exc})") from None
    if meta.get("format") != FORMAT_NAME:
        raise IndexOpenError(f"{path}: not a quco infini-gram index (format {meta.get('format')!r})")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: index format version {meta.get('format_version')} is newer than this quco supports "
            f"({FORMAT_VERSION}); upgrade quco or rebuild the index"
        )
    problem = manifest_problem(meta_path, meta)
    if problem is not None:
        raise IndexOpenError(f"{problem}; rebuild the index with `quco index build --backend infinigram`")
    return meta


def index_files(path: Path, meta: dict) -> list[tuple[Path, str]]:
    """(path, checksum) of each file of a quco-built index, as its metadata records them."""
    return [(path / name, want) for name, want in sorted((meta.get("files") or {}).items())]


def is_index(path: Path) -> bool:
    return path.is_dir() and (path / META_FILE).is_file()


ARTEFACT = Artefact("infinigram-index", is_index, whole_dir=True)
