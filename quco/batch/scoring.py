"""`quco score`: a resumable batch scorer for JSONL, CSV and Parquet datasets.

The input is streamed in chunks of ``chunk_size`` rows. Each chunk is scored (stage 1 on the
question; the answer-level signal when an answer field is given) by one of ``workers``
processes and written atomically as a part file (JSONL) in ``OUTPUT.quco-parts/``, next to a
manifest of the run's arguments. A re-run with the same arguments skips the chunks whose part
exists, so an interrupted run (Ctrl-C, kill -9) resumes without losing or duplicating rows. When
every chunk is done the parts are assembled into OUTPUT (JSONL, CSV or Parquet, by extension)
and the errors file, both written under temporary names and renamed into place. Malformed rows
never stop the run: they go to the errors file with their row number and the reason.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

from quco.errors import AllRowsFailed, QucoError, SourceError, UsageError
from quco.normalize import invalid_text
from quco.files.outputs import OutputLock, check_outputs
from quco import __version__
from quco.files.duckdb_conn import connect

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".gz": "jsonl", ".csv": "csv", ".parquet": "parquet"}
REPORT_COLUMNS = {  # fixed types: the output schema never depends on which rows came first
    "row": "BIGINT", "id": "VARCHAR", "question": "VARCHAR", "answer": "VARCHAR", "retrieve": "BOOLEAN",
    "decision": "VARCHAR", "risk": "DOUBLE", "stage": "VARCHAR", "reasons": "VARCHAR", "entities": "VARCHAR",
    "n_entities": "INTEGER", "min_entity_count": "BIGINT", "mean_entity_count": "DOUBLE", "stage1_risk": "DOUBLE",
    "suggested_query": "VARCHAR", "approx": "BOOLEAN", "unknown": "BOOLEAN", "answer_risk": "DOUBLE",
    "answer_claims": "VARCHAR", "answer_unknown": "BOOLEAN", "answer_checkable": "BOOLEAN",
    "answer_choice": "VARCHAR",
    "p_fabrication": "DOUBLE", "backend": "VARCHAR", "index": "VARCHAR", "corpus_tokens": "BIGINT",
    "extractor": "VARCHAR", "quco_version": "VARCHAR",
}
MAX_RAW_IN_ERRORS = 2000


@dataclass(frozen=True)
class ScoreStats:
    output: str
    errors_file: str
    rows: int
    scored: int
    errors: int
    chunks: int
    resumed_chunks: int
    seconds: float
    rows_per_s: float
    unknown: int = 0  # rows whose decision rests on at least one unknown count

    @property
    def error_fraction(self) -> float:
        return round(self.errors / self.rows, 4) if self.rows else 0.0

    @property
    def unknown_fraction(self) -> float:
        return round(self.unknown / self.scored, 4) if self.scored else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "error_fraction": self.error_fraction, "unknown_fraction": self.unknown_fraction}


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
                except ValueError as exc:
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


def _chunks(path: Path, size: int, pair: list | None = None):
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


# -- scoring a chunk (in a worker process) ------------------------------------------------------
_STATE: dict = {}


def _init_worker(settings, fields: dict, parent: int | None = None, audit: dict | None = None) -> None:
    if parent is not None:
        _exit_with_parent(parent)
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


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent was killed (kill -9) must not linger: watch for re-parenting."""
    import threading

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="quco-parent-watch").start()


