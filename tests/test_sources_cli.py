"""Corpus sources and the CLI's handling of bad input: one line, non-zero exit, no traceback."""

import gzip
import json
import subprocess
import sys

import duckdb
import pytest
from conftest import write_jsonl

from quco.errors import SourceError
from quco.files.sources import iter_documents


def run_cli(*args, cwd=None, stdin=None, env=None):
    import os

    full_env = dict(os.environ, **(env or {}))
    full_env.pop("QUCO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "quco.cli.main", *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin, env=full_env)


def assert_one_line_error(proc, needle):
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]


def test_text_split_modes_and_gzip(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("first para\nstill first\n\nsecond para\n")
    assert [d.text for d in iter_documents(p)] == ["first para\nstill first", "second para"]
    assert len(list(iter_documents(p, text_split="line"))) == 3
    assert len(list(iter_documents(p, text_split="file"))) == 1
    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(json.dumps({"id": 7, "title": "T", "text": "hello"}) + "\n")
    docs = list(iter_documents(gz))
    assert docs[0].id == "7" and docs[0].title == "T"


def test_parquet_source(tmp_path):
    p = tmp_path / "c.parquet"
    con = duckdb.connect()
    con.execute("COPY (SELECT * FROM (VALUES (1, 'Alpha beta'), (2, 'gamma')) t(id, text)) TO ? (FORMAT parquet)", [str(p)])
    con.close()
    docs = list(iter_documents(p))
    assert [d.text for d in docs] == ["Alpha beta", "gamma"] and docs[0].id == "1"
    bad = tmp_path / "d.parquet"
    con = duckdb.connect()
    con.execute("COPY (SELECT 1 AS body) TO ? (FORMAT parquet)", [str(bad)])
    con.close()
    with pytest.raises(SourceError, match='no "text" column'):
        list(iter_documents(bad))


def test_source_errors(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty"):
        list(iter_documents(empty))
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(SourceError, match="binary"):
        list(iter_documents(binary))
    latin = tmp_path / "l.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(SourceError, match="UTF-8"):
        list(iter_documents(latin))
    notext = write_jsonl(tmp_path / "n.jsonl", [{"id": 1, "body": "x"}])
    with pytest.raises(SourceError, match=r"n.jsonl:1: missing string field"):
        list(iter_documents(notext))
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n{"text": "also ok"}\n')
    with pytest.raises(SourceError, match=r"m.jsonl:2: malformed JSON"):
        list(iter_documents(bad))
    assert [d.text for d in iter_documents(bad, skip_bad_lines=True)] == ["ok", "also ok"]


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    src = write_jsonl(d / "c.jsonl", ["Hamlet is a tragedy written by William Shakespeare.", "Paris is the capital of France."])
    proc = run_cli("index", "build", str(src), "--out", str(d / "i.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert "2 documents" in proc.stdout
    return d / "i.duckdb"


def test_cli_check_and_info(small_index):
    proc = run_cli("check", "Who wrote Hamlet?", "--index", str(small_index), "--draft",
                   "Hamlet was written by Charles Dickens.", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["decision"] == "retrieve" and report["stage"] == "draft"
    assert report["suggested_query"] == "Hamlet written by"
    assert report["corpus_tokens"] > 0
    table = run_cli("check", "Who wrote Hamlet?", "--index", str(small_index))
    assert table.returncode == 0 and "decision" in table.stdout and "Hamlet" in table.stdout
    gate = run_cli("check", "Who wrote Hamlet?", "--index", str(small_index), "--draft",
                   "Hamlet was written by Charles Dickens.", "--exit-code")
    assert gate.returncode == 1 and "RETRIEVE" in gate.stdout and not gate.stderr.strip()  # decided, not failed
    assert run_cli("check", "Who wrote Hamlet?", "--index", str(small_index), "--exit-code").returncode == 0
    info = run_cli("index", "info", str(small_index), "--json")
    assert json.loads(info.stdout)["documents"] == 2


def test_cli_config_file_and_env(small_index, tmp_path):
    (tmp_path / "quco.toml").write_text(f'[quco]\nindex = "{small_index}"\nmodel = "rules"\n')
    proc = run_cli("check", "Who wrote Hamlet?", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["extractor"] == "rules"
    proc = run_cli("check", "Who wrote Hamlet?", "--json", cwd=tmp_path, env={"QUCO_ENTITY_THRESHOLD": "100"})
    assert json.loads(proc.stdout)["decision"] == "retrieve"  # absolute override: Hamlet occurs < 100 times
    (tmp_path / "quco.toml").write_text("[quco]\nwindow = 'wide'\n")
    assert_one_line_error(run_cli("check", "q?", cwd=tmp_path), "invalid value")


def test_cli_bad_inputs(small_index, tmp_path):
    assert_one_line_error(run_cli("check", "Who?", "--index", str(tmp_path / "missing.duckdb")), "index not found")
    assert_one_line_error(run_cli("check", "   ", "--index", str(small_index)), "question is empty")
    big = "Hamlet was a play. " * 60_000  # > 1 MB
    draft_file = tmp_path / "big.txt"
    draft_file.write_text(big)
    assert_one_line_error(run_cli("check", "Who?", "--index", str(small_index), "--draft-file", str(draft_file)), "limit")
    binary = tmp_path / "bin.dat"
    binary.write_bytes(b"\x00\xff" * 100)
    assert_one_line_error(run_cli("check", "Who?", "--index", str(small_index), "--draft-file", str(binary)), "binary")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert_one_line_error(run_cli("index", "build", str(empty), "--out", str(tmp_path / "x.duckdb")), "empty")
    assert_one_line_error(run_cli("index", "build", str(binary), "--out", str(tmp_path / "x.duckdb")), "binary")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    assert_one_line_error(run_cli("index", "build", str(bad), "--out", str(tmp_path / "x.duckdb")), "bad.jsonl:2")
    assert not (tmp_path / "x.duckdb").exists()
    assert_one_line_error(run_cli("index", "info", str(binary)), "not a quco index")
    assert_one_line_error(run_cli("check"), "required")
    assert_one_line_error(run_cli("check", "q", "--window", "-5", "--index", str(small_index)), "window")


def test_cli_errors_are_json_under_json(small_index, tmp_path):
    """With --json a failure is also a JSON object on stdout, where the command's JSON would be;
    stderr keeps its one line and the exit code is the documented one."""
    proc = run_cli("check", "Who?", "--index", str(tmp_path / "missing.duckdb"), "--json")
    assert_one_line_error(proc, "index not found")
    error = json.loads(proc.stdout)["error"]
    assert error["exit_code"] == proc.returncode != 0 and "index not found" in error["message"]
    assert error["type"] == "IndexOpenError"
    proc = run_cli("index", "info", str(small_index), "--json")
    assert proc.returncode == 0 and "error" not in json.loads(proc.stdout)


def test_shell_completion_with_the_completion_extra(tmp_path):
    """`quco[completion]` (argcomplete): the shell's completion request lists the subcommands."""
    pytest.importorskip("argcomplete", reason="the completion extra is installed by the test set-up")
    import os

    out = tmp_path / "completions"
    env = dict(os.environ, _ARGCOMPLETE="1", _ARGCOMPLETE_IFS="\n", COMP_LINE="quco sc", COMP_POINT="7",
               _ARGCOMPLETE_STDOUT_FILENAME=str(out))
    proc = subprocess.run([sys.executable, "-m", "quco.cli.main"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "score" in out.read_text().split()


def test_cli_score_streams_stdin_to_stdout(small_index, tmp_path):
    rows = "".join(json.dumps({"question": q}) + "\n" for q in ("Who wrote Hamlet?", "Who wrote Oliver Twist?"))
    proc = run_cli("score", "-", "-o", "-", "--index", str(small_index), "--model", "rules", cwd=tmp_path, stdin=rows + "{bad\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["question"] for r in out] == ["Who wrote Hamlet?", "Who wrote Oliver Twist?"]  # only rows on stdout
    assert "scored 2 of 3 rows into standard output" in proc.stderr
    errors = [json.loads(line) for line in (tmp_path / "quco-errors.jsonl").read_text().splitlines()]
    assert errors[0]["row"] == 3  # the malformed row is kept, not lost

    # the same pipe through eval and reward
    labelled = "".join(json.dumps({**r, "label": k % 2 == 0}) + "\n" for k, r in enumerate(out * 2))
    proc = run_cli("eval", "-", "--label-field", "label", cwd=tmp_path, stdin=labelled)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "quco-eval.html").exists() and "rows 4" in proc.stdout
    pairs = "".join(json.dumps({"prompt": "Who wrote Hamlet?", "completion": c}) + "\n"
                    for c in ("Hamlet was written by William Shakespeare.", "Hamlet was written by Charles Dickens."))
    proc = run_cli("reward", "-", "-o", "-", "--index", str(small_index), "--model", "rules", cwd=tmp_path, stdin=pairs)
    assert proc.returncode == 0, proc.stderr
    rewards = [json.loads(line)["reward"] for line in proc.stdout.splitlines()]
    assert len(rewards) == 2 and rewards[0] > rewards[1] and "into standard output" in proc.stderr


def test_settings_precedence_user_pyproject_project_env_flags(tmp_path, monkeypatch):
    from quco.config import load_settings
    from quco.errors import ConfigError

    home = tmp_path / "xdg"
    (home / "quco").mkdir(parents=True)
    (home / "quco" / "config.toml").write_text('[quco]\nwindow = 10\nmodel = "rules"\nmode = "quco"\nindex = "u.duckdb"\n')
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.quco]\nwindow = 20\nmode = "evidence"\n')
    monkeypatch.chdir(proj)
    env = {"XDG_CONFIG_HOME": str(home)}
    s = load_settings(env=env)
    assert (s.window, s.model, s.mode, s.index) == (20, "rules", "evidence", "u.duckdb")  # pyproject over user
    (proj / "quco.toml").write_text("[quco]\nwindow = 30\n")
    assert load_settings(env=env).window == 30  # quco.toml over pyproject
    assert load_settings(env={**env, "QUCO_WINDOW": "40"}).window == 40
    assert load_settings(env={**env, "QUCO_WINDOW": "40"}, window=50).window == 50
    (proj / "pyproject.toml").write_text('[tool.quco]\nwindw = 20\n')
    with pytest.raises(ConfigError, match="pyproject.toml: unknown setting"):
        load_settings(env=env)
    proc = run_cli("check", "Who?", "--json", cwd=proj, env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "windw" in proc.stderr
