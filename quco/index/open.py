"""The one table of local index formats: tell them apart on disk, open one, check one, describe one.

A file is a DuckDB index; a directory is sharded (``quco-shards.json``), memory-mapped
(``quco-index.json``) or else an infini-gram index."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from quco.backends.base import CountBackend, require_normalizer
from quco.errors import ConfigError, IndexOpenError, UsageError
from quco.normalize import Normalizer

LOCAL_BACKENDS = ("auto", "duckdb", "mmap", "sharded", "infinigram-local")


def detect(path: Path) -> str:
    """The kind of the local index at ``path``: the one place that tells formats apart on disk."""
    from quco.index.mmap.format import is_index as is_mmap
    from quco.index.sharded.format import is_index as is_sharded

    if not path.exists():
        raise IndexOpenError(f"{path}: index not found (build one with `quco index build SRC... --out {path}`)")
    if not path.is_dir():
        return "duckdb"
    if is_sharded(path):
        return "sharded"
    return "mmap" if is_mmap(path) else "infinigram-local"


def _kind(index: str | os.PathLike, backend: str) -> tuple[Path, str]:
    """The index's path and its kind: ``backend`` checked, or detected on disk when ``"auto"``."""
    if backend not in LOCAL_BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(LOCAL_BACKENDS)} for a local index, not {backend!r}")
    path = Path(index)
    return path, detect(path) if backend == "auto" else backend


def fingerprint(index: str | os.PathLike, *, backend: str = "auto") -> str:
    """Which index this is, from its metadata alone (cheap; nothing is loaded): a digest of what its
    build wrote — build time, totals, sources, segments. An index rebuilt at the same path has
    another fingerprint, even over the same corpus; an index built elsewhere (infini-gram) is
    fingerprinted by its files' names, sizes and modification times."""
    import hashlib
    import json

    path, kind = _kind(index, backend)
    meta: Any
    if kind == "infinigram-local":
        from quco.index.infinigram.format import read_infinigram_meta

        meta = read_infinigram_meta(path) or sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir() if p.is_file())
    elif kind == "sharded":
        from quco.index.mmap.format import read_manifest
        from quco.index.sharded.format import read_shards_manifest

        shard_set = read_shards_manifest(path)
        meta = {"set": shard_set, "shards": [read_manifest(path / name) for name in shard_set["shards"]]}
    elif kind == "mmap":
        from quco.index.mmap.format import read_manifest

        meta = read_manifest(path)
    else:
        from quco.index.duckdb.format import read_meta

        meta = read_meta(path)
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"{kind}:{digest}"


def verify(index: str | os.PathLike, *, backend: str = "auto") -> dict:
    """Read every file of a local index and compare it with what its build wrote: for a memory-
    mapped or sharded index, each manifest's and each segment file's checksum; for a DuckDB index,
    every table read in full (DuckDB checks each block's checksum as it reads it). Returns
    ``{"index", "kind", "checked", "damaged": [problem, ...], "note"}``; nothing is repaired."""
    import duckdb

    path, kind = _kind(index, backend)
    report: dict[str, Any] = {"index": str(path), "kind": kind, "checked": 0, "damaged": [], "note": None}
    if kind in ("mmap", "sharded"):
        _verify_mmap(path, kind, report)
    elif kind == "duckdb":
        from quco.files.duckdb_conn import connect
        from quco.index.duckdb.format import read_meta

        read_meta(path)
        con = connect(str(path), read_only=True)
        try:
            for table, query in _FULL_READS.items():
                try:
                    con.execute(query).fetchall()  # every block read
                    report["checked"] += 1
                except duckdb.Error as exc:
                    report["damaged"].append(f"{path}: table {table} is damaged ({str(exc).splitlines()[0]})")
        finally:
            con.close()
    else:
        _verify_infinigram(path, report)
    return report


def _verify_mmap(path: Path, kind: str, report: dict) -> None:
    from quco.index.mmap.format import read_manifest, segment_problem
    from quco.index.mmap.vocab import manifests_of, vocabulary_problem
    from quco.index.sharded.format import read_shards_manifest

    try:
        roots = [path / name for name in read_shards_manifest(path)["shards"]] if kind == "sharded" else [path]
    except IndexOpenError as exc:
        report["damaged"].append(str(exc))
        return
    for root in roots:
        try:
            entries = read_manifest(root)["segments"]
        except IndexOpenError as exc:
            report["damaged"].append(str(exc))
            continue
        for e in entries:
            report["checked"] += len(e.get("files") or {})
            if not e.get("files"):
                report["note"] = "segments written before checksums existed are not checked"
            problem = segment_problem(root, e)
            if problem is not None:
                report["damaged"].append(problem)
    if kind == "sharded":  # the shared vocabulary: a damaged one is not used (answers stay the same, slower)
        try:
            problem = vocabulary_problem(path, manifests_of(roots))
        except IndexOpenError:
            problem = None  # a damaged shard manifest, reported above
        report["checked"] += 1
        if problem is not None:
            report["damaged"].append(f"{path}/vocab: {problem} (the index answers without it; "
                                     f"`quco index vocab {path}` rewrites it)")


