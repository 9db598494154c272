"""The audit trail and monitoring: every decision recorded (privately by default), feedback by
request id, a kill -9 under load loses nothing acknowledged more than a second before, /metrics
that add up across two workers, and a monitoring report that renders in headless Chromium."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, write_jsonl
from test_serve import Server

from quco.audit.log import AuditLog, UnknownRequest
from quco.decide.detector import Detector
from quco.extract import Extractor
from quco.index.duckdb.build import build_index

TEXTS = ["Hamlet is a tragedy written by William Shakespeare.", "Copenhagen is the capital of Denmark.",
         "Charles Dickens wrote Oliver Twist."]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit")
    build_index([write_jsonl(d / "c.jsonl", TEXTS)], d / "i.duckdb", progress=False)
    return d / "i.duckdb"


def _rows(path, query="SELECT request_id, question, question_hash, decision, flagged_head FROM decisions"):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_the_library_records_every_decision_privately_and_takes_feedback(index, tmp_path):
    from quco.index.duckdb.reader import DuckDBIndex

    path = tmp_path / "audit.duckdb"
    with AuditLog(path, retention_rows=3) as log:
        det = Detector(DuckDBIndex(index), Extractor("rules"), audit=log)
        reports = det.check_many([("Who wrote Hamlet?", "Hamlet was written by Charles Dickens."), "Where is Zanzibar?"])
        assert all(r.request_id for r in reports) and reports[0].request_id != reports[1].request_id
        log.flush()
        assert log.feedback(reports[0].request_id, "fabricated", "Shakespeare wrote it") is True
        assert log.feedback(reports[0].request_id, "correct") is False  # a second label replaces the first
        with pytest.raises(UnknownRequest):
            log.feedback("no-such-request", "correct")
        det.check_many(["Who wrote Oliver Twist?", "What is Copenhagen?"])  # 4 decisions, retention keeps 3
        log.flush()
        assert log.export_parquet(tmp_path / "audit.parquet") == 3
    rows = _rows(path)
    assert len(rows) == 3 and all(q is None and len(h) == 32 for _, q, h, _, _ in rows)  # no text, a keyed hash
    assert (path.with_name("audit.duckdb.key").stat().st_mode & 0o777) == 0o600
    assert _rows(path, "SELECT label FROM feedback") == [("correct",)]
    with AuditLog(tmp_path / "text.duckdb", store_text=True) as log:
        Detector(DuckDBIndex(index), Extractor("rules"), audit=log).check_question("Who wrote Hamlet?")
    assert _rows(tmp_path / "text.duckdb")[0][1] == "Who wrote Hamlet?"


def test_score_audits_each_row_once_and_feedback_imports(index, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"question": f"Who wrote Hamlet, part {i}?", "id": i}) + "\n" for i in range(30)))
    env = {k: v for k, v in os.environ.items() if k != "QUCO_CONFIG"}
    base = [sys.executable, "-m", "quco.cli.main"]
    audit = tmp_path / "audit.duckdb"
    for _ in range(2):  # the second run is a new run over the same output (--force): 60 rows in all
        out = subprocess.run(base + ["score", str(rows), "-o", str(tmp_path / "s.jsonl"), "--index", str(index),
                                     "--model", "rules", "--id-field", "id", "--audit", str(audit), "--chunk-size", "7",
                                     "--workers", "2", "--force"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    # every decision its own id, however often the same rows are scored; the row's id kept beside it
    ids = [r[0] for r in _rows(audit)]
    assert len(ids) == 60 and len(set(ids)) == 60
    clients = sorted(r[0] for r in _rows(audit, "SELECT client_request_id FROM decisions"))
    assert clients == sorted([str(i) for i in range(30)] * 2)
    scored = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert {r["request_id"] for r in scored} <= set(ids) and len({r["request_id"] for r in scored}) == 30
    first, second = scored[0]["request_id"], scored[1]["request_id"]  # the last run's, as a labeller sees them
    labels = tmp_path / "labels.csv"
    labels.write_text(f"request_id,label,note\n{first},fabricated,wrong\n{second},correct,\nnope,correct,\n")
    out = subprocess.run(base + ["feedback", "import", str(labels), "--audit", str(audit)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "2 added" in out.stdout and "1 with a request id" in out.stdout, out.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(f"request_id,label\n{first},maybe\n")
    out = subprocess.run(base + ["feedback", "import", str(bad), "--audit", str(audit)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "label = correct or fabricated" in out.stderr and "Traceback" not in out.stderr


def _check(srv, question, rid=None):
    headers = {"X-Request-ID": rid} if rid else None
    return srv.request("POST", "/v1/check", {"question": question}, headers=headers)


def test_serve_audits_takes_feedback_and_its_metrics_add_up_across_two_workers(index, tmp_path):
    audit = tmp_path / "audit.duckdb"
    srv = Server(index, workers=2, args=["--audit", audit])
    try:
        ids = []
        for i in range(21):
            status, body = _check(srv, f"Who wrote Hamlet {i}?")
            assert status == 200
            ids.append(body["request_id"])
        # A caller's id is kept beside quco's, never instead of it: reusing it cannot merge decisions.
        status, body = _check(srv, "Who wrote Hamlet?", rid="client-chosen-id-42")
        status2, body2 = _check(srv, "Where is Zanzibar?", rid="client-chosen-id-42")
        assert body["client_request_id"] == body2["client_request_id"] == "client-chosen-id-42"
        assert body["request_id"] != body2["request_id"] and "client-chosen-id-42" not in (body["request_id"], body2["request_id"])
        status, _ = srv.request("POST", "/v1/feedback", {"request_id": "client-chosen-id-42", "label": "fabricated"})
        assert status == 404  # feedback names quco's id: a caller's id labels nothing
        seen = []
        for _ in range(6):
            status, text = srv.request("GET", "/metrics")
            m = re.search(r'quco_requests_total\{path="/v1/check",status="200"\} ([0-9.]+)', text)
            seen.append(float(m.group(1)))
        assert seen == [23.0] * 6  # every scrape sees both workers' requests: never 11, 10, 11...
        assert "quco_decisions_total" in text and "quco_risk_bucket" in text
        status, body = srv.request("POST", "/v1/feedback", {"request_id": ids[3], "label": "fabricated"})
        assert status == 200 and body["updated"] is False
        status, body = srv.request("POST", "/v1/feedback", {"request_id": ids[3], "label": "correct", "note": "ok"})
        assert status == 200 and body["updated"] is True
        status, body = srv.request("POST", "/v1/feedback", {"request_id": "never-issued-id", "label": "correct"})
        assert status == 404 and "never-issued-id" in body["error"]
        status, _ = srv.request("POST", "/v1/feedback", {"request_id": ids[3], "label": "maybe"})
        assert status == 422
    finally:
        srv.stop()
    assert len(_rows(audit)) == 23
    assert _rows(audit, "SELECT count(*) FROM decisions WHERE client_request_id = 'client-chosen-id-42'") == [(2,)]
    assert _rows(audit, "SELECT label, note FROM feedback") == [("correct", "ok")]


def test_kill_9_under_load_keeps_every_decision_acknowledged_a_second_before(index, tmp_path):
    audit = tmp_path / "audit.duckdb"
    srv = Server(index, workers=2, args=["--audit", audit])
    acked, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, body = _check(srv, "Who wrote Hamlet?")
            except Exception:
                continue
            if status == 200:
                acked.append((time.time(), body["request_id"]))

    for _ in range(8):  # both workers warm (each loads its pipeline on its first request)
        _check(srv, "Who wrote Hamlet?")

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(4)
    killed_at = time.time()
    os.killpg(srv.proc.pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(10)
    srv.proc.wait()
    due = {rid for at, rid in acked if at < killed_at - 1.0}
    assert len(due) > 50
    stored = {r[0] for r in _rows(audit)}  # opens cleanly: the write-ahead log is replayed
    assert due <= stored, f"{len(due - stored)} acknowledged decisions missing"
    with AuditLog(audit) as log:  # and the log takes new rows after the crash
        log.feedback(next(iter(due)), "correct")


def test_the_monitoring_report_renders_in_headless_chromium(index, tmp_path):
    from quco.index.duckdb.reader import DuckDBIndex

    audit = tmp_path / "audit.duckdb"
    with AuditLog(audit) as log:
        det = Detector(DuckDBIndex(index), Extractor("rules"), audit=log)
        reports = det.check_many([f"Who wrote {w}?" for w in ("Hamlet", "Zanzibar Tales", "Oliver Twist")] * 20)
        log.flush()
        for i, r in enumerate(reports):
            log.feedback(r.request_id, "fabricated" if r.retrieve and i % 3 else "correct")
    env = {k: v for k, v in os.environ.items() if k != "QUCO_CONFIG"}
    out = subprocess.run([sys.executable, "-m", "quco.cli.main", "monitor", str(audit), "--out", str(tmp_path / "r.html"),
                          "--calibrate", str(tmp_path / "calib.json")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(subprocess.run([sys.executable, "-m", "quco.cli.main", "monitor", str(audit), "--json"], cwd=ROOT,
                                     env=env, capture_output=True, text=True).stdout)
    assert data["decisions"] == 60 and data["feedback"]["labelled"] == 60
    assert data["top_rare_entities"][0]["entity"] == "Zanzibar Tales"
    assert json.loads((tmp_path / "calib.json").read_text())["method"] == "isotonic"
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "<script" not in page and "http" not in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1200,1600"]
    shot = tmp_path / "r.png"
    subprocess.run(flags + [f"--screenshot={shot}", (tmp_path / "r.html").as_uri()], capture_output=True, timeout=120)
    dom = subprocess.run(flags + ["--dump-dom", (tmp_path / "r.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert shot.stat().st_size > 50_000 and "Zanzibar Tales" in dom and dom.count("<img") == 4


def test_the_monitor_says_what_it_lacks_instead_of_a_figure_from_a_handful(index, tmp_path):
    """Below its minimum samples the monitor gives no drift, precision, recall or ECE, and says how
    many it has and needs; above them it gives the figures."""
    from quco.audit.monitor import MINIMUM, feedback_line, monitor
    from quco.index.duckdb.reader import DuckDBIndex

    audit = tmp_path / "audit.duckdb"
    with AuditLog(audit) as log:
        det = Detector(DuckDBIndex(index), Extractor("rules"), audit=log)
        few = det.check_many(["Who wrote Hamlet?", "Who wrote Zanzibar Tales?"] * 3)
        log.flush()
        log.feedback(few[1].request_id, "fabricated")  # one label
    report = monitor(audit)
    assert report["risk_psi_second_half_vs_first"] is None and "not enough rows: 3 per half" in report["drift_note"]
    fb = report["feedback"]
    assert fb["trigger_precision"] is None and fb["ece"] is None and fb["calibration_bins"] == []
    line = feedback_line(fb)
    assert "None" not in line and "not enough labels: 1 labelled retrieve decisions, precision needs 20" in line
    assert report["minimum_sample_sizes"] == MINIMUM

    with AuditLog(audit) as log:
        det = Detector(DuckDBIndex(index), Extractor("rules"), audit=log)
        many = det.check_many([f"Who wrote {w}?" for w in ("Hamlet", "Zanzibar Tales")] * 120)
        log.flush()
        for i, r in enumerate(many):
            log.feedback(r.request_id, "fabricated" if r.retrieve and i % 4 else "correct")
    report = monitor(audit)
    assert report["risk_psi_second_half_vs_first"] is not None and report["drift_note"] is None
    assert None not in (report["feedback"]["trigger_precision"], report["feedback"]["trigger_recall"], report["feedback"]["ece"])


def test_opentelemetry_spans_per_check_when_enabled(index):
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is optional")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from quco.index.duckdb.reader import DuckDBIndex

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    Detector(DuckDBIndex(index), Extractor("rules")).check_question("Who wrote Hamlet?")  # off by default
    assert exporter.get_finished_spans() == ()
    Detector(DuckDBIndex(index), Extractor("rules"), tracing=True).check_many(["Who wrote Hamlet?", "Where is Zanzibar?"])
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"quco.check", "quco.extract", "quco.count", "quco.decide"}
    root = spans["quco.check"]
    assert root.attributes["quco.batch_size"] == 2 and root.attributes["quco.rag.retrieve"] == 1
    assert all(s.parent.span_id == root.context.span_id for n, s in spans.items() if n != "quco.check")
    assert root.start_time <= spans["quco.extract"].start_time <= spans["quco.count"].end_time <= root.end_time


def test_an_audit_log_of_the_first_schema_gains_the_client_request_id_column(index, tmp_path):
    import duckdb

    from quco.index.duckdb.reader import DuckDBIndex

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    old_columns = ("request_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, source VARCHAR, decision VARCHAR, "
                   "retrieve BOOLEAN, risk DOUBLE, p_fabrication DOUBLE, stage VARCHAR, flagged_sentence VARCHAR, "
                   "flagged_head VARCHAR, flagged_tail VARCHAR, entities VARCHAR, pairs VARCHAR, approx BOOLEAN, "
                   "unknown BOOLEAN, error VARCHAR, backend VARCHAR, index_name VARCHAR, corpus_tokens BIGINT, "
                   "extractor VARCHAR, quco_version VARCHAR, latency_ms DOUBLE, question_hash VARCHAR, "
                   "draft_hash VARCHAR, question VARCHAR, draft VARCHAR")
    con.execute(f"CREATE TABLE decisions ({old_columns})")
    con.execute("INSERT INTO decisions (request_id, ts) VALUES ('old-one', now())")
    con.close()
    with AuditLog(path) as log:
        det = Detector(DuckDBIndex(index), Extractor("rules"), audit=log)
        det.check_question("Who wrote Hamlet?")
        log.record_report(det.check_question("Where is Zanzibar?"), source="test", latency_ms=None,
                          client_request_id="caller-7")
        log.flush(timeout=10)
    rows = _rows(path, "SELECT request_id, client_request_id FROM decisions ORDER BY ts")
    assert rows[0] == ("old-one", None) and len(rows) == 4 and rows[-1][1] == "caller-7", rows


def _holder_of(path) -> int | None:
    """The pid of the process holding ``path`` open (the audit writer)."""
    target = os.path.realpath(path)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if any(os.path.realpath(f"/proc/{d}/fd/{fd}") == target for fd in os.listdir(f"/proc/{d}/fd")):
                return int(d)
        except OSError:
            continue
    return None


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_killed_audit_writer_is_restarted_and_no_answer_goes_unaudited_or_uncounted(index, tmp_path):
    audit = tmp_path / "audit.duckdb"
    srv = Server(index, workers=2, args=["--audit", audit])
    try:
        answered, refused, feedback_codes = [], 0, set()
        for i in range(20):
            status, body = _check(srv, f"Who wrote Hamlet {i}?")
            assert status == 200
            answered.append(body["request_id"])
        writer = _holder_of(audit)
        assert writer is not None
        os.kill(writer, signal.SIGKILL)
        deadline = time.time() + 30
        after_restart = 0
        while time.time() < deadline and after_restart < 20:
            status, body = _check(srv, f"Where is Zanzibar {len(answered)}?")
            assert status in (200, 503), body  # an answer, or a refusal while the writer is down: nothing else
            if status == 503:
                refused += 1
                assert "audit" in body["error"]
            else:
                answered.append(body["request_id"])
                current = _holder_of(audit)
                after_restart += current is not None and current != writer
            status, _ = srv.request("POST", "/v1/feedback", {"request_id": answered[0], "label": "correct"})
            feedback_codes.add(status)
            time.sleep(0.05)
        assert after_restart >= 20, "the writer was not restarted"
        assert feedback_codes <= {200, 503}  # never a 500
        _, text = srv.request("GET", "/metrics")
        assert _metric(text, "quco_audit_writer_restarts") >= 1 and _metric(text, "quco_audit_writer_up") == 1
        lost = _metric(text, "quco_audit_rows_lost_total")
        status, health = srv.request("GET", "/healthz")
        assert status == 200 and health["audit"]["writer"] == "up" and health["audit"]["writer_restarts"] >= 1
    finally:
        srv.stop()
    stored = {r[0] for r in _rows(audit)}
    missing = [i for i in answered if i not in stored]
    assert len(missing) <= lost and lost == 0, (len(missing), lost, refused)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_server_commits_its_audit_and_cleans_up_before_it_exits(index, tmp_path, sig):
    import duckdb

    audit = tmp_path / "audit.duckdb"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    srv = Server(index, workers=2, args=["--audit", audit], extra_env={"TMPDIR": str(tmp)})
    ids = [_check(srv, f"Who wrote Hamlet {i}?")[1]["request_id"] for i in range(5)]
    os.killpg(srv.proc.pid, sig)  # as Ctrl-C or a service manager would: the whole group
    assert srv.proc.wait(30) == 0
    assert "Traceback" not in srv.proc.stderr.read().decode()
    con = duckdb.connect(str(audit), read_only=True)  # the writer has exited: no lock is left
    try:
        stored = {r[0] for r in con.execute("SELECT request_id FROM decisions").fetchall()}
    finally:
        con.close()
    assert set(ids) <= stored
    assert not list(tmp.glob("quco-metrics-*"))  # the metrics directory went with it


def test_serve_gives_each_claims_sources_on_request_and_audits_their_ids(index, tmp_path):
    audit = tmp_path / "audit.duckdb"
    srv = Server(index, args=["--audit", audit, "--model", "rules"])
    draft = "Hamlet is a tragedy written by William Shakespeare."
    try:
        status, plain = srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?", "draft": draft})
        status2, sourced = srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?", "draft": draft,
                                                              "sources": True})
    finally:
        srv.stop()
    assert status == status2 == 200
    assert all(p["sources"] == [] for p in plain["pairs"])
    shown = [p for p in sourced["pairs"] if p["sources"]]
    assert shown and all(s["doc_id"] == "0" and "William Shakespeare" in s["text"] for p in shown for s in p["sources"])
    rows = {rid: json.loads(pairs) for rid, pairs in _rows(audit, "SELECT request_id, pairs FROM decisions")}
    assert all("sources" not in p for p in rows[plain["request_id"]])
    assert [p["sources"] for p in rows[sourced["request_id"]] if "sources" in p] == [["0"]] * len(shown)
