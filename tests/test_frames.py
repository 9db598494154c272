"""DataFrames in, DataFrames out; detectors that travel to other processes; HaluEval's paired layout."""

import json
import pickle

import pytest
from conftest import write_jsonl

import quco
from quco.index.duckdb.build import build_index

pa = pytest.importorskip("pyarrow", reason="in-memory tables need pyarrow (quco[frames])")

TEXTS = ["Hamlet is a tragedy written by William Shakespeare.", "Copenhagen is the capital of Denmark."]
ROWS = [{"id": f"q{i}", "question": q, "answer": a, "label": lab, "extra": i}
        for i, (q, a, lab) in enumerate([("Who wrote Hamlet?", "William Shakespeare", False),
                                         ("Who wrote Hamlet?", "Charles Dickens", True),
                                         ("What is the capital of Denmark?", "Copenhagen", False),
                                         ("", "nothing", True)])]  # the last row is malformed


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from quco.config import load_settings

    d = tmp_path_factory.mktemp("frames")
    build_index([write_jsonl(d / "c.jsonl", TEXTS)], d / "i.duckdb", progress=False)
    return load_settings(index=str(d / "i.duckdb"), model="rules", env={})


def _file_result(settings, tmp_path):
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    quco.score(src, tmp_path / "out.jsonl", answer_field="answer", id_field="id", settings=settings)
    return [json.loads(line) for line in open(tmp_path / "out.jsonl")]


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow", "datasets"])
def test_score_and_evaluate_return_the_same_kind_with_the_file_rows(settings, tmp_path, kind):
    lib = pytest.importorskip({"pyarrow": "pyarrow", "pandas": "pandas", "polars": "polars", "datasets": "datasets"}[kind])
    table = pa.Table.from_pylist(ROWS)
    frame = {"pyarrow": lambda: table, "pandas": table.to_pandas, "polars": lambda: lib.from_arrow(table),
             "datasets": lambda: lib.Dataset(table)}[kind]()
    errors = []
    scored = quco.score(frame, answer_field="answer", id_field="id", settings=settings, on_errors=errors)
    assert len(errors) == 1 and errors[0]["row"] == 4
    assert type(scored).__name__ == type(frame).__name__
    rows = pa.Table.from_pandas(scored) if kind == "pandas" else scored.to_arrow() if kind == "polars" else \
        scored.data.table if kind == "datasets" else scored
    got = rows.to_pylist()
    want = _file_result(settings, tmp_path)
    assert [r["id"] for r in got] == [r["id"] for r in want] == ["q0", "q1", "q2"]
    assert [r["answer_risk"] for r in got] == [r["answer_risk"] for r in want]
    assert list(quco.report_schema()) == list(rows.column_names[: len(quco.report_schema())])
    assert got[1]["extra"] == 1 and got[1]["label"] is True  # input columns pass through
    result = quco.evaluate(scored, label_field="label")
    assert result.rows == 3


def test_malformed_rows_are_reported_not_fatal(settings, caplog):
    out = quco.score(pa.Table.from_pylist(ROWS), answer_field="answer", id_field="id", settings=settings)
    assert out.num_rows == 3 and "1 of 4 rows could not be scored" in caplog.text


def test_a_detector_pickles_by_configuration_and_maps_in_worker_processes(settings):
    datasets = pytest.importorskip("datasets")
    det = settings.detector()
    want = det.check_question("Who wrote Hamlet?").risk
    blob = pickle.dumps(det)
    assert len(blob) < 2_000  # configuration, not the index or the spaCy pipeline
    assert pickle.loads(blob).check_question("Who wrote Hamlet?").risk == want
    ds = datasets.Dataset.from_list([{"question": r["question"] or "Who?"} for r in ROWS])
    mapped = ds.map(lambda row: {"risk": det.check_question(row["question"]).risk}, num_proc=2)
    assert mapped[0]["risk"] == want and len(mapped) == 4


def test_paired_answers_become_two_labelled_rows(settings, tmp_path):
    src = tmp_path / "halu.jsonl"
    src.write_text(json.dumps({"question": "Who wrote Hamlet?", "right_answer": "William Shakespeare",
                               "hallucinated_answer": "Charles Dickens"}) + "\n")
    quco.score(src, tmp_path / "o.jsonl", pair_fields=("right_answer", "hallucinated_answer"), settings=settings)
    rows = [json.loads(line) for line in open(tmp_path / "o.jsonl")]
    assert [(r["row"], r["answer"], r["label"], r["pair_row"]) for r in rows] == [
        (1, "William Shakespeare", "correct", 1), (2, "Charles Dickens", "fabricated", 1)]
    with pytest.raises(quco.QucoError, match="pair fields"):
        quco.score(src, tmp_path / "p.jsonl", answer_field="x", pair_fields=("a", "b"), settings=settings)


def test_score_takes_the_detector_you_hold(settings, tmp_path, monkeypatch):
    """``quco.score(table, detector=d)`` gives what the same detector's settings give, in one
    process and with two workers; with neither and no index configured, one error says how to
    name one instead of looking for the CLI demo's index."""
    detector = settings.detector()
    table = pa.Table.from_pylist(ROWS)
    by_settings = quco.score(table, answer_field="answer", id_field="id", settings=settings).to_pylist()
    held = quco.score(table, answer_field="answer", id_field="id", detector=detector).to_pylist()
    assert [r["answer_risk"] for r in held] == [r["answer_risk"] for r in by_settings]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    stats = quco.score(src, tmp_path / "o.jsonl", answer_field="answer", detector=detector, workers=2)
    assert stats.scored == 3 and stats.errors == 1
    with pytest.raises(quco.QucoError, match="not both"):
        quco.score(table, detector=detector, settings=settings)
    monkeypatch.chdir(tmp_path)
    for var in ("QUCO_INDEX", "QUCO_CONFIG", "QUCO_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    with pytest.raises(quco.QucoError, match="no index named: pass detector="):
        quco.score(table, answer_field="answer")
