"""Opening a sharded index directory's local shards as one backend."""

from __future__ import annotations

import os
from pathlib import Path

from quco.index.sharded.format import read_shards_manifest
from quco.normalize import Normalizer


def open_sharded(path: str | os.PathLike, *, require: Normalizer | None = None, budget: int | None = None):
    """The local shards of a sharded index directory, answered as one backend: one query engine
    over all their segments (sums over document-partitioned shards are exact, and a query's words
    are normalised and hashed once instead of once per shard). Shards served elsewhere are
    combined with ``ShardedBackend``."""
    from quco.index.mmap.reader import DEFAULT_BUDGET, MmapIndex

    path = Path(path)
    names = read_shards_manifest(path)["shards"]
    return MmapIndex(path / names[0], more=[path / n for n in names[1:]], require=require,
                     budget=budget or DEFAULT_BUDGET, identity=f"sharded:{path}", vocabulary=path)