def _score_chunk(index: int, chunk: list, parts_dir: str) -> tuple[int, int, int]:
    if "init_error" in _STATE:
        raise _STATE["init_error"]
    detector, scorer, f = _STATE["detector"], _STATE["scorer"], _STATE["fields"]
    good, errors = [], []
    for n, row, error, raw in chunk:
        if error is None:
            error = _validate(row, f, detector.max_question_chars)
        if error is not None:
            errors.append({"row": n, "id": _row_id(row, f, n) if row else None, "reason": error,
                           "raw": raw if raw is not None else _raw(row)})
        else:
            good.append((n, row))
    out, audit_rows = [], []
    if good:
        reports = detector.check_many([row[f["question"]] for _, row in good])
        if _STATE.get("audit"):
            from quco.audit.log import decision_row

            key, store = bytes.fromhex(_STATE["audit"]["key"]), _STATE["audit"]["store_text"]
            audit_rows = [decision_row(r, request_id=f"score-{_row_id(row, f, n)}", source="score",
                                       latency_ms=r.timings_ms.get("total_ms"), key=key, store_text=store)
                          for (n, row), r in zip(good, reports)]
        answers = None
        if f["answer"]:
            pairs = [(row[f["question"]], row[f["answer"]]) for _, row in good]
            answers = scorer.score_many(pairs, question_entities=[r.entities for r in reports])
        for i, ((n, row), report) in enumerate(zip(good, reports)):
            out.append(_flatten(n, row, f, report, answers[i] if answers else None))
    parts = Path(parts_dir)
    keys = sorted({k for r in out for k in r if k not in REPORT_COLUMNS})
    unknown = sum(bool(r["unknown"] or r["answer_unknown"]) for r in out)
    (parts / f"keys-{index:07d}.json").write_text(json.dumps({"keys": keys, "unknown": unknown}))
    _write_atomic(parts / f"errors-{index:07d}.jsonl", errors)
    if _STATE.get("audit"):
        _write_atomic(parts / f"audit-{index:07d}.jsonl", audit_rows)
    _write_atomic(parts / f"part-{index:07d}.jsonl", out)  # written last: its presence marks the chunk done
    return index, len(out), len(errors)


def _validate(row: dict, f: dict, max_chars: int) -> str | None:
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


def _row_id(row, f, n):
    if f["id"] and isinstance(row, dict) and row.get(f["id"]) is not None:
        return row[f["id"]]
    return n


def _raw(row) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)[:MAX_RAW_IN_ERRORS]


def _flatten(n: int, row: dict, f: dict, report, answer) -> dict:
    counts = [e.count for e in report.entities if e.count is not None]
    flat = {
        "row": n,
        "id": str(_row_id(row, f, n)),
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
        "p_fabrication": answer.p_fabrication if answer else report.p_fabrication,
        "backend": report.backend,
        "index": report.index,
        "corpus_tokens": report.corpus_tokens,
        "extractor": report.extractor,
        "quco_version": __version__,
    }
    passthrough = {}
    for k, v in row.items():
        if k in (f["question"], f["answer"], f["id"]):
            continue
        key = k if k not in flat else f"input_{k}"
        passthrough[key] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
    return {**flat, **passthrough}


