"""``quco index build --shards N``: a corpus split into N document-partitioned memory-mapped indexes.

Record ``i`` of the sources (a JSONL line, a text paragraph, a Parquet row, counted across files
in order) goes to shard ``i % N``. Each shard is an ordinary memory-mapped index built by its own
process — a local process pool, or Ray tasks (``--ray``) — that reads the sources and parses only
its own records. Documents never span shards, so counts summed over shards are exact.

Layout: ``OUT/quco-shards.json`` (format, the shard directories, totals) beside
``OUT/shard-0000/`` ... (each a complete index; any one can be served or copied to another
machine on its own). The build writes under a temporary name and swaps the directory into place,
so an interrupted build leaves the previous index intact.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quco.errors import BuildError, QucoError, UsageError
from quco.files.building import build_sources, building_dir, fsync_dir, fsync_file, quco_version
from quco.files.sources import Reading
from quco.index.checksums import manifest_checksum
from quco.index.mmap.format import stamp_as_verified
from quco.index.mmap.vocab import write_vocabulary
from quco.index.sharded.format import ARTEFACT, FORMAT_NAME, FORMAT_VERSION, SHARDS_MANIFEST, read_shards_manifest


@dataclass(frozen=True)
class ShardedBuildStats:
    path: Path
    tokens: int
    documents: int
    shards: int
    seconds: float
    bytes: int


def _build_one(sources: list[str], out: str, k: int, n: int, reading: Reading, segment_tokens: int, workers: int,
               store_text: bool = True) -> dict:
    """One shard (runs in a pool process or a Ray task); returns its manifest summary."""
    from quco.index.mmap.build import build_mmap_index

    try:
        stats = build_mmap_index(sources, out, reading=reading, progress=False, workers=workers,
                                 segment_tokens=segment_tokens, part=(k, n), store_text=store_text)
    except QucoError as exc:  # carried back as data: the parent raises it with the shard named
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"tokens": stats.tokens, "documents": stats.documents}


def build_sharded_index(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    shards: int,
    reading: Reading | None = None,
    force: bool = False,
    processes: int | None = None,
    ray: bool = False,
    segment_tokens: int | None = None,
    progress: bool = True,
    store_text: bool = True,
) -> ShardedBuildStats:
    """Build ``shards`` document-partitioned memory-mapped indexes of ``sources`` under ``out``
    (``store_text``: as ``build_mmap_index``).
    ``ray``: build them as Ray tasks (Ray must be initialised, ``out`` on storage the tasks see);
    otherwise in ``processes`` local processes (default: the CPU count)."""
    from quco.index.mmap.build import SEGMENT_TOKENS

    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise UsageError(f"--shards must be a positive number, not {shards!r}")
    reading = reading or Reading()
    normalizer = reading.normalizer
    out = Path(out)
    paths = build_sources(sources, out, ARTEFACT, force)
    t0 = time.perf_counter()
    with building_dir(out) as tmp:
        names = [f"shard-{k:04d}" for k in range(shards)]
        args = [([str(p) for p in paths], str(tmp / name), k, shards, reading, segment_tokens or SEGMENT_TOKENS, 1,
                 store_text) for k, name in enumerate(names)]
        results = _run_ray(args, progress) if ray else _run_local(args, processes, progress)
        for name, r in zip(names, results):
            if "error" in r:
                if "no word tokens" in r["error"]:
                    raise BuildError(f"{name} would hold no words: --shards {shards} is more than the corpus "
                                     "has documents to spread")
                raise BuildError(f"{name}: {r['error']}")
        write_vocabulary(tmp, [tmp / name for name in names])
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "shards": names,
                "tokens": sum(r["tokens"] for r in results), "documents": sum(r["documents"] for r in results),
                "partition": "record i goes to shard i % N", "normalizer": normalizer.to_dict(),
                "sources": [str(p) for p in paths], "quco_version": quco_version()}
        meta["checksum"] = manifest_checksum(meta)
        (tmp / SHARDS_MANIFEST).write_text(json.dumps(meta, indent=1))
        fsync_file(tmp / SHARDS_MANIFEST)
        fsync_dir(tmp)
    roots = [out / name for name in meta["shards"]]
    for root in roots:  # hashed as written: each shard, and the set as one index, opens verified
        stamp_as_verified([root])
    stamp_as_verified(roots)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return ShardedBuildStats(out, meta["tokens"], meta["documents"], shards, time.perf_counter() - t0, size)


def _run_local(args: list[tuple], processes: int | None, progress: bool) -> list[dict]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    n = max(1, min(processes or os.cpu_count() or 1, len(args)))
    # fork: like the single-index build, workers start at once from any __main__; each builds one
    # shard with one tokenising process of its own.
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_build_one, *a) for a in args]
        return [_progress(f.result, i, len(args), progress) for i, f in enumerate(futures)]


def _run_ray(args: list[tuple], progress: bool) -> list[dict]:
    from quco.backends.ray import require_ray

    ray = require_ray()
    task = ray.remote(num_cpus=1, max_retries=1)(_build_one)
    refs = [task.remote(*a) for a in args]
    return [_progress(lambda r=r: ray.get(r), i, len(args), progress) for i, r in enumerate(refs)]


def _progress(get, i: int, n: int, progress: bool) -> dict:
    result = get()
    if progress:
        print(f"shard {i + 1}/{n} built", flush=True)
    return result




def rewrite_vocabulary(path: str | os.PathLike) -> int:
    """Write the shared vocabulary of the sharded index at ``path`` again (after a shard was
    rebuilt, extended or compacted); returns its number of words."""
    from quco.files.outputs import OutputLock

    path = Path(path)
    names = read_shards_manifest(path)["shards"]
    with OutputLock(path, "vocabulary rewrite"):
        return write_vocabulary(path, [path / n for n in names])


def vocabulary_status(path: str | os.PathLike) -> str:
    """"current" or why the sharded index at ``path`` answers without its shared vocabulary."""
    from quco.index.mmap.vocab import manifests_of, vocabulary_problem

    path = Path(path)
    problem = vocabulary_problem(path, manifests_of([path / n for n in read_shards_manifest(path)["shards"]]))
    return f"not used: {problem}; `quco index vocab {path}` rewrites it" if problem else "current"


