"""``quco.score`` and ``quco.evaluate``: one call for a file or an in-memory table.

A file goes to the resumable file engine (``quco.batch.scoring``) or the evaluation report
(``quco.batch.evaluation``); a pandas or Polars DataFrame, a pyarrow Table or a Hugging Face
Dataset goes through ``quco.batch.frames`` and comes back as the same kind.
"""

from __future__ import annotations

import os
from dataclasses import fields as dataclass_fields
from typing import Any

from quco.batch.rows import report_schema
from quco.batch.scoring import ScoreOptions, ScoreStats
from quco.errors import UsageError

__all__ = ["ScoreOptions", "evaluate", "report_schema", "score"]


def score(input: Any, output: str | os.PathLike | None = None, *, detector=None, settings=None,
          on_errors: list | None = None, **options: Any) -> ScoreStats | Any:
    """Score every row of ``input`` (a JSONL, CSV or Parquet path, or an in-memory table) with the
    ``detector`` you hold, or one built from ``settings`` (default: ``quco.load_settings()``, which
    must name an index); ``options`` are the fields of
    :class:`ScoreOptions` (``question_field``, ``answer_field``, ``pair_fields``, ``workers`` ...).
    A file is written to ``output`` and gives ``ScoreStats``; a table gives the scored table, its
    malformed rows appended to ``on_errors`` when given."""
    known = {f.name for f in dataclass_fields(ScoreOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"score() got an unexpected keyword argument {unknown[0]!r} (options: {', '.join(sorted(known))})")
    if detector is not None and settings is not None:
        raise UsageError("score takes a detector or settings, not both")
    if detector is not None:
        from quco.batch.held import HeldDetector

        settings = HeldDetector(detector)
    elif settings is None:
        settings = _configured()
    from quco.batch.frames import frame_kind, score_frame

    kind = frame_kind(input)
    if kind is not None:
        return score_frame(input, kind, settings=settings, options=ScoreOptions(**options), on_errors=on_errors)
    if output is None:
        raise UsageError("score needs an output path for a file input")
    from quco.batch.scoring import score_file

    return score_file(input, output, settings=settings, options=ScoreOptions(**options))


def evaluate(scored: Any, **options: Any):
    """The evaluation report (``quco.batch.evaluation.evaluate_file``'s keywords) of a scored file or table."""
    from quco.batch.evaluation import evaluate_file
    from quco.batch.frames import evaluate_frame, frame_kind

    kind = frame_kind(scored)
    if kind is not None:
        return evaluate_frame(scored, kind, **options)
    return evaluate_file(scored, **options)


def _configured():
    """The configured settings; an index nobody named (the CLI demo's default) that is not there is
    an error that says how to name one, not a search of the working directory."""
    from pathlib import Path

    from quco.config import DEFAULT_INDEX, load_settings

    settings = load_settings()
    if settings.backend in ("auto", "duckdb", "mmap") and settings.index == DEFAULT_INDEX and not Path(DEFAULT_INDEX).exists():
        raise UsageError("no index named: pass detector=quco.Detector(quco.open_backend(PATH)) or "
                         "settings=quco.load_settings(index=PATH), or set QUCO_INDEX or index in quco.toml")
    return settings