def _write_atomic(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
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
    they clash). ``entities`` and ``answer_claims`` are JSON text; ``unknown`` marks a decision
    resting on a count the backend could not give (never read as 0)."""
    return dict(REPORT_COLUMNS)


def score(
    input,
    output: str | os.PathLike | None = None,
    *,
    question_field: str = "question",
    answer_field: str | None = None,
    id_field: str | None = None,
    pair_fields: tuple[str, str] | None = None,
    settings=None,
    workers: int = 1,
    chunk_size: int = 512,
    errors_path: str | os.PathLike | None = None,
    progress: bool = False,
    restart: bool = False,
    force: bool = False,
    ray: str | None = None,
    audit: str | os.PathLike | None = None,
    audit_text: bool = False,
    on_errors: list | None = None,
):
    """Score every row of ``input`` into ``output``; resumable (see the module docstring).
    ``pair_fields=(correct, fabricated)``: each row holds two answers (HaluEval's ``right_answer``,
    ``hallucinated_answer``); both are scored, as rows 2n-1 and 2n with ``label`` and ``pair_row``.
    ``input`` may also be a pandas or Polars DataFrame, a pyarrow Table or a Hugging Face Dataset:
    the scored rows are then returned as the same kind (``quco.batch.frames``; ``output`` unused;
    malformed rows are appended to ``on_errors`` when given). A file input returns ``ScoreStats``.
    ``audit``: also record every decision in this audit log (``quco.audit.log``; request ids
    ``score-<row id>``), appended once when the run completes.
    ``ray``: score on Ray (``quco.batch.ray_score``) — ``""`` starts a local Ray with this machine's
    cores, an address joins that cluster; ``workers`` is then the number of scoring actors.

    Outputs never replace an input or a file quco did not write unless ``force`` (``quco.files.outputs``).
    Raises ``AllRowsFailed`` (after writing the errors file) when not one row could be scored."""
    from quco.batch.frames import frame_kind, score_frame

    kind = frame_kind(input)
    if kind is not None:
        return score_frame(input, kind, question_field=question_field, answer_field=answer_field, id_field=id_field,
                           pair_fields=pair_fields, settings=settings, workers=workers, chunk_size=chunk_size, restart=restart, force=force,
                           ray=ray, audit=audit, audit_text=audit_text, on_errors=on_errors)
    if output is None:
        raise UsageError("score needs an output path for a file input")
    if settings is None:
        from quco.config import load_settings

        settings = load_settings()
    src, out = Path(input), Path(output)
    if not src.is_file():
        raise SourceError(f"{src}: input file not found")
    file_format(src)
    out_fmt = file_format(out)
    if out.suffix.lower() == ".gz":
        raise UsageError(f"{out}: write .jsonl, .csv or .parquet (compressed output is not supported)")
    if workers < 1 or chunk_size < 1:
        raise UsageError("--workers and --chunk-size must be at least 1")
    errors_file = Path(errors_path) if errors_path else out.with_name(out.name + ".errors.jsonl")
    parts = out.with_name(out.name + ".quco-parts")
    check_outputs(
        [src, *_settings_inputs(settings)],
        {"--output": (out, "scored"), "--errors": (errors_file, "errors"), "parts directory": (parts, "parts")},
        force=force,
    )
    if pair_fields is not None:
        if answer_field or len(pair_fields) != 2 or not all(isinstance(p, str) and p for p in pair_fields):
            raise UsageError("pair fields are two field names (correct, fabricated), and replace the answer field")
    fields = {"question": question_field, "answer": PAIR_ANSWER if pair_fields else answer_field, "id": id_field,
              "pair": list(pair_fields) if pair_fields else None}
    _check_fields(src, {"question": question_field, "id": id_field,
                        **({"pair": pair_fields[0], "pair2": pair_fields[1]} if pair_fields else {"answer": answer_field})})
    with OutputLock(out, "score"), OutputLock(errors_file, "score"):
        audit_info = None
        if audit:
            from quco.audit.log import open_key

            Path(audit).parent.mkdir(parents=True, exist_ok=True)
            audit_info = {"key": open_key(Path(audit)).hex(), "store_text": audit_text}
        stats = _run(src, out, out_fmt, errors_file, parts, fields, settings, workers, chunk_size, progress, restart,
                     ray, audit_info, audit)
        return stats


def _settings_inputs(settings) -> list[str]:
    """Files the run reads through its settings: the index, and the API answer cache."""
    if settings.backend == "infinigram-api":
        return [settings.api_cache] if settings.api_cache and settings.api_cache.lower() != "none" else []
    return [settings.index]


def _run(src, out, out_fmt, errors_file, parts, fields, settings, workers, chunk_size, progress, restart,
         ray=None, audit_info=None, audit_path=None) -> ScoreStats:
    manifest = {**_manifest(src, fields, chunk_size, settings), "audit": bool(audit_info)}
    done = _prepare_parts(parts, manifest, restart)
    t0 = time.perf_counter()
    total = count_rows(src)
    if total is not None and fields.get("pair"):
        total *= 2
    bar = _bar(total, progress)
    tally = Tally()
    todo = tally.to_do(_chunks(src, chunk_size, fields.get("pair")), done, bar)
    try:
        if ray is not None:
            from quco.batch.ray_score import score_on_ray

            score_on_ray(todo, parts, settings, fields, workers, bar, ray or None, audit_info)
        elif workers == 1:
            _init_worker(settings, fields, None, audit_info)
            if "init_error" in _STATE:
                raise _STATE["init_error"]
            for index, chunk in todo:
                _score_chunk(index, chunk, str(parts))
                bar.update(len(chunk))
        else:
            with ProcessPoolExecutor(workers, initializer=_init_worker,
                                     initargs=(settings, fields, os.getpid(), audit_info)) as pool:
                pending = {}
                for index, chunk in todo:
                    pending[pool.submit(_score_chunk, index, chunk, str(parts))] = len(chunk)
                    while len(pending) >= 2 * workers:  # bounded: memory stays flat on any input size
                        _drain(pending, bar, FIRST_COMPLETED)
                while pending:
                    _drain(pending, bar, FIRST_COMPLETED)
    finally:
        bar.close()
    n_rows, n_chunks, resumed = tally.rows, tally.chunks, tally.resumed
    n_scored, n_errors, n_unknown = _assemble(parts, n_chunks, out, out_fmt, errors_file)
    if audit_path:
        _append_audit(parts, n_chunks, Path(audit_path), audit_info["store_text"])
    shutil.rmtree(parts, ignore_errors=True)
    seconds = time.perf_counter() - t0
    stats = ScoreStats(str(out), str(errors_file), n_rows, n_scored, n_errors, n_chunks, resumed,
                       round(seconds, 3), round(n_rows / seconds, 1) if seconds else 0.0, n_unknown)
    if n_rows and not n_scored:
        raise AllRowsFailed(f"none of the {n_rows:,} rows could be scored; the reasons are in {errors_file}")
    return stats


def _append_audit(parts: Path, n_chunks: int, path: Path, store_text: bool) -> None:
    """Every chunk's audit rows into the audit log, once (the parts are removed right after)."""
    from quco.audit.log import AuditLog

    with AuditLog(path, store_text=store_text) as log:
        for i in range(n_chunks):
            f = parts / f"audit-{i:07d}.jsonl"
            if f.exists():
                with open(f, encoding="utf-8") as fh:
                    for line in fh:
                        log.record(json.loads(line))
        log.flush(timeout=600)


