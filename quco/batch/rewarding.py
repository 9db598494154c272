"""`quco reward`: a ``Reward`` over every row of a JSONL/CSV/Parquet file of prompts and completions.

Rows are read in chunks and each chunk is rewarded as one batch (one extraction pass, one backend
batch). The output is written under a temporary name and renamed into place, so an interrupted
run leaves the previous output intact; malformed rows (bad JSON, a missing or non-text field) go
to an errors file with their reason, never silently dropped. A run is fast enough (thousands of
rows a second) that re-running replaces resuming.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from quco.batch.rows import file_format, iter_rows, raw_text
from quco.errors import AllRowsFailed, UsageError
from quco.files.building import temporary_beside
from quco.files.duckdb_conn import connect
from quco.files.outputs import OutputLock, check_outputs

COLUMNS = {"row": "BIGINT", "reward": "DOUBLE", "scheme": "VARCHAR", "status": "VARCHAR", "checked": "INTEGER",
           "unknown": "INTEGER", "approx": "BOOLEAN", "details": "VARCHAR", "index": "VARCHAR", "corpus_tokens": "BIGINT"}


@dataclass(frozen=True)
class RewardStats:
    output: str
    errors_file: str
    rows: int
    rewarded: int
    errors: int
    unknown: int  # claims whose counts were unknown (scored by the unknown policy)
    mean_reward: float | None
    seconds: float
    rows_per_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def reward_file(path: str | os.PathLike, output: str | os.PathLike, reward, *, prompt_field: str = "prompt",
                completion_field: str = "completion", details: bool = False, chunk_size: int = 2048,
                errors_path: str | os.PathLike | None = None, force: bool = False) -> RewardStats:
    """Reward every row of ``path`` into ``output`` (.jsonl, .csv or .parquet); see the module."""
    src, out = Path(path), Path(output)
    if not src.is_file():
        raise UsageError(f"{src}: no such file")
    if chunk_size < 1:
        raise UsageError("chunk size must be at least 1")
    file_format(src)
    out_fmt = file_format(out)
    errors_file = Path(errors_path) if errors_path else out.with_name(out.name + ".errors.jsonl")
    check_outputs([src], {"--output": (out, "rewarded"), "--errors": (errors_file, "errors")}, force=force)
    t0 = time.perf_counter()
    with OutputLock(out), temporary_beside(out) as tmp, temporary_beside(errors_file) as tmp_err:
        counts = _reward_rows(src, tmp, tmp_err, reward, (prompt_field, completion_field), details, chunk_size)
        if out_fmt != "jsonl":  # JSONL first, then the table beside it (a name the output lock cleans up)
            table = out.with_name(f".{out.name}.building-{os.getpid()}")
            try:
                _write_table(tmp, out_fmt, table)
                os.replace(table, out)
            finally:
                table.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, out)
        os.replace(tmp_err, errors_file)
    rows, rewarded, errors, unknown, total = counts
    seconds = time.perf_counter() - t0
    if rows and not rewarded:
        raise AllRowsFailed(f"none of the {rows:,} rows could be rewarded; the reasons are in {errors_file}")
    return RewardStats(str(out), str(errors_file), rows, rewarded, errors, unknown,
                       round(total / rewarded, 6) if rewarded else None, round(seconds, 3),
                       round(rows / seconds, 1) if seconds else 0.0)


def _reward_rows(src: Path, tmp: Path, tmp_err: Path, reward, fields: tuple[str, str], details: bool,
                 chunk_size: int) -> tuple[int, int, int, int, float]:
    rows = rewarded = errors = unknown = 0
    total = 0.0
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh, \
            open(tmp_err, "w", encoding="utf-8", errors="backslashreplace") as err:
        chunk: list = []
        for n, row, error, raw in iter_rows(src):
            rows += 1
            if row is not None and error is None:
                error = _invalid(row, fields)
            if error is not None:
                errors += 1
                err.write(json.dumps({"row": n, "reason": error, "raw": raw or raw_text(row)}, ensure_ascii=False) + "\n")
                continue
            chunk.append((n, row))
            if len(chunk) >= chunk_size:
                r, u, t = _write_chunk(fh, chunk, reward, fields, details)
                rewarded, unknown, total = rewarded + r, unknown + u, total + t
                chunk = []
        if chunk:
            r, u, t = _write_chunk(fh, chunk, reward, fields, details)
            rewarded, unknown, total = rewarded + r, unknown + u, total + t
        fh.flush()
        os.fsync(fh.fileno())
    return rows, rewarded, errors, unknown, total


def _invalid(row: dict, fields: tuple[str, str]) -> str | None:
    prompt_field, completion_field = fields
    if completion_field not in row:
        return f"no field {completion_field!r}"
    if prompt_field not in row:
        return f"no field {prompt_field!r}"
    for name in fields:
        value = row[name]
        if not isinstance(value, str | list):
            return f"field {name!r} is {type(value).__name__}, not text or a list of messages"
    return None


def _write_chunk(fh, chunk: list, reward, fields: tuple[str, str], details: bool) -> tuple[int, int, float]:
    prompt_field, completion_field = fields
    results = reward.details([row[prompt_field] for _, row in chunk], [row[completion_field] for _, row in chunk])
    for (n, row), r in zip(chunk, results):
        flat = {"row": n, "reward": r.reward, "scheme": r.scheme, "status": r.status, "checked": r.checked,
                "unknown": r.unknown, "approx": r.approx,
                "details": json.dumps([asdict(s) for s in r.sentences], ensure_ascii=False) if details else None,
                "index": r.index, "corpus_tokens": r.corpus_tokens}
        passthrough = {(k if k not in flat else f"input_{k}"): v for k, v in row.items()}
        fh.write(json.dumps({**flat, **passthrough}, ensure_ascii=False, default=str) + "\n")
    return len(results), sum(r.unknown for r in results), sum(r.reward for r in results)


def _write_table(jsonl: Path, fmt: str, target: Path) -> None:
    """The JSONL output as Parquet or CSV, through DuckDB (streaming, one thread)."""
    con = connect(threads=1, memory_limit="1GB")
    try:
        if jsonl.stat().st_size:
            rel = con.read_json(str(jsonl), format="newline_delimited", sample_size=-1)
        else:  # no row: the columns still have their types
            rel = con.read_json(str(jsonl), format="newline_delimited", columns=COLUMNS)
        if fmt == "parquet":
            rel.write_parquet(str(target))
        else:
            rel.write_csv(str(target))
    finally:
        con.close()
