"""`quco calibrate`: score labelled rows with this setting, fit risk -> P(fabrication), save it.

The labelled file is read exactly as ``quco score`` reads its input (JSONL, CSV or Parquet; the
same field options, ``pair_fields`` for HaluEval's layout). The rows are scored into a temporary
directory with the given settings, so the calibration is fitted on the risks this setting
produces, and it records that setting (index identity and size, extractor, quco version, stage-2
mode, window) for ``Calibration.check``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from quco.batch.scoring import ScoreOptions
from quco.decide.calibration import Calibration, fit
from quco.errors import SourceError, UsageError
from quco.files.outputs import check_outputs


def calibrate_file(labelled: str | os.PathLike, out: str | os.PathLike, *, settings, options: ScoreOptions,
                   label_field: str = "label", positive=None) -> Calibration:
    """Score ``labelled`` with ``settings`` (how: ``options``; its ``force`` applies to ``out``), fit
    risk -> P(fabrication) against ``label_field`` and save it to ``out``."""
    from quco import __version__
    from quco.batch.evaluation import is_positive, load_scored
    from quco.batch.rows import iter_rows
    from quco.batch.scoring import score_file

    check_outputs([labelled], {"--out": (out, "calibration")}, force=options.force)
    pair_fields, answer_field = options.pair_fields, options.answer_field
    if pair_fields:
        label_field = "label"
    else:  # refuse a file without labels before scoring all of it
        if not Path(labelled).is_file():
            raise SourceError(f"{labelled}: input file not found")
        first = next((row for _, row, error, _ in iter_rows(Path(labelled)) if error is None and row), None)
        if first is not None and label_field not in first:
            raise UsageError(f"{labelled}: no field {label_field!r} to calibrate against (pass --label-field)")
    with tempfile.TemporaryDirectory(prefix="quco-calibrate-") as tmp:
        scored = Path(tmp) / "scored.jsonl"
        score_file(labelled, scored, settings=settings, options=replace(options, force=False, restart=False))
        rows = load_scored(scored)
    if not rows:
        raise UsageError(f"{labelled}: no rows could be scored")
    score_field = "answer_risk" if (answer_field or pair_fields) else "risk"
    rows = [r for r in rows if r.get(label_field) is not None and r.get(score_field) is not None]
    labels = [is_positive(r[label_field], positive) for r in rows]
    first = rows[0] if rows else {}
    fitted_for = {"index": first.get("index"), "corpus_tokens": first.get("corpus_tokens"),
                  "extractor": first.get("extractor"), "quco_version": __version__,
                  "mode": settings.mode if score_field == "risk" else "evidence", "window": settings.window}
    cal = fit([float(r[score_field]) for r in rows], labels, score=score_field, fitted_for=fitted_for,
              source=str(labelled))
    cal.save(out)
    return cal
