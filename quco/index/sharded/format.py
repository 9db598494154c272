"""The sharded index's identity on disk: ``quco-shards.json`` (format, shard directories, totals)
beside one complete memory-mapped index per shard, and how a directory is recognised as one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from quco.errors import IndexOpenError
from quco.files.outputs import Artefact
from quco.index.checksums import manifest_problem

SHARDS_MANIFEST = "quco-shards.json"


FORMAT_NAME = "quco-sharded-index"


FORMAT_VERSION = 1


def read_shards_manifest(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        meta = json.loads((path / SHARDS_MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise IndexOpenError(f"{path}: the shard list is missing or damaged ({exc}); rebuild with `quco index build`") from None
    if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
        raise IndexOpenError(f"{path}: not a sharded index this quco reads; rebuild with `quco index build --shards N`")
    problem = manifest_problem(path / SHARDS_MANIFEST, meta)
    if problem is not None:
        raise IndexOpenError(f"{problem}; rebuild with `quco index build`")
    return meta


def is_index(path: Path) -> bool:
    return path.is_dir() and (path / SHARDS_MANIFEST).is_file()


ARTEFACT = Artefact("sharded-index", is_index, whole_dir=True)
