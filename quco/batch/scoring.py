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

import json
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

from quco.batch.held import HeldDetector
from quco.batch.rows import PAIR_ANSWER, REPORT_COLUMNS, chunks, count_rows, file_format, iter_rows
from quco.batch.worker import init_worker, raise_init_error, score_chunk
from quco.errors import AllRowsFailed, OutputError, SourceError, UsageError
from quco.files.building import temporary_beside, write_failure
from quco.files.duckdb_conn import connect
from quco.files.outputs import OutputLock, check_outputs


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


































@dataclass(frozen=True)
class ScoreOptions:
    """How ``quco score`` reads, runs and writes (the keywords of ``quco.score``).

    ``pair_fields=(correct, fabricated)``: each row holds two answers (HaluEval's ``right_answer``,
    ``hallucinated_answer``); both are scored, as rows 2n-1 and 2n with ``label`` and ``pair_row``.
    ``audit``: also record every decision in this audit log (``quco.audit.log``; request ids
    ``score-<row id>``), appended once when the run completes. ``ray``: score on Ray
    (``quco.batch.ray_score``) — ``""`` starts a local Ray with this machine's cores, an address
    joins that cluster; ``workers`` is then the number of scoring actors. Outputs never replace an
    input or a file quco did not write unless ``force`` (``quco.files.outputs``)."""

    question_field: str = "question"
    answer_field: str | None = None
    id_field: str | None = None
    pair_fields: tuple[str, str] | None = None
    workers: int = 1
    chunk_size: int = 512
    errors_path: str | os.PathLike | None = None
    progress: bool = False
    restart: bool = False
    force: bool = False
    ray: str | None = None
    audit: str | os.PathLike | None = None
    audit_text: bool = False

    def fields(self) -> dict:
        """The row fields a worker reads (the paired layout's answer under its own name)."""
        pair = self.pair_fields
        return {"question": self.question_field, "answer": PAIR_ANSWER if pair else self.answer_field,
                "id": self.id_field, "pair": list(pair) if pair else None}


PARTS_FORMAT = 3  # 3: the input's digest and the index's fingerprint decide what resumes


def score_file(input: str | os.PathLike, output: str | os.PathLike, *, settings, options: ScoreOptions) -> ScoreStats:
    """Score every row of the file ``input`` into ``output``; resumable (see the module docstring).
    Raises ``AllRowsFailed`` (after writing the errors file) when not one row could be scored."""
    o = options
    src, out = Path(input), Path(output)
    if not src.is_file():
        raise SourceError(f"{src}: input file not found")
    file_format(src)
    out_fmt = file_format(out)
    if out.suffix.lower() == ".gz":
        raise UsageError(f"{out}: write .jsonl, .csv or .parquet (compressed output is not supported)")
    if o.workers < 1 or o.chunk_size < 1:
        raise UsageError("--workers and --chunk-size must be at least 1")
    errors_file = Path(o.errors_path) if o.errors_path else out.with_name(out.name + ".errors.jsonl")
    parts = out.with_name(out.name + ".quco-parts")
    check_outputs(
        [src, *_settings_inputs(settings)],
        {"--output": (out, "scored"), "--errors": (errors_file, "errors"), "parts directory": (parts, "parts")},
        force=o.force,
    )
    pair = o.pair_fields
    if pair is not None:
        if o.answer_field or len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
            raise UsageError("pair fields are two field names (correct, fabricated), and replace the answer field")
    _check_fields(src, {"question": o.question_field, "id": o.id_field,
                        **({"pair": pair[0], "pair2": pair[1]} if pair else {"answer": o.answer_field})})
    with OutputLock(out, "score"), OutputLock(errors_file, "score"):
        audit_info = None
        if o.audit:
            from quco.audit.log import open_key

            Path(o.audit).parent.mkdir(parents=True, exist_ok=True)
            audit_info = {"key": open_key(Path(o.audit)).hex(), "store_text": o.audit_text}
        try:
            return _run(src, out, out_fmt, errors_file, parts, settings, o, audit_info)
        except OSError as exc:  # a full disk: finished chunks are kept, the previous output is intact
            raise OutputError(f"{write_failure(out, exc)}; finished chunks are kept in {parts}: "
                              "re-run to resume") from exc


def _settings_inputs(settings) -> list[str]:
    """Files the run reads through its settings: the index, and the API answer cache."""
    if isinstance(settings, HeldDetector):
        return settings.inputs()
    if settings.backend == "infinigram-api":
        return [settings.api_cache] if settings.api_cache and settings.api_cache.lower() != "none" else []
    return [settings.index]


