"""``quco score --ray``: the same chunks, part files and resume rule as local scoring, with the
chunks scored by a Ray Data ``map_batches`` actor pool.

Each actor loads the detector once (spaCy pipeline and index — memory-mapped, so actors on one
node share its pages) and scores whole chunks, writing each chunk's part file atomically exactly
as a local worker does. The driver streams the input once, writing the chunks still to do into
``OUTPUT.quco-parts/ray-in/`` (bounded memory on any input size), then runs the pool over their
indexes. A chunk whose part exists is never redone; a chunk redone after a killed job or a
retried actor rewrites the same part file, and assembly reads each part once: every row lands in
the output exactly once. On a cluster, ``OUTPUT`` must be on storage every node sees.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from quco.errors import QucoError


class _ChunkScorer:
    """A Ray Data actor: the detector is built once, then one chunk per row of each batch."""

    def __init__(self, settings, fields: dict, parts_dir: str, audit: dict | None = None):
        from quco.batch.worker import init_worker

        init_worker(settings, fields, None, audit)
        self.parts = parts_dir

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        from quco.batch.worker import score_chunk

        done, scored, errors = [], [], []
        for index in batch["index"]:
            index = int(index)
            with open(Path(self.parts) / "ray-in" / f"in-{index:07d}.pkl", "rb") as fh:
                chunk = pickle.load(fh)
            _, n_out, n_err = score_chunk(index, chunk, self.parts)
            done.append(index)
            scored.append(n_out)
            errors.append(n_err)
        return {"index": np.array(done, dtype=np.int64), "rows": np.array(scored, dtype=np.int64) + np.array(errors)}


def score_on_ray(chunks, parts: Path, settings, fields: dict, workers: int, bar, address: str | None,
                 audit: dict | None = None) -> None:
    """Score ``chunks`` ((index, rows) still to do) on Ray."""
    from quco.backends.ray import init_ray

    inbox = parts / "ray-in"
    inbox.mkdir(exist_ok=True)
    todo = []
    for index, chunk in chunks:
        target = inbox / f"in-{index:07d}.pkl"
        tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            pickle.dump(chunk, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
        todo.append({"index": index})
    if todo:
        ray = init_ray(address)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # quco draws its own
        ds = ray.data.from_items(todo, override_num_blocks=len(todo))
        ds = ds.map_batches(_ChunkScorer, fn_constructor_args=(settings, fields, str(parts), audit), batch_size=1,
                            concurrency=workers, num_cpus=1, max_concurrency=1)
        try:
            for batch in ds.iter_batches(batch_size=1):
                bar.update(int(batch["rows"].sum()))
        except Exception as exc:  # a worker's typed error arrives wrapped by Ray: raise the quco error itself
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, QucoError):
                cause = getattr(cause, "cause", None) or cause.__cause__
            if cause is not None:
                raise _plain(cause) from None
            raise


def _plain(exc: QucoError) -> QucoError:
    """Ray's error is an instance of both its own class and the cause's: return a plain quco error."""
    for cls in type(exc).__mro__:
        if issubclass(cls, QucoError) and cls.__module__.startswith("quco"):
            try:
                return cls(str(exc).splitlines()[-1] if str(exc) else "")
            except TypeError:
                return QucoError(str(exc))
    return QucoError(str(exc))
