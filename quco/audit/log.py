"""The audit trail: every decision quco makes, with its evidence, in a DuckDB file.

One row per decision (``decisions``) and one per correction (``feedback``, keyed by the
decision's request id; a second label for the same id replaces the first). Rows are appended by a
writer thread in **group commits** (every ``flush_interval`` seconds or ``batch_rows`` rows), so
a caller never waits for the disk and a kill -9 loses at most the rows of the last interval;
DuckDB's write-ahead log makes every committed group survive and the file reopen cleanly.

**Privacy by default.** Question, draft and flagged-sentence text are stored only with
``store_text=True`` (``--audit-text``); otherwise a keyed hash (HMAC-SHA256 with a key kept
beside the database, mode 600) lets equal questions be grouped without being readable. Entity
names and the flagged pair — the corpus vocabulary the decision rests on — are stored, since the
monitoring report is about them. ``retention_days`` / ``retention_rows`` bound what is kept; the
oldest rows go at each group commit.

DuckDB allows one writing process per file: ``quco serve`` with several workers runs one audit
writer process and the workers send it their rows (``quco.audit.writer``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from quco.errors import ConfigError, QucoError
from quco.files.building import temporary_beside

SCHEMA_VERSION = 2  # 2: client_request_id, the id a caller sent, kept beside the server's
_DECISIONS = """
CREATE TABLE IF NOT EXISTS decisions (
  request_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, source VARCHAR, decision VARCHAR, retrieve BOOLEAN,
  risk DOUBLE, p_fabrication DOUBLE, stage VARCHAR, flagged_sentence VARCHAR, flagged_head VARCHAR,
  flagged_tail VARCHAR, entities VARCHAR, pairs VARCHAR, approx BOOLEAN, unknown BOOLEAN, error VARCHAR,
  backend VARCHAR, index_name VARCHAR, corpus_tokens BIGINT, extractor VARCHAR, quco_version VARCHAR,
  latency_ms DOUBLE, question_hash VARCHAR, draft_hash VARCHAR, question VARCHAR, draft VARCHAR,
  client_request_id VARCHAR)
"""
_FEEDBACK = """
CREATE TABLE IF NOT EXISTS feedback (
  request_id VARCHAR PRIMARY KEY, label VARCHAR NOT NULL, note VARCHAR, ts TIMESTAMPTZ NOT NULL, source VARCHAR)
"""
COLUMNS = ("request_id", "ts", "source", "decision", "retrieve", "risk", "p_fabrication", "stage", "flagged_sentence",
           "flagged_head", "flagged_tail", "entities", "pairs", "approx", "unknown", "error", "backend", "index_name",
           "corpus_tokens", "extractor", "quco_version", "latency_ms", "question_hash", "draft_hash", "question", "draft",
           "client_request_id")
# One statement per group commit, column by column (row-by-row executemany is ~50x slower and let
# a busy server's rows queue up for seconds).
_INSERT = ("INSERT INTO decisions SELECT UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[])::TIMESTAMPTZ, "
           "UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::BOOLEAN[]), UNNEST(?::DOUBLE[]), UNNEST(?::DOUBLE[]), "
           "UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), "
           "UNNEST(?::VARCHAR[]), UNNEST(?::BOOLEAN[]), UNNEST(?::BOOLEAN[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), "
           "UNNEST(?::VARCHAR[]), UNNEST(?::BIGINT[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::DOUBLE[]), "
           "UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[])")
LABELS = ("correct", "fabricated")


class UnknownRequest(QucoError):
    """Feedback for a request id the audit log has no decision for."""

    exit_code = 2


def new_request_id() -> str:
    return secrets.token_hex(12)


def open_key(path: Path) -> bytes:
    """The hashing key beside the database (created once, readable by its owner only)."""
    key_path = path.with_name(path.name + ".key")
    try:
        return bytes.fromhex(key_path.read_text().strip())
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
        return key
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{key_path}: unreadable audit key ({exc})") from None


def decision_row(report, *, request_id: str, source: str, latency_ms: float | None, key: bytes, store_text: bool,
                 question: str | None = None, draft: str | None = None, p_fabrication: float | None = None,
                 client_request_id: str | None = None) -> dict:
    """The audit row of one ``RiskReport`` (plain values only: it may cross a process boundary).
    ``request_id`` is quco's own, unique per decision; ``client_request_id`` what the caller sent."""
    from quco import __version__

    question = question if question is not None else report.question
    flagged = report.flagged
    head = tail = sentence = None
    if flagged is not None:
        sentence = flagged.text
        if flagged.triplet is not None:
            head, tail = flagged.triplet.head, flagged.triplet.tail
        else:
            head = flagged.lone_entity
    errors = [e.error for e in report.entities if e.error] + [p.error for p in report.pairs if p.error]
    return {
        "request_id": request_id, "ts": datetime.now(UTC).isoformat(), "source": source,
        "decision": report.decision, "retrieve": bool(report.retrieve), "risk": float(report.risk),
        "p_fabrication": p_fabrication if p_fabrication is not None else getattr(report, "p_fabrication", None),
        "stage": report.stage,
        "flagged_sentence": sentence if store_text else None, "flagged_head": head, "flagged_tail": tail,
        "entities": json.dumps([{"text": e.text, "count": e.count, "approx": e.approx, "risk": e.risk}
                                for e in report.entities], ensure_ascii=False),
        "pairs": json.dumps([_pair_row(p) for p in report.pairs], ensure_ascii=False),
        "approx": bool(report.approx), "unknown": bool(report.unknown), "error": errors[0] if errors else None,
        "backend": report.backend, "index_name": report.index, "corpus_tokens": report.corpus_tokens,
        "extractor": report.extractor, "quco_version": __version__, "latency_ms": latency_ms,
        "question_hash": _hash(key, question), "draft_hash": _hash(key, draft) if draft else None,
        "question": question if store_text else None, "draft": draft if store_text and draft else None,
        "client_request_id": client_request_id,
    }


