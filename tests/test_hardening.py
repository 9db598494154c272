"""Hardening: no input is ever destroyed, failures fail closed, every user-causable error has its exit code."""

import json
import math
import os
import subprocess
import sys

import pytest
from conftest import write_jsonl

from quco.cli.main import main as cli
from quco.errors import ConfigError, OutputError, UpstreamError
from quco.index.duckdb.build import build_index

QUESTIONS = [{"question": "Who wrote Hamlet?", "answer": "William Shakespeare"},
             {"question": "What is the capital of Denmark?", "answer": "Copenhagen"}]
TEXTS = ["Hamlet is a tragedy written by William Shakespeare.", "Copenhagen is the capital of Denmark."]


@pytest.fixture()
def work(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", QUESTIONS)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", TEXTS)
    idx = tmp_path / "i.duckdb"
    build_index([corpus], idx, progress=False)
    return tmp_path, src, corpus, idx


def _digest(path):
    return path.read_bytes() if path.is_file() else sorted(p.name for p in path.iterdir())


def _score(src, out, idx, *extra):
    return cli(["score", str(src), "-o", str(out), "--index", str(idx), "--model", "rules", "--no-progress", *extra])


@pytest.mark.parametrize("case", ["errors-is-input", "errors-is-index", "output-is-index", "output-symlink-to-input",
                                  "errors-hardlink-to-input", "output-is-errors", "output-is-stranger"])
def test_score_never_overwrites_an_input_or_a_stranger(work, case, capsys):
    d, src, corpus, idx = work
    stranger = d / "notes.jsonl"
    stranger.write_text("my notes\n")
    out, extra = d / "out.jsonl", []
    if case == "errors-is-input":
        extra = ["--errors", str(src)]
    elif case == "errors-is-index":
        extra = ["--errors", str(idx)]
    elif case == "output-is-index":
        out = idx
    elif case == "output-symlink-to-input":
        (d / "link.jsonl").symlink_to(src)
        out = d / "link.jsonl"
    elif case == "errors-hardlink-to-input":
        os.link(src, d / "hard.jsonl")
        extra = ["--errors", str(d / "hard.jsonl")]
    elif case == "output-is-errors":
        extra = ["--errors", str(out)]
    else:
        out = stranger
    before = {p: _digest(p) for p in (src, idx, stranger)}
    code = _score(src, out, idx, *extra)
    err = capsys.readouterr().err
    expected = {2, 9} if case == "output-is-index" else {9}  # i.duckdb is refused as an output format first
    assert code in expected and err.startswith("quco: error:") and err.count("\n") == 1, err
    assert {p: _digest(p) for p in (src, idx, stranger)} == before


def test_force_replaces_a_stranger_and_a_quco_output_is_replaced_without_it(work, capsys):
    d, src, _, idx = work
    out = d / "out.jsonl"
    out.write_text("not quco\n")
    assert _score(src, out, idx) == 9
    assert _score(src, out, idx, "--force") == 0
    assert json.loads(out.read_text().splitlines()[0])["question"] == "Who wrote Hamlet?"
    assert _score(src, out, idx) == 0  # our own earlier output: replaced without --force
    assert "0.0%" in capsys.readouterr().out  # the error-row fraction is always reported


@pytest.mark.parametrize("target", ["source", "stranger", "symlink-to-source"])
def test_index_build_never_replaces_its_source_or_a_stranger(work, target, capsys):
    d, _, corpus, _ = work
    stranger = d / "notes.txt"
    stranger.write_text("keep me\n")
    out = {"source": corpus, "stranger": stranger, "symlink-to-source": d / "ln.duckdb"}[target]
    if target == "symlink-to-source":
        out.symlink_to(corpus)
    before = (corpus.read_bytes(), stranger.read_bytes())
    for backend in ("duckdb", "infinigram"):
        assert cli(["index", "build", str(corpus), "--out", str(out), "--backend", backend, "--no-progress"]) == 9
    assert (corpus.read_bytes(), stranger.read_bytes()) == before
    assert "refusing" in capsys.readouterr().err


def test_eval_outputs_may_not_be_its_input(work, capsys):
    d, src, _, idx = work
    scored = d / "scored.html"
    assert _score(src, d / "s.jsonl", idx, "--answer-field", "answer") == 0
    rows = [json.loads(line) | {"label": i % 2 == 0} for i, line in enumerate((d / "s.jsonl").read_text().splitlines())]
    scored = write_jsonl(d / "scored.jsonl", rows)
    before = scored.read_bytes()
    # PREFIX.html cannot be produced from a .jsonl path, but PREFIX.png/.html can hit a stranger:
    (d / "report.html").write_text("<p>my report</p>")
    assert cli(["eval", str(scored), "--label-field", "label", "--out", str(d / "report")]) == 9
    assert (d / "report.html").read_text() == "<p>my report</p>" and scored.read_bytes() == before
    assert cli(["eval", str(scored), "--label-field", "label", "--out", str(d / "mine")]) == 0
    assert cli(["eval", str(scored), "--label-field", "label", "--out", str(d / "mine")]) == 0  # ours: replaced
    capsys.readouterr()