def _run(src: Path, out: Path, out_fmt: str, errors_file: Path, parts: Path, settings, o: ScoreOptions,
         audit_info: dict | None) -> ScoreStats:
    fields = o.fields()
    manifest = {**_manifest(src, fields, o.chunk_size, settings), "audit": bool(audit_info)}
    done = _prepare_parts(parts, manifest, o.restart)
    if audit_info is not None:
        audit_info = {**audit_info, "run": _audit_run(parts)}
    t0 = time.perf_counter()
    total = count_rows(src)
    if total is not None and fields.get("pair"):
        total *= 2
    bar = _bar(total, o.progress)
    tally = Tally()
    todo = tally.to_do(chunks(src, o.chunk_size, fields.get("pair")), done, bar)
    try:
        _score_chunks(todo, parts, settings, fields, o, bar, audit_info)
    finally:
        bar.close()
    n_rows, n_chunks, resumed = tally.rows, tally.chunks, tally.resumed
    n_scored, n_errors, n_unknown = _assemble(parts, n_chunks, out, out_fmt, errors_file)
    if audit_info is not None and o.audit:
        _append_audit(parts, n_chunks, Path(o.audit), audit_info["store_text"])
    shutil.rmtree(parts, ignore_errors=True)
    seconds = time.perf_counter() - t0
    stats = ScoreStats(str(out), str(errors_file), n_rows, n_scored, n_errors, n_chunks, resumed,
                       round(seconds, 3), round(n_rows / seconds, 1) if seconds else 0.0, n_unknown)
    if n_rows and not n_scored:
        raise AllRowsFailed(f"none of the {n_rows:,} rows could be scored; the reasons are in {errors_file}")
    return stats


def _score_chunks(todo, parts: Path, settings, fields: dict, o: ScoreOptions, bar, audit_info: dict | None) -> None:
    """Score the chunks still to do: on Ray, in this process, or in a bounded process pool."""
    if o.ray is not None:
        from quco.batch.ray_score import score_on_ray

        score_on_ray(todo, parts, settings, fields, o.workers, bar, o.ray or None, audit_info)
    elif o.workers == 1:
        init_worker(settings, fields, None, audit_info)
        raise_init_error()
        for index, chunk in todo:
            score_chunk(index, chunk, str(parts))
            bar.update(len(chunk))
    else:
        with ProcessPoolExecutor(o.workers, initializer=init_worker,
                                 initargs=(settings, fields, os.getpid(), audit_info)) as pool:
            pending: dict = {}
            for index, chunk in todo:
                pending[pool.submit(score_chunk, index, chunk, str(parts))] = len(chunk)
                while len(pending) >= 2 * o.workers:  # bounded: memory stays flat on any input size
                    _drain(pending, bar, FIRST_COMPLETED)
            while pending:
                _drain(pending, bar, FIRST_COMPLETED)


def _audit_run(parts: Path) -> str:
    """This run's id in its audit request ids (``score-<run>-<row>``): new for a new run, the same
    for a resumed one (kept in its parts directory), so no two runs' decisions share an id."""
    from quco.audit.log import new_request_id

    path = parts / "audit-run"
    if not path.exists():
        with temporary_beside(path) as tmp:
            tmp.write_text(new_request_id()[:12])
            os.replace(tmp, path)
    return path.read_text().strip()


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
    """What a resumed run must share with the interrupted one: the input's content (a digest, not
    its size and time), which index it counts against (its fingerprint, not its path), the fields,
    the chunking and the settings."""
    import hashlib

    with open(src, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {
        "parts_format": PARTS_FORMAT,
        "input": str(src.resolve()),
        "input_sha256": digest,
        "index_identity": settings.index_identity(),
        "fields": fields,
        "chunk_size": chunk_size,
        "settings": settings.record() if isinstance(settings, HeldDetector) else asdict(settings),
    }


# What changed between an interrupted run and this one, in the order a user should hear it.
_CHANGES = (("parts_format", "its parts were written by another version of quco"),
            ("input_sha256", "the input's content changed since then"),
            ("index_identity", "the index is not the one it counted against (rebuilt or replaced?)"),
            ("input", "the input is another file"),
            ("fields", "the field options differ"),
            ("chunk_size", "the chunk size differs"),
            ("settings", "the settings differ"),
            ("audit", "one run records an audit log and the other does not"))


def _what_changed(previous: dict | None, manifest: dict) -> str | None:
    if not isinstance(previous, dict):
        return "its manifest is unreadable"
    for key, why in _CHANGES:
        if previous.get(key) != manifest.get(key):
            return why
    return None if previous == manifest else "its arguments differ"


def _prepare_parts(parts: Path, manifest: dict, restart: bool) -> set[int]:
    mpath = parts / "manifest.json"
    if parts.exists() and restart:
        shutil.rmtree(parts)
    if parts.exists() and not mpath.exists() and not any(parts.glob("part-*.jsonl")):
        shutil.rmtree(parts)  # killed before its manifest was written: nothing was scored, start afresh
    if parts.exists():
        try:
            previous = json.loads(mpath.read_text())
        except (OSError, ValueError):
            previous = None
        changed = _what_changed(previous, json.loads(json.dumps(manifest)))
        if changed is not None:
            raise UsageError(f"{parts}: holds an interrupted run that cannot be resumed: {changed}; "
                             "pass --restart to start over")
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