def _pair_row(p) -> dict:
    """A checked pair as the audit keeps it; with the ids of the documents behind it when the
    report carries its provenance (``quco.decide.provenance``), never their text."""
    row = {"head": p.head, "tail": p.tail, "count": p.cooccur, "approx": p.approx, "fired": p.flagged}
    sources = getattr(p, "sources", ())
    if sources:
        row["sources"] = [s.doc_id if s.doc_id is not None else s.doc for s in sources]
    return row


def _hash(key: bytes, text: str | None) -> str | None:
    return None if text is None else hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


class RowBatcher:
    """Rows queued by callers, handed in batches (every ``every`` seconds or ``batch_rows`` rows)
    to ``deliver`` on one background thread, so a caller never waits for the disk or a socket.
    ``wait`` returns once every row queued so far has been delivered. A full queue drops rows and
    counts them (``dropped``) rather than stall the caller."""

    def __init__(self, deliver, *, every: float, batch_rows: int, name: str, maxsize: int = 100_000):
        self._deliver, self._every, self._batch_rows = deliver, every, batch_rows
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._pending = 0  # queued or being delivered
        self._done = threading.Condition()
        self._closed = threading.Event()
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def put(self, row: dict) -> None:
        with self._done:
            self._pending += 1
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self.dropped += 1
            self._settled(1)

    def _run(self) -> None:
        while not self._closed.is_set() or not self._queue.empty():
            batch: list[dict] = []
            deadline = time.monotonic() + self._every
            while len(batch) < self._batch_rows:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            if batch:
                try:
                    self._deliver(batch)
                finally:
                    self._settled(len(batch))

    def _settled(self, n: int) -> None:
        with self._done:
            self._pending -= n
            self._done.notify_all()

    def wait(self, timeout: float) -> bool:
        """Wait until every row put so far is delivered; False if ``timeout`` passed first."""
        with self._done:
            return self._done.wait_for(lambda: self._pending <= 0, timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued, then stop the thread."""
        self._closed.set()
        self._thread.join(timeout=timeout)


class DecisionRecorder:
    """``record_report``: a report as an audit row (keyed hashes, text only when ``store_text``),
    for the audit log itself and for ``quco serve``'s workers that send rows to its writer."""

    key: bytes
    store_text: bool

    def record(self, row: dict) -> None:
        raise NotImplementedError

    def record_report(self, report, **kw) -> str:
        request_id = kw.pop("request_id", None) or new_request_id()
        self.record(decision_row(report, request_id=request_id, key=self.key, store_text=self.store_text, **kw))
        return request_id


class AuditLog(DecisionRecorder):
    """Decisions and feedback in the DuckDB file ``path`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, *, store_text: bool = False, retention_days: float | None = None,
                 retention_rows: int | None = None, flush_interval: float = 0.2, batch_rows: int = 2000):
        from quco.files.duckdb_conn import connect

        if retention_days is not None and retention_days <= 0 or retention_rows is not None and retention_rows < 1:
            raise ConfigError("audit retention must be a positive number of days or rows")
        self.path = Path(path)
        self.store_text = store_text
        self.retention_days, self.retention_rows = retention_days, retention_rows
        self.flush_interval, self.batch_rows = flush_interval, batch_rows
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = connect(str(self.path))
            self._con.execute(_DECISIONS)
            # A log written by schema 1 gains the column (its old rows hold NULL there).
            self._con.execute("ALTER TABLE decisions ADD COLUMN IF NOT EXISTS client_request_id VARCHAR")
            self._con.execute(_FEEDBACK)
            self._con.execute("CREATE TABLE IF NOT EXISTS audit_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            self._con.execute("INSERT OR REPLACE INTO audit_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        except Exception as exc:  # duckdb raises its own error types: one line for the user
            raise ConfigError(f"{self.path}: cannot open the audit log ({type(exc).__name__}: {exc})") from None
        self.key = open_key(self.path)
        self._lock = threading.Lock()  # the connection is used by the writer and by lookups
        self._closed = False
        self._rows = RowBatcher(self._write, every=flush_interval, batch_rows=batch_rows, name="quco-audit-writer")

    @property
    def dropped(self) -> int:
        return self._rows.dropped

    # -- writing --------------------------------------------------------------------------------
    def record(self, row: dict) -> None:
        """Queue one decision row (from ``decision_row``); never blocks the caller for the disk."""
        self._rows.put(row)

    def _write(self, rows: list[dict]) -> None:
        columns = [[r.get(c) for r in rows] for c in COLUMNS]
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            self._con.execute(_INSERT, columns)
            self._retain()
            self._con.execute("COMMIT")

    def _retain(self) -> None:
        if self.retention_days is not None:
            self._con.execute("DELETE FROM decisions WHERE ts < now() - to_seconds(?)", [self.retention_days * 86400])
        if self.retention_rows is not None:
            self._con.execute("DELETE FROM decisions WHERE ts < (SELECT min(ts) FROM (SELECT ts FROM decisions "
                              "ORDER BY ts DESC LIMIT ?))", [self.retention_rows])

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued row is committed."""
        self._rows.wait(timeout)

    # -- feedback -------------------------------------------------------------------------------
    def has(self, request_id: str) -> bool:
        self.flush(timeout=2.0)
        with self._lock:
            return bool(self._con.execute("SELECT 1 FROM decisions WHERE request_id = ? LIMIT 1", [request_id]).fetchall())

    def feedback(self, request_id: str, label: str, note: str | None = None, source: str = "api") -> bool:
        """Store a label for a decision; returns False if it replaced an earlier label."""
        if label not in LABELS:
            raise ConfigError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
        if not self.has(request_id):
            raise UnknownRequest(f"no decision with request id {request_id!r} in the audit log")
        with self._lock:
            existed = self._con.execute("SELECT 1 FROM feedback WHERE request_id = ?", [request_id]).fetchall() or None
            self._con.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, now(), ?)", [request_id, label, note, source])
        return existed is None

    def import_feedback(self, items: Iterable[dict]) -> dict:
        added = updated = unknown = 0
        for item in items:
            try:
                new = self.feedback(str(item["request_id"]), str(item["label"]), item.get("note"), source="import")
            except UnknownRequest:
                unknown += 1
                continue
            added, updated = (added + 1, updated) if new else (added, updated + 1)
        return {"added": added, "updated": updated, "unknown_request_ids": unknown}

    def export_parquet(self, out: str | os.PathLike) -> int:
        self.flush()
        out = Path(out)
        with temporary_beside(out) as tmp, self._lock:
            n = self._con.execute("SELECT count(*) FROM decisions").fetchall()[0][0]
            self._con.sql("SELECT d.*, f.label AS feedback_label, f.note AS feedback_note FROM decisions d "
                          "LEFT JOIN feedback f USING (request_id) ORDER BY ts").write_parquet(str(tmp))
            os.replace(tmp, out)
        return int(n)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._rows.close()
        with self._lock:
            self._con.execute("CHECKPOINT")
            self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
