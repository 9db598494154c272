"""Rows of ``quco score``: reading JSONL, CSV and Parquet inputs as numbered rows (malformed ones
carried with their reason), chunking them, HaluEval's paired layout, validating a row, and the
flat output row with its fixed schema."""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from quco import __version__
from quco.errors import SourceError, UsageError
from quco.files.building import temporary_beside
from quco.files.duckdb_conn import connect
from quco.normalize import invalid_text

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".gz": "jsonl", ".csv": "csv", ".parquet": "parquet"}


REPORT_COLUMNS = {  # fixed types: the output schema never depends on which rows came first
    "row": "BIGINT", "id": "VARCHAR", "question": "VARCHAR", "answer": "VARCHAR", "retrieve": "BOOLEAN",
    "decision": "VARCHAR", "risk": "DOUBLE", "stage": "VARCHAR", "reasons": "VARCHAR", "entities": "VARCHAR",
    "n_entities": "INTEGER", "min_entity_count": "BIGINT", "mean_entity_count": "DOUBLE", "stage1_risk": "DOUBLE",
    "suggested_query": "VARCHAR", "approx": "BOOLEAN", "unknown": "BOOLEAN", "answer_risk": "DOUBLE",
    "answer_claims": "VARCHAR", "answer_unknown": "BOOLEAN", "answer_checkable": "BOOLEAN",
    "answer_choice": "VARCHAR", "answer_rank": "VARCHAR", "answer_polar": "VARCHAR", "answer_verdict": "VARCHAR",
    "answer_reading": "VARCHAR",
    "p_fabrication": "DOUBLE", "backend": "VARCHAR", "index": "VARCHAR", "corpus_tokens": "BIGINT",
    "extractor": "VARCHAR", "quco_version": "VARCHAR", "request_id": "VARCHAR",
}


MAX_RAW_IN_ERRORS = 2000


def file_format(path: str | os.PathLike) -> str:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gz":
        suffix = Path(p.stem).suffix.lower()
        if suffix not in (".jsonl", ".json"):
            raise UsageError(f"{p}: only .jsonl.gz is supported among compressed inputs")
    if suffix not in FORMATS:
        raise UsageError(f"{p}: unknown format (use .jsonl, .jsonl.gz, .csv or .parquet)")
    return FORMATS[suffix]


# -- reading ----------------------------------------------------------------------------------
def iter_rows(path: Path) -> Iterator[tuple[int, dict | None, str | None, str | None]]:
    """(row number from 1, row or None, error or None, raw text for the errors file)."""
    fmt = file_format(path)
    if fmt == "jsonl":
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        # One UTF-8 policy for every command: invalid bytes reject the row (with its number), never
        # a silent U+FFFD. surrogateescape keeps the bad bytes visible to ``_bad_text``.
        with opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            n = 0
            for line in fh:
                if not line.strip():
                    continue
                n += 1
                if (bad := invalid_text(line)) is not None:
                    yield n, None, bad, line[:MAX_RAW_IN_ERRORS].encode("utf-8", "replace").decode()
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, None, f"invalid JSON ({exc.msg} at column {exc.colno})", line[:MAX_RAW_IN_ERRORS]
                    continue
                if not isinstance(row, dict):
                    yield n, None, f"expected a JSON object, got {type(row).__name__}", line[:MAX_RAW_IN_ERRORS]
                    continue
                yield n, row, None, None
    elif fmt == "csv":
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                return
            for n, row in enumerate(reader, 1):
                raw = ",".join(str(v) for v in row.values() if v is not None)
                if None in row or any(v is None for v in row.values()):
                    yield n, None, f"expected {len(reader.fieldnames)} fields", raw[:MAX_RAW_IN_ERRORS]
                    continue
                if (bad := invalid_text(raw)) is not None:
                    yield n, None, bad, raw[:MAX_RAW_IN_ERRORS].encode("utf-8", "replace").decode()
                    continue
                yield n, row, None, None
    else:
        import duckdb

        con = connect()
        try:
            cur = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
        except duckdb.Error as exc:
            raise SourceError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        names = [d[0] for d in cur.description]
        n = 0
        while batch := cur.fetchmany(4096):
            for values in batch:
                n += 1
                yield n, dict(zip(names, values)), None, None
        con.close()


def count_rows(path: Path) -> int | None:
    """Rows in the input, for the progress bar's ETA (cheap: newline count or Parquet metadata)."""
    fmt = file_format(path)
    if fmt == "parquet":
        import duckdb

        try:
            return int(connect().execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0])
        except duckdb.Error:
            return None
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    n = 0
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return max(0, n - 1) if fmt == "csv" else n


PAIR_ANSWER = "quco_pair_answer"


PAIR_LABELS = ("correct", "fabricated")