def test_stale_temp_files_of_killed_runs_are_removed_and_a_live_run_is_not_disturbed(work):
    d, src, corpus, idx = work
    stale = [d / ".i.duckdb.building-999999", d / ".i.duckdb.building-999999.wal", d / ".out.jsonl.tmp-999999"]
    for p in stale:
        p.write_text("left by kill -9")
    parts = d / "out.jsonl.quco-parts"
    build_index([corpus], idx, progress=False)
    assert _score(src, d / "out.jsonl", idx) == 0
    assert not any(p.exists() for p in stale) and not parts.exists()
    assert not [p for p in d.iterdir() if p.name.endswith(".lock")]
    from quco.files.outputs import OutputLock

    with OutputLock(d / "out.jsonl"):  # another run holds the output
        with pytest.raises(OutputError, match="another quco"):
            with OutputLock(d / "out.jsonl"):
                pass
        other = subprocess.run([sys.executable, "-m", "quco.cli.main", "score", str(src), "-o", str(d / "out.jsonl"),
                                "--index", str(idx), "--model", "rules"], capture_output=True, text=True)
        assert other.returncode == 9 and "another quco" in other.stderr  # another process is refused too


def test_all_rows_failing_is_exit_10_with_the_errors_written(work, capsys):
    d, _, _, idx = work
    bad = d / "bad.jsonl"
    bad.write_bytes(b'{"question": "   "}\n{"question": "bad \xff byte"}\nnot json\n')
    assert _score(bad, d / "o.jsonl", idx) == 10
    assert "none of the 3 rows" in capsys.readouterr().err
    errors = [json.loads(line) for line in (d / "o.jsonl.errors.jsonl").read_text().splitlines()]
    assert [e["row"] for e in errors] == [1, 2, 3] and "invalid UTF-8" in errors[1]["reason"]


def test_one_utf8_policy(work, capsys):
    d, _, corpus, idx = work
    mixed = d / "mixed.jsonl"
    mixed.write_bytes(b'{"question": "Who wrote Hamlet?"}\n{"question": "Who \xc3\x28 wrote?"}\n'
                      b'{"question": "Lone \\ud800 surrogate?"}\n')
    assert _score(mixed, d / "o.jsonl", idx) == 0
    reasons = [json.loads(line)["reason"] for line in (d / "o.jsonl.errors.jsonl").read_text().splitlines()]
    assert len(reasons) == 2 and all("invalid UTF-8" in r for r in reasons)
    bad_corpus = d / "bad.txt"
    bad_corpus.write_bytes(b"fine line\n\nbroken \xff line\n")
    assert cli(["index", "build", str(bad_corpus), "--out", str(d / "b.duckdb"), "--no-progress"]) == 3
    assert "bad.txt:3: invalid UTF-8" in capsys.readouterr().err
    # A question from argv with undecodable bytes (surrogateescape) is a usage error, not a crash.
    assert cli(["check", "Who wrote \udcff?", "--index", str(idx), "--model", "rules"]) == 2
    assert "invalid UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize("value", [float("nan"), "high", None])
