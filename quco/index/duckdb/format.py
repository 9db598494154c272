"""The DuckDB n-gram index's identity on disk: its format name and version, its metadata, and how
a file is recognised as one (for the output rule and for ``quco.index.open``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from quco.errors import IndexFormatError, IndexOpenError
from quco.files.duckdb_conn import connect
from quco.files.outputs import Artefact

FORMAT_NAME = "quco-ngram-index"
FORMAT_VERSION = 1


def read_meta(path: str | os.PathLike) -> dict:
    """Read and validate the meta table of an index file without loading postings."""
    import duckdb

    path = Path(path)
    if not path.exists():
        raise IndexOpenError(f"{path}: index not found (build one with `quco index build SRC... --out {path}`)")
    if path.is_dir():
        raise IndexOpenError(f"{path}: is a directory, not an index file")
    if not is_duckdb_file(path):  # past this header check, a failure means a damaged index, not a stranger
        raise IndexOpenError(f"{path}: not a quco index (not a DuckDB file; build one with `quco index build`)")
    try:
        con = connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise IndexOpenError(damaged(path, str(exc))) from None
    try:
        try:
            rows = con.execute("SELECT key, value FROM meta").fetchall()
        except duckdb.Error as exc:
            if "does not exist" in str(exc):
                raise IndexOpenError(f"{path}: a DuckDB file but not a quco index (no meta table)") from None
            raise IndexOpenError(damaged(path, str(exc))) from None
    finally:
        con.close()
    try:
        meta = {k: json.loads(v) for k, v in rows}
    except (TypeError, ValueError):
        raise IndexOpenError(damaged(path, "meta table is not JSON")) from None
    if meta.get("format") != FORMAT_NAME:
        raise IndexOpenError(f"{path}: not a quco n-gram index (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: index format version {version} is newer than this quco supports ({FORMAT_VERSION}); "
            "upgrade quco or rebuild the index"
        )
    return meta


def is_duckdb_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def damaged(path: Path, detail: str) -> str:
    first = detail.splitlines()[0] if detail else "unreadable"
    return f"{path}: the index is damaged ({first}); rebuild it with `quco index build ... --force`"


def is_index(path: Path) -> bool:
    """Is ``path`` a DuckDB file holding a quco index? (A damaged one cannot tell whose it is: no.)"""
    if not path.is_file() or not is_duckdb_file(path):
        return False
    try:
        read_meta(path)
    except IndexOpenError:
        return False
    return True


ARTEFACT = Artefact("duckdb-index", is_index)