class Tally:
    """Rows and chunks seen, and chunks skipped because an earlier run finished them."""

    rows = chunks = resumed = 0

    def to_do(self, chunks, done: set[int], bar):
        """The (index, chunk) pairs still to score; finished ones are counted and skipped."""
        for index, chunk in enumerate(chunks):
            self.chunks += 1
            self.rows += len(chunk)
            if index in done:
                self.resumed += 1
                bar.update(len(chunk))
                continue
            yield index, chunk


def _check_fields(src: Path, fields: dict) -> None:
    """A field name that no row has is a typo, not a dataset of malformed rows: fail fast."""
    for _, row, _, _ in iter_rows(src):
        if row is None:
            continue
        missing = [f for f in fields.values() if f and f not in row]
        if missing:
            raise UsageError(f"{src}: the first row has no field {missing[0]!r} (fields: {', '.join(map(str, row))})")
        return


def _drain(pending: dict, bar, mode) -> None:
    finished, _ = wait(list(pending), return_when=mode)
    for fut in finished:
        size = pending.pop(fut)
        fut.result()  # re-raise a worker's failure here
        bar.update(size)


def _manifest(src: Path, fields: dict, chunk_size: int, settings) -> dict:
    st = src.stat()
    return {
        "parts_format": 2,
        "input": str(src.resolve()),
        "input_size": st.st_size,
        "input_mtime_ns": st.st_mtime_ns,
        "fields": fields,
        "chunk_size": chunk_size,
        "settings": {k: v for k, v in asdict(settings).items()},
    }


