"""DataFrames in, DataFrames out: ``quco.score`` and ``quco.evaluate`` on in-memory tables.

A pandas or Polars DataFrame, a pyarrow Table or a Hugging Face ``Dataset`` goes through the very
same scorer as a file (its rows written once as Parquet to a private temporary directory), and the
scored rows come back as the same kind of object, with the flat schema ``report_schema()``
documents plus the input's other columns. Malformed rows do not stop the run: they are left out of
the result and handed to ``on_errors`` (a list of ``{"row", "id", "reason", "raw"}``) when given,
and counted in a warning otherwise. pyarrow is needed for in-memory input (``quco[frames]``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from quco.batch.scoring import ScoreOptions, score_file
from quco.errors import UsageError

log = logging.getLogger("quco.frames")

KINDS = ("pandas", "polars", "pyarrow", "datasets")


def frame_kind(obj) -> str | None:
    """Which in-memory table ``obj`` is, or None for anything else (a path)."""
    if isinstance(obj, (str, bytes, os.PathLike)):
        return None
    module = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module == "pyarrow" and name == "Table":
        return "pyarrow"
    if module == "datasets" and name == "Dataset":
        return "datasets"
    return None


def to_arrow(obj, kind: str):
    try:
        import pyarrow as pa
    except ImportError:
        raise UsageError("scoring a DataFrame needs pyarrow: pip install 'quco[frames]'") from None
    if kind == "pandas":
        return pa.Table.from_pandas(obj, preserve_index=False)
    if kind == "polars":
        return obj.to_arrow()
    if kind == "datasets":
        return obj.data.table if hasattr(obj.data, "table") else obj.with_format("arrow")[:]
    return obj


def from_arrow(table, kind: str):
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if kind == "datasets":
        from datasets import Dataset

        return Dataset(table)
    return table


def score_frame(frame, kind: str, *, settings, options: ScoreOptions, on_errors: list | None = None):
    """``quco.score`` for an in-memory table (see the module docstring)."""
    import pyarrow.parquet as pq

    if options.restart or options.force:
        raise UsageError("restart/force apply to files; an in-memory table is scored afresh every time")
    with tempfile.TemporaryDirectory(prefix="quco-frame-") as tmp:
        src, out = Path(tmp) / "input.parquet", Path(tmp) / "scored.parquet"
        pq.write_table(to_arrow(frame, kind), src)
        stats = score_file(src, out, settings=settings, options=options)
        table = pq.read_table(out)
        errors = [json.loads(line) for line in open(stats.errors_file, encoding="utf-8")] if stats.errors else []
    if on_errors is not None:
        on_errors.extend(errors)
    elif errors:
        log.warning("%d of %d rows could not be scored (first: row %s, %s); pass on_errors=[] to receive them",
                    len(errors), stats.rows, errors[0]["row"], errors[0]["reason"])
    return from_arrow(table, kind)


def evaluate_frame(frame, kind: str, **kwargs):
    """``quco.evaluate`` for an in-memory table of scored rows."""
    import pyarrow.parquet as pq

    from quco.batch.evaluation import evaluate_file

    with tempfile.TemporaryDirectory(prefix="quco-frame-") as tmp:
        src = Path(tmp) / "scored.parquet"
        pq.write_table(to_arrow(frame, kind), src)
        return evaluate_file(src, **kwargs)
