"""`quco score` and `quco eval`: formats, malformed rows, resuming after kill -9, metrics output."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, write_jsonl

from quco.batch.api import evaluate, score
from quco.batch.evaluation import question_type
from quco.cli.main import main as cli
from quco.config import load_settings
from quco.errors import OutputError, UsageError

QUESTIONS = ["Who wrote Hamlet?", "Who founded Arthur's Magazine?", "Where is Copenhagen?", "Who wrote Oliver Twist?"]


@pytest.fixture(scope="module")
def env(tiny_index):
    # a 5-token window: in a 40-token corpus, 1000 tokens would put every pair "near" by chance
    return tiny_index.parent, load_settings(env={}, index=str(tiny_index), model="rules", window=5)


def rows_of(path):
    con = duckdb.connect()
    suffix = path.suffix
    rel = {".parquet": con.read_parquet, ".csv": con.read_csv}.get(suffix)
    rel = rel(str(path)) if rel else con.read_json(str(path), format="newline_delimited")
    return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


def test_formats_ids_and_malformed_rows(env):
    d, settings = env
    src = d / "in.jsonl"
    lines = [json.dumps({"qid": f"q{i}", "question": q, "answer": "William Shakespeare", "label": i % 2 == 1})
             for i, q in enumerate(QUESTIONS)]
    lines[2:2] = ["{not json", json.dumps({"qid": "bad", "question": ""}), json.dumps([1, 2])]
    src.write_text("\n".join(lines) + "\n")
    for ext in ("jsonl", "csv", "parquet"):
        out = d / f"out.{ext}"
        stats = score(src, out, question_field="question", answer_field="answer", id_field="qid", settings=settings,
                      chunk_size=2)
        assert (stats.rows, stats.scored, stats.errors) == (7, 4, 3)
        rows = rows_of(out)
        assert [str(r["id"]) for r in rows] == ["q0", "q1", "q2", "q3"]
        assert [r["row"] for r in rows] == [1, 2, 6, 7]
        by_id = {str(r["id"]): r for r in rows}
        assert str(by_id["q1"]["retrieve"]).lower() == "true"  # Arthur's Magazine is absent
        assert str(by_id["q0"]["retrieve"]).lower() == "false"
        assert 0 <= float(by_id["q0"]["answer_risk"]) <= 1 and str(by_id["q3"]["label"]).lower() == "true"
        assert json.loads(by_id["q0"]["answer_claims"])[0]["phrase"] == "William Shakespeare"
        assert not (d / f"out.{ext}.quco-parts").exists()
    errors = [json.loads(l) for l in open(d / "out.parquet.errors.jsonl")]
    assert [(e["row"], e["reason"].split(" (")[0]) for e in errors] == [
        (3, "invalid JSON"), (4, "field 'question' must be non-empty text"), (5, "expected a JSON object, got list")]


def test_csv_and_parquet_inputs(env, tmp_path):
    _, settings = env
    with open(tmp_path / "in.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "kind"])
        w.writerows([[q, "x"] for q in QUESTIONS])
        w.writerow(["too", "many", "fields"])
    stats = score(tmp_path / "in.csv", tmp_path / "o.jsonl", settings=settings)
    assert (stats.scored, stats.errors) == (4, 1)
    assert rows_of(tmp_path / "o.jsonl")[0]["kind"] == "x"
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?) AS question, 7 AS n", [QUESTIONS])
    con.table("t").write_parquet(str(tmp_path / "in.parquet"))
    stats = score(tmp_path / "in.parquet", tmp_path / "o.csv", settings=settings)
    assert (stats.scored, stats.errors) == (4, 0)
    assert [int(r["n"]) for r in rows_of(tmp_path / "o.csv")] == [7] * 4


def test_bad_arguments_are_usage_errors(env, tmp_path, capsys):
    d, settings = env
    src = write_jsonl(tmp_path / "in.jsonl", [{"question": q} for q in QUESTIONS])
    with pytest.raises(UsageError):
        score(src, tmp_path / "o.txt", settings=settings)
    with pytest.raises(OutputError, match="is the input"):
        score(src, src, settings=settings)
    assert cli(["score", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--index", str(d / "i.duckdb")]) == 3
    assert "not found" in capsys.readouterr().err


def _big_input(path, n):
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": i, "question": QUESTIONS[i % 4] + f" ({i})"}) + "\n")
    return path


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if text.encode() in fh.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_kill_9_then_resume_loses_and_duplicates_nothing(env, tmp_path):
    d, settings = env
    src = _big_input(tmp_path / "big.jsonl", 30_000)
    out = tmp_path / "o.jsonl"
    parts = tmp_path / "o.jsonl.quco-parts"
    cmd = [sys.executable, "-m", "quco.cli.main", "score", str(src), "-o", str(out), "--id-field", "id",
           "--index", str(d / "i.duckdb"), "--model", "rules", "--window", "5", "--chunk-size", "500", "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 4:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    time.sleep(0.2)
    done_before = len(list(parts.glob("part-*.jsonl")))
    deadline = time.time() + 10  # the orphaned workers notice and exit
    while time.time() < deadline and _processes_mentioning(str(src)):
        time.sleep(0.2)
    assert not _processes_mentioning(str(src))
    assert 4 <= done_before < 60 and not out.exists()
    # other arguments must not silently mix with the interrupted run
    assert subprocess.run(cmd[:-4] + ["--chunk-size", "100"], cwd=ROOT, capture_output=True).returncode == 2
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "chunks resumed" in res.stdout
    ids = [json.loads(l)["id"] for l in open(out)]
    assert ids == [str(i) for i in range(30_000)]  # ids are carried as text


def test_eval_metrics_png_and_html(env, tmp_path):
    _, settings = env
    rows = []
    for i, q in enumerate(QUESTIONS * 5):
        rows.append({"question": q, "answer": "William Shakespeare" if i % 2 else "Charles Dickens", "label": i % 2 == 0})
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    score(src, tmp_path / "s.parquet", answer_field="answer", settings=settings)
    result = evaluate(tmp_path / "s.parquet", label_field="label", out_prefix=tmp_path / "report")
    assert result.rows == 20 and result.positives == 10 and result.score_field == "answer_risk"
    assert 0 <= result.auroc <= 1 and 0 < result.auprc <= 1
    # 95% bootstrap intervals around the figures, for the score and each in-run baseline
    assert result.auroc_ci[0] <= result.auroc <= result.auroc_ci[1] and result.auprc_ci[0] <= result.auprc <= result.auprc_ci[1]
    assert set(result.baseline_ci) == set(result.baselines)
    assert set(result.by_question_type) == {"who", "where"}
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "AUROC" in html
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert question_type("Which magazine was started first, A or B?") == "comparison"
    assert question_type("Is Paris in France?") == "yes/no"
    with pytest.raises(UsageError, match="no column"):
        evaluate(tmp_path / "s.parquet", label_field="nope")


def _as_from_a_terminal() -> None:
    """A run started from a terminal gets Ctrl-C; one started by a background job (``cmd &``, which
    the suite may be) would inherit it ignored, and never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_and_resumes(env, tmp_path):
    d, _ = env
    src = _big_input(tmp_path / "big.jsonl", 30_000)
    out = tmp_path / "o.jsonl"
    parts = tmp_path / "o.jsonl.quco-parts"
    cmd = [sys.executable, "-m", "quco.cli.main", "score", str(src), "-o", str(out), "--id-field", "id",
           "--index", str(d / "i.duckdb"), "--model", "rules", "--window", "5", "--chunk-size", "500", "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"interrupted" in err and not out.exists()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0 and "chunks resumed" in res.stdout
    assert [json.loads(l)["id"] for l in open(out)] == [str(i) for i in range(30_000)]


def test_a_mistyped_field_fails_fast(env, tmp_path):
    _, settings = env
    src = write_jsonl(tmp_path / "in.jsonl", [{"question": q} for q in QUESTIONS])
    with pytest.raises(UsageError, match="no field 'qestion'"):
        score(src, tmp_path / "o.jsonl", question_field="qestion", settings=settings)
    assert not (tmp_path / "o.jsonl.quco-parts").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_index_that_fails_to_open_in_the_workers_is_a_typed_error(env, tmp_path, workers):
    """The parent only checks the index's metadata; a failure opening it in a worker keeps its type."""
    import shutil

    from quco.errors import IndexOpenError

    d, settings = env
    broken = tmp_path / "broken.duckdb"
    shutil.copy(d / "i.duckdb", broken)
    con = duckdb.connect(str(broken))
    con.execute("DELETE FROM postings WHERE pos = 0")  # metadata intact, tables disagree
    con.close()
    settings.__class__(**{**settings.__dict__, "index": str(broken)}).check_backend()  # passes: metadata only
    src = write_jsonl(tmp_path / "in.jsonl", [{"question": q} for q in QUESTIONS])
    bad = settings.__class__(**{**settings.__dict__, "index": str(broken)})
    with pytest.raises(IndexOpenError, match="corrupt"):
        score(src, tmp_path / "o.jsonl", settings=bad, workers=workers)


def _interrupted_run(index: Path, tmp_path: Path) -> tuple[list, Path, Path]:
    """A `quco score` run stopped by Ctrl-C after a few chunks: (command, input, parts directory)."""
    src = _big_input(tmp_path / "big.jsonl", 30_000)
    out = tmp_path / "o.jsonl"
    parts = tmp_path / "o.jsonl.quco-parts"
    cmd = [sys.executable, "-m", "quco.cli.main", "score", str(src), "-o", str(out), "--id-field", "id",
           "--index", str(index), "--model", "rules", "--window", "5", "--chunk-size", "500", "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130 and parts.is_dir()
    return cmd, src, parts


def test_a_run_resumes_only_against_the_same_index_and_input(tmp_path):
    """An index rebuilt at the same path, or an input edited in place with its size and time kept,
    is refused with a one-line error naming what changed; nothing mixes two corpora in one output."""
    from conftest import TINY_TEXTS

    from quco.index.duckdb.build import build_index

    corpus = write_jsonl(tmp_path / "c.jsonl", TINY_TEXTS)
    index = tmp_path / "i.duckdb"
    build_index([corpus], index, progress=False)
    cmd, src, parts = _interrupted_run(index, tmp_path)
    build_index([write_jsonl(tmp_path / "c2.jsonl", TINY_TEXTS[:2])], index, progress=False, force=True)
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and "the index is not the one it counted against" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert parts.is_dir() and not (tmp_path / "o.jsonl").exists()  # the interrupted run's parts are kept

    build_index([corpus], index, progress=False, force=True)  # a new build: a new identity too
    assert subprocess.run(cmd + ["--restart"], cwd=ROOT, capture_output=True).returncode == 0
    again = tmp_path / "again"
    again.mkdir()
    cmd, src, parts = _interrupted_run(index, again)
    st = src.stat()
    data = bytearray(src.read_bytes())
    data[data.index(b"Hamlet")] = ord(b"h")  # same size
    src.write_bytes(bytes(data))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # same modification time
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and "the input's content changed" in res.stderr, res.stderr
    assert subprocess.run(cmd + ["--restart"], cwd=ROOT, capture_output=True).returncode == 0


def test_resuming_with_or_without_an_audit_log_is_refused(tmp_path):
    from conftest import TINY_TEXTS

    from quco.index.duckdb.build import build_index

    index = tmp_path / "i.duckdb"
    build_index([write_jsonl(tmp_path / "c.jsonl", TINY_TEXTS)], index, progress=False)
    cmd, _, _ = _interrupted_run(index, tmp_path)
    res = subprocess.run(cmd + ["--audit", str(tmp_path / "audit.duckdb")], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and "audit log" in res.stderr, res.stderr


def test_a_run_killed_before_its_manifest_was_written_starts_afresh(tmp_path):
    from conftest import TINY_TEXTS

    from quco.index.duckdb.build import build_index

    index = tmp_path / "i.duckdb"
    build_index([write_jsonl(tmp_path / "c.jsonl", TINY_TEXTS)], index, progress=False)
    src = tmp_path / "q.jsonl"
    src.write_text("".join(json.dumps({"question": f"Who wrote Hamlet {i}?"}) + "\n" for i in range(5)))
    out = tmp_path / "o.jsonl"
    (tmp_path / "o.jsonl.quco-parts").mkdir()  # what a kill between creating it and writing its manifest leaves
    res = subprocess.run([sys.executable, "-m", "quco.cli.main", "score", str(src), "-o", str(out), "--index",
                          str(index), "--model", "rules", "--no-progress"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert len(out.read_text().splitlines()) == 5


def test_bootstrap_intervals_are_stratified_deterministic_and_cover_the_figure():
    import random

    from quco.batch.metrics import auroc, bootstrap_ci, rankdata

    assert list(rankdata([3, 1, 3, 2, 2, 2])) == [5.5, 1.0, 5.5, 3.0, 3.0, 3.0]  # ties share their mean rank
    assert bootstrap_ci(auroc, [0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == (1.0, 1.0)  # perfect stays perfect
    rng = random.Random(3)
    scores = [rng.random() for _ in range(2000)]
    labels = [rng.random() < s for s in scores]
    lo, hi = bootstrap_ci(auroc, scores, labels)
    assert lo < auroc(scores, labels) < hi and 0.02 < hi - lo < 0.08
    assert bootstrap_ci(auroc, scores, labels) == (lo, hi)  # a fixed seed: the same rows, the same interval


def test_eval_worst_cases_say_what_reading_decided(tmp_path):
    from quco.batch.evaluation import evaluate_file

    rows = [
        {"row": 1, "id": "a", "question": "Who was born first, A or B?", "answer": "B", "label": False, "answer_risk": 0.9,
         "answer_claims": "[]", "answer_verdict": "contradicted",
         "answer_reading": "the corpus contradicts 'B' coming earlier: 'B' 1957, 'A' 1931"},
        {"row": 2, "id": "b", "question": "Q?", "answer": "x", "label": True, "answer_risk": 0.95, "answer_claims": "[]"},
        {"row": 3, "id": "c", "question": "Q?", "answer": "y", "label": False, "answer_risk": 0.1, "answer_claims": "[]"},
        {"row": 4, "id": "d", "question": "Q?", "answer": "z", "label": True, "answer_risk": 0.2, "answer_claims": "[]"},
    ]
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate_file(path, label_field="label", score_field="answer_risk")
    (fp,) = result.worst["false_positives"]
    assert fp["id"] == "a" and fp["reason"].startswith("the corpus contradicts 'B' coming earlier")
    (fn,) = result.worst["false_negatives"]
    assert fn["reason"] == "no checkable claim"