def test_eval_rejects_scores_that_are_not_numbers(tmp_path, value, capsys):
    rows = [{"risk": 0.2, "label": True}, {"risk": 0.7, "label": False}, {"risk": value, "label": True}]
    scored = tmp_path / "s.jsonl"
    scored.write_text("\n".join(json.dumps(r) if not (isinstance(r["risk"], float) and math.isnan(r["risk"]))
                                else json.dumps(r).replace("NaN", '"NaN"') for r in rows) + "\n")
    code = cli(["eval", str(scored), "--label-field", "label", "--score-field", "risk", "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    if value is None:  # a missing score is a row without a score, left out
        assert code == 0
    else:
        assert code == 2 and ("not a number" in err or "finite" in err), err


def test_damaged_index_is_not_called_a_stranger(work, capsys):
    d, _, _, idx = work
    data = bytearray(idx.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = os.urandom(4096)
    idx.write_bytes(bytes(data))
    code = cli(["check", "Who wrote Hamlet?", "--index", str(idx), "--model", "rules"])
    err = capsys.readouterr().err
    assert code == 4 and err.count("\n") == 1, err


def test_unknown_anchor_fails_closed(work):
    from quco.decide.answer import AnswerScorer
    from quco.errors import BackendUnavailable
    from quco.extract import Extractor
    from quco.index.duckdb.reader import DuckDBIndex

    _, _, _, idx = work
    real = DuckDBIndex(idx)

    class AnchorDown:
        name, identity, corpus, normalizer = real.name, real.identity, real.corpus, real.normalizer

        def count_many(self, phrases):
            if any(p == "Hamlet" for p in phrases):
                raise BackendUnavailable("503 from upstream")
            return real.count_many(phrases)

        def cooccur_many(self, pairs, window=1000):
            return real.cooccur_many(pairs, window)

    ex = Extractor("rules")
    healthy = AnswerScorer(real, ex).score("Who wrote Hamlet?", "Charles Dickens")
    down = AnswerScorer(AnchorDown(), ex).score("Who wrote Hamlet?", "Charles Dickens")
    assert not healthy.unknown
    assert down.unknown and down.risk == 1.0  # never a calmer score because the anchor was lost
    ignore = AnswerScorer(AnchorDown(), ex, unknown_policy="ignore").score("Who wrote Hamlet?", "Charles Dickens")
    assert ignore.unknown


# -- the API client ---------------------------------------------------------------------------
@pytest.fixture()
def api_server(tmp_path):
    from quco.index.infinigram.build import build_infinigram_index
    from quco.index.infinigram.reader import InfiniGramLocal
    from quco.testing.contract_server import ContractServer

    build_infinigram_index([write_jsonl(tmp_path / "c.jsonl", TEXTS)], tmp_path / "ig", progress=False)
    with ContractServer(InfiniGramLocal(tmp_path / "ig", cooccur="cnf")) as srv:
        yield srv


def _api(server, **policy):
    import random

    from quco.backends.infinigram_api import HttpClient, InfiniGramAPI, RetryPolicy

    waits, now = [], [0.0]

    def sleep(s):
        waits.append(s)
        now[0] += s

    http = HttpClient(timeout=(1.0, 1.0), policy=RetryPolicy(**{"attempts": 3, "backoff": 0.01, **policy}),
                      clock=lambda: now[0], sleep=sleep, rng=random.Random(1))
    api = InfiniGramAPI(endpoint=server.url, index="t", http=http)
    return api, waits


def test_retry_after_is_honoured_up_to_the_configured_maximum(api_server):
    from quco.errors import BackendUnavailable

    api, waits = _api(api_server)
    api_server.faults.append("429:120")
    assert api.count("Hamlet").count == 1 and waits == [120.0]  # the server asked for 120 s: we waited 120 s
    api, waits = _api(api_server, max_retry_after=30)
    api_server.faults.append("429:120")
    with pytest.raises(BackendUnavailable, match="beyond max_retry_after"):
        api.count("Hamlet")
    api, waits = _api(api_server, deadline=60)
    api_server.faults.append("429:90")
    with pytest.raises(BackendUnavailable, match="deadline"):
        api.count("Hamlet")
    assert waits == []


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 520, 524])
def test_every_5xx_is_retried(api_server, status):
    api, waits = _api(api_server)
    api_server.faults.append(f"status:{status}")
    assert api.count("Hamlet").count == 1 and len(waits) == 1


def test_upstream_error_body_is_an_upstream_error_not_a_query_error(api_server):
    api, _ = _api(api_server)
    api_server.faults.append("error200")
    with pytest.raises(UpstreamError):
        api.count("Hamlet")


def test_corrupt_api_cache_is_a_config_error(tmp_path):
    from quco.backends.infinigram_api import ResponseCache

    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="cannot be used as the API answer cache"):
        ResponseCache(bad)
    assert bad.read_bytes() == b"this is not a database" * 100


# -- a full disk is an ordinary error -----------------------------------------------------------
@pytest.fixture()
def small_disk(tmp_path):
    """A 3 MB tmpfs (needs root, as in CI; skipped where it cannot be mounted)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "quco.cli.main", *map(str, args)], capture_output=True, text=True)


def test_a_full_disk_is_exit_5_or_9_in_one_line_and_loses_nothing(small_disk, tmp_path):
    from conftest import SHARED

    if not (SHARED / "corpus").is_dir():
        pytest.skip("../shared/data/corpus is absent (it ships beside the repo in CI)")
    lines = (SHARED / "corpus" / "halueval_knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(lines[:700]) + "\n", encoding="utf-8")
    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(lines[700:2700]) + "\n", encoding="utf-8")
    ix = small_disk / "m"
    # Without text (the adds then keep none either), so a few adds fit before the disk is full.
    assert _run("index", "build", first, "--out", ix, "--backend", "mmap", "--no-progress", "--no-text").returncode == 0
    codes = [_run("index", "add", ix, more, "--no-progress", "--no-merge").returncode for _ in range(5)]
    assert codes[0] == 0 and 5 in codes and set(codes) <= {0, 5}
    before = _run("index", "info", ix, "--json").stdout
    res = _run("index", "compact", ix)
    assert res.returncode == 5 and "no space left on the device" in res.stderr and "the index is unchanged" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert _run("index", "info", ix, "--json").stdout == before  # still answers, unchanged
    assert not [p for p in ix.iterdir() if p.name.startswith(".")]  # no temporary left behind
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"question": f"Who wrote Hamlet, part {i}?"}) + "\n" for i in range(20_000)))
    res = _run("score", rows, "-o", small_disk / "s.jsonl", "--index", ix, "--model", "rules", "--no-progress")
    assert res.returncode == 9 and "no space left on the device" in res.stderr and "re-run to resume" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