def _verify_infinigram(path: Path, report: dict) -> None:
    from quco.index.checksums import file_problem
    from quco.index.infinigram.format import index_files, read_infinigram_meta

    try:
        meta = read_infinigram_meta(path)
    except IndexOpenError as exc:
        report["damaged"].append(str(exc))
        return
    files = index_files(path, meta or {})
    if not files:
        report["note"] = ("an infini-gram index built elsewhere carries no checksums of quco's: nothing to compare"
                          if meta is None else "an index written before checksums existed: nothing to compare")
    for file, want in files:
        report["checked"] += 1
        problem = file_problem(file, want)
        if problem is not None:
            report["damaged"].append(problem)


# One query per table of a DuckDB index that reads every block of it (DuckDB checks each block's checksum).
_FULL_READS = {
    "meta": "SELECT count(*), sum(hash(COLUMNS(*))) FROM meta",
    "docs": "SELECT count(*), sum(hash(COLUMNS(*))) FROM docs",
    "vocab": "SELECT count(*), sum(hash(COLUMNS(*))) FROM vocab",
    "postings": "SELECT count(*), sum(hash(COLUMNS(*))) FROM postings",
}


def describe(index: str | os.PathLike) -> tuple[str, Any]:
    """``(kind, metadata)`` of a local index, read without loading it (``quco index info``): a DuckDB
    index gives its ``IndexInfo``, the others their manifest as a dict."""
    path = Path(index)
    kind = detect(path)
    if kind == "sharded":
        from quco.index.sharded.build import vocabulary_status
        from quco.index.sharded.format import read_shards_manifest

        meta = read_shards_manifest(path)
        meta["vocabulary"] = vocabulary_status(path)
        return kind, meta
    if kind == "mmap":
        from quco.index.mmap.format import read_manifest

        meta = read_manifest(path)
        meta["segments"] = len(meta["segments"])
        return kind, meta
    if kind == "infinigram-local":
        from quco.index.infinigram.format import read_infinigram_meta

        info = read_infinigram_meta(path)
        if info is None:
            raise UsageError(f"{path}: an infini-gram index not built by quco (no quco.json)")
        return kind, info
    from quco.index.duckdb.reader import index_info

    return kind, index_info(path)


def open_backend(
    index: str | os.PathLike,
    *,
    backend: str = "auto",
    require: Normalizer | None = None,
    cooccur: str = "exact",
    tokenizer: str | None = None,
    token_dtype: str | None = None,
    budget: int | None = None,
) -> CountBackend:
    path, backend = _kind(index, backend)
    if backend == "sharded":
        from quco.index.sharded.reader import open_sharded

        return open_sharded(path, require=require, budget=budget)
    if backend == "mmap":
        from quco.index.mmap.reader import DEFAULT_BUDGET, MmapIndex

        return MmapIndex(path, require=require, budget=budget or DEFAULT_BUDGET)
    if backend == "duckdb":
        from quco.backends.engine import DEFAULT_BUDGET
        from quco.index.duckdb.reader import DuckDBIndex

        return DuckDBIndex(path, require=require, budget=budget or DEFAULT_BUDGET)
    from quco.index.infinigram.reader import InfiniGramLocal

    encode = hf_encoder(tokenizer) if tokenizer else None
    from quco.backends.engine import DEFAULT_BUDGET

    return InfiniGramLocal(path, require=require, cooccur=cooccur, encode=encode, token_dtype=token_dtype,
                           budget=budget or DEFAULT_BUDGET)


def check_index(
    index: str | os.PathLike,
    *,
    backend: str = "auto",
    require: Normalizer | None = None,
    tokenizer: str | None = None,
    token_dtype: str | None = None,
) -> None:
    """Validate an index from its metadata alone (nothing is loaded): the cheap fail-fast check a
    parent process runs before starting workers that each open the index themselves."""
    path, backend = _kind(index, backend)
    if backend == "sharded":
        from quco.index.mmap.format import read_manifest
        from quco.index.sharded.format import read_shards_manifest

        for name in read_shards_manifest(path)["shards"]:
            require_normalizer(path / name, Normalizer.from_dict(read_manifest(path / name)["normalizer"]), require)
        return
    if backend == "mmap":
        from quco.index.mmap.format import read_manifest

        require_normalizer(path, Normalizer.from_dict(read_manifest(path)["normalizer"]), require)
        return
    if backend == "duckdb":
        from quco.index.duckdb.format import read_meta

        require_normalizer(path, Normalizer.from_dict(read_meta(path)["normalizer"]), require)
        return
    from quco.index.infinigram.format import read_infinigram_meta

    meta = read_infinigram_meta(path)
    if meta is not None:
        require_normalizer(path, Normalizer.from_dict(meta["normalizer"]), require)
    elif not tokenizer or not token_dtype:
        raise IndexOpenError(
            f"{path}: not built by quco; a token-level index needs a tokenizer and token_dtype "
            "(u8, u16 or u32) in the configuration"
        )


def hf_encoder(name: str):
    """Token ids for an index built elsewhere with a Hugging Face tokenizer ("hf:NAME")."""
    if not name.startswith("hf:"):
        raise ConfigError(f"tokenizer must be 'hf:<name or path>', not {name!r}")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError("a token-level index needs `transformers` for its tokenizer: pip install transformers") from None
    try:
        tok = AutoTokenizer.from_pretrained(name[3:], add_bos_token=False, add_eos_token=False)
    except Exception as exc:  # network, missing files: one line for the user
        raise ConfigError(f"cannot load tokenizer {name[3:]!r}: {exc}") from None
    return lambda text: tok.encode(text, add_special_tokens=False)