def chunks(path: Path, size: int, pair: list | None = None):
    chunk = []
    for item in _paired(iter_rows(path), pair) if pair else iter_rows(path):
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _paired(rows, pair: list):
    """HaluEval's layout: each row holds a correct and a fabricated answer (``pair`` names the two
    fields); input row n (numbered from 1) becomes rows 2n-1 and 2n, with ``label`` and ``pair_row`` = n."""
    for n, row, error, raw in rows:
        if row is None:
            yield 2 * n - 1, row, error, raw
            continue
        rest = {k: v for k, v in row.items() if k not in pair}
        for k, (fld, label) in enumerate(zip(pair, PAIR_LABELS)):
            yield 2 * n - 1 + k, {**rest, PAIR_ANSWER: row.get(fld), "label": label, "pair_row": n}, None, None


def validate(row: dict, f: dict, max_chars: int) -> str | None:
    q = row.get(f["question"])
    if f["question"] not in row:
        return f"missing field {f['question']!r}"
    if not isinstance(q, str) or not q.strip():
        return f"field {f['question']!r} must be non-empty text"
    if len(q) > max_chars:
        return f"question has {len(q):,} characters; the limit is {max_chars:,}"
    if (bad := invalid_text(q)) is not None:  # e.g. a "\\ud800" escape in JSON
        return f"field {f['question']!r}: {bad}"
    if f["answer"]:
        a = row.get(f["answer"])
        if not isinstance(a, str) or not a.strip():
            return f"field {f['answer']!r} must be non-empty text"
        if (bad := invalid_text(a)) is not None:
            return f"field {f['answer']!r}: {bad}"
    if f["id"] and row.get(f["id"]) is None:
        return f"missing field {f['id']!r}"
    return None


def row_id(row, f, n):
    if f["id"] and isinstance(row, dict) and row.get(f["id"]) is not None:
        return row[f["id"]]
    return n


def raw_text(row) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)[:MAX_RAW_IN_ERRORS]


def flatten(n: int, row: dict, f: dict, report, answer, request_id: str | None = None) -> dict:
    """One scored row; ``request_id``: its decision's id in the audit log (``quco score --audit``)."""
    counts = [e.count for e in report.entities if e.count is not None]
    flat = {
        "row": n,
        "id": str(row_id(row, f, n)),
        "question": row[f["question"]],
        "answer": row[f["answer"]] if f["answer"] else None,
        "retrieve": report.retrieve,
        "decision": report.decision,
        "risk": report.risk,
        "stage": report.stage,
        "reasons": "; ".join(report.reasons),
        "entities": json.dumps([{"text": e.text, "count": e.count} for e in report.entities], ensure_ascii=False),
        "n_entities": len(report.entities),
        "min_entity_count": min(counts) if counts else None,
        "mean_entity_count": sum(counts) / len(counts) if counts else None,
        "stage1_risk": report.stage1_risk,
        "suggested_query": report.suggested_query,
        "approx": report.approx,
        "unknown": report.unknown,
        "answer_risk": answer.risk if answer else None,
        "answer_claims": json.dumps([asdict(c) for c in answer.claims], ensure_ascii=False) if answer else None,
        "answer_unknown": answer.unknown if answer else None,
        "answer_checkable": answer.checkable if answer else None,
        "answer_choice": json.dumps(asdict(answer.choice), ensure_ascii=False) if answer and answer.choice else None,
        "answer_rank": json.dumps(asdict(answer.rank), ensure_ascii=False) if answer and answer.rank else None,
        "answer_polar": json.dumps(asdict(answer.polar), ensure_ascii=False) if answer and answer.polar else None,
        "answer_verdict": answer.verdict if answer else None,
        "answer_reading": "; ".join(answer.readings) if answer and answer.readings else None,
        "p_fabrication": answer.p_fabrication if answer else report.p_fabrication,
        "backend": report.backend,
        "index": report.index,
        "corpus_tokens": report.corpus_tokens,
        "extractor": report.extractor,
        "quco_version": __version__,
        "request_id": request_id,
    }
    passthrough = {}
    for k, v in row.items():
        if k in (f["question"], f["answer"], f["id"]):
            continue
        key = k if k not in flat else f"input_{k}"
        passthrough[key] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
    return {**flat, **passthrough}


def write_atomic(path: Path, rows: list[dict]) -> None:
    with temporary_beside(path) as tmp:  # a full disk, a signal: no half-written chunk is left behind
        # backslashreplace: a lone surrogate in a passed-through field or a rejected row's raw text
        # is written visibly escaped instead of failing the chunk.
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


# -- the run ------------------------------------------------------------------------------------
def report_schema() -> dict[str, str]:
    """The flat output schema of ``quco score`` (column -> SQL type), in column order. Input
    columns other than the question, answer and id fields follow it (renamed ``input_<name>`` when
    they clash). ``entities``, ``answer_claims``, ``answer_choice``, ``answer_rank`` and
    ``answer_polar`` are JSON text; ``answer_verdict`` is what reading the corpus decided
    (contradicted, unsupported, supported; empty when nothing was read) and ``answer_reading`` why; ``unknown`` marks a decision
    resting on a count the backend could not give (never read as 0)."""
    return dict(REPORT_COLUMNS)