def _prepare_parts(parts: Path, manifest: dict, restart: bool) -> set[int]:
    mpath = parts / "manifest.json"
    if parts.exists() and restart:
        shutil.rmtree(parts)
    if parts.exists():
        try:
            previous = json.loads(mpath.read_text())
        except (OSError, ValueError):
            previous = None
        if previous != json.loads(json.dumps(manifest)):
            raise UsageError(
                f"{parts}: holds a previous run with other arguments or another input; "
                "re-run with the same arguments to resume, or pass --restart to start over"
            )
        for stale in parts.glob("*.tmp-*"):  # a chunk being written when the last run was killed
            stale.unlink(missing_ok=True)
        return {int(p.name[5:12]) for p in parts.glob("part-*.jsonl")}
    parts.mkdir(parents=True)
    tmp = mpath.with_name("manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, mpath)
    return set()


def _assemble(parts: Path, n_chunks: int, out: Path, fmt: str, errors_file: Path) -> tuple[int, int, int]:
    part_files = [parts / f"part-{i:07d}.jsonl" for i in range(n_chunks)]
    missing = [p.name for p in part_files if not p.exists()]
    if missing:
        raise UsageError(f"{parts}: {len(missing)} chunk(s) missing after the run ({missing[0]}...)")
    n_errors = _concat([parts / f"errors-{i:07d}.jsonl" for i in range(n_chunks)], errors_file)
    n_unknown = sum(json.loads((parts / f"keys-{i:07d}.json").read_text()).get("unknown", 0) for i in range(n_chunks))
    if fmt == "jsonl":
        n_scored = _concat(part_files, out)
    else:
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        n_scored = sum(_lines(p) for p in part_files)
        keys = sorted({k for i in range(n_chunks) for k in json.loads((parts / f"keys-{i:07d}.json").read_text())["keys"]})
        _write_table([str(p) for p in part_files if p.stat().st_size], keys, fmt, tmp)
        os.replace(tmp, out)
    return n_scored, n_errors, n_unknown


def _write_table(files: list[str], extra: list[str], fmt: str, target: Path) -> None:
    """JSONL parts -> one Parquet/CSV file through DuckDB, streaming, with a declared schema."""
    import duckdb

    # One thread and a memory cap keep assembly flat on any number of rows (DuckDB spills).
    con = connect(threads=1, memory_limit="1GB")
    try:
        columns = dict(REPORT_COLUMNS)
        if extra and files:
            # Input columns passed through: types from the first part; text if they disagree later.
            sample = con.read_json(files[0], format="newline_delimited", sample_size=-1)
            types = dict(zip(sample.columns, (str(t) for t in sample.types)))
            columns.update({k: types.get(k, "VARCHAR") for k in extra})
        if not files:
            rel = con.sql("SELECT NULL::BIGINT AS row WHERE false")
            _write_rel(rel, fmt, target)
            return
        try:
            _write_rel(con.read_json(files, format="newline_delimited", columns=columns), fmt, target)
        except duckdb.ConversionException:
            columns.update({k: "VARCHAR" for k in extra})
            _write_rel(con.read_json(files, format="newline_delimited", columns=columns), fmt, target)
    finally:
        con.close()


def _write_rel(rel, fmt: str, target: Path) -> None:
    if fmt == "parquet":
        rel.write_parquet(str(target))
    else:
        rel.write_csv(str(target))


def _concat(files: list[Path], target: Path) -> int:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    n = 0
    with open(tmp, "wb") as dst:
        for f in files:
            if f.exists():
                with open(f, "rb") as src:
                    data = src.read()
                n += data.count(b"\n")
                dst.write(data)
    os.replace(tmp, target)
    return n


def _lines(p: Path) -> int:
    with open(p, "rb") as fh:
        return sum(1 for _ in fh)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _bar(total, enabled):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="row", desc="scoring", smoothing=0.1, mininterval=0.5, file=sys.stderr)

