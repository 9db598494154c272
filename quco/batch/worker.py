"""Scoring one chunk of rows in a worker: the same code in the process pool, in-process (one
worker) and in Ray actors (``quco.batch.ray_score``). The detector is built once per worker by
``init_worker``; ``score_chunk`` writes the chunk's part files, its part last."""

from __future__ import annotations

import json
from pathlib import Path

from quco.batch.rows import REPORT_COLUMNS, flatten, raw_text, row_id, validate, write_atomic
from quco.errors import QucoError
from quco.process import exit_with_parent

# -- scoring a chunk (in a worker process) ------------------------------------------------------
_STATE: dict = {}


def init_worker(settings, fields: dict, parent: int | None = None, audit: dict | None = None) -> None:
    if parent is not None:
        exit_with_parent(parent)
    _STATE.clear()
    _STATE["fields"] = fields
    _STATE["audit"] = audit  # {"key": hex, "store_text": bool}: audit rows are written beside each part
    try:
        detector = settings.detector()
    except QucoError as exc:
        # An initializer that raises breaks the whole pool with an untyped error; keep the
        # typed error and raise it from the first chunk instead.
        _STATE["init_error"] = exc
        return
    _STATE["detector"] = detector
    _STATE["scorer"] = settings.answer_scorer(detector)


def raise_init_error() -> None:
    """Raise the typed error with which this worker's ``init_worker`` failed, if it did."""
    if "init_error" in _STATE:
        raise _STATE["init_error"]


def score_chunk(index: int, chunk: list, parts_dir: str) -> tuple[int, int, int]:
    raise_init_error()
    detector, scorer, f = _STATE["detector"], _STATE["scorer"], _STATE["fields"]
    good, errors = [], []
    for n, row, error, raw in chunk:
        if error is None:
            error = validate(row, f, detector.max_question_chars)
        if error is not None:
            errors.append({"row": n, "id": row_id(row, f, n) if row else None, "reason": error,
                           "raw": raw if raw is not None else raw_text(row)})
        else:
            good.append((n, row))
    out, audit_rows = [], []
    if good:
        reports = detector.check_many([row[f["question"]] for _, row in good])
        # an audited run's decisions: quco's id unique to this run and row, the row's own id kept beside it
        audit = _STATE.get("audit")
        ids = [f"score-{audit['run']}-{n}" if audit else None for n, _ in good]
        if audit:
            from quco.audit.log import decision_row

            key, store = bytes.fromhex(audit["key"]), audit["store_text"]
            audit_rows = [decision_row(r, request_id=str(rid), source="score", latency_ms=r.timings_ms.get("total_ms"),
                                       key=key, store_text=store, client_request_id=str(row_id(row, f, n)))
                          for (n, row), r, rid in zip(good, reports, ids)]
        answers = None
        if f["answer"]:
            pairs = [(row[f["question"]], row[f["answer"]]) for _, row in good]
            answers = scorer.score_many(pairs, question_entities=[r.entities for r in reports])
        for i, ((n, row), report) in enumerate(zip(good, reports)):
            out.append(flatten(n, row, f, report, answers[i] if answers else None, ids[i]))
    parts = Path(parts_dir)
    keys = sorted({k for r in out for k in r if k not in REPORT_COLUMNS})
    unknown = sum(bool(r["unknown"] or r["answer_unknown"]) for r in out)
    (parts / f"keys-{index:07d}.json").write_text(json.dumps({"keys": keys, "unknown": unknown}))
    write_atomic(parts / f"errors-{index:07d}.jsonl", errors)
    if _STATE.get("audit"):
        write_atomic(parts / f"audit-{index:07d}.jsonl", audit_rows)
    write_atomic(parts / f"part-{index:07d}.jsonl", out)  # written last: its presence marks the chunk done
    return index, len(out), len(errors)
