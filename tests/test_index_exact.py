"""The DuckDB index must agree exactly with a brute-force scan of the same normalised corpus."""

import json
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from conftest import write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quco.errors import BuildError, IndexFormatError, IndexOpenError, IndexSettingsError, OutputError, QueryError
from quco.index.duckdb.build import build_index
from quco.index.duckdb.reader import DuckDBIndex, index_info
from quco.normalize import Normalizer

# Few distinct words so phrases repeat; variants exercise case folding and NFKC (ligature, width).
WORDS = ["alpha", "Alpha", "ALPHA", "beta", "gamma", "ﬁsh", "fish", "Straße", "strasse", "ｄｅｌｔａ", "delta", "x1", "é"]
SEPARATORS = [" ", "  ", ", ", ". ", "\n", " - ", "'"]


def brute_docs(texts, norm):
    return [norm.tokens(t) for t in texts]


def brute_starts(doc, phrase):
    k = len(phrase)
    return [i for i in range(len(doc) - k + 1) if doc[i : i + k] == phrase]


def brute_count(docs, phrase):
    return sum(len(brute_starts(d, phrase)) for d in docs)


def brute_cooccur(docs, a, b, window):
    total = 0
    for d in docs:
        sa, sb = brute_starts(d, a), brute_starts(d, b)
        total += sum(1 for p in sa if any(abs(q - p) <= window for q in sb))
    return total


def brute_docs_both(docs, a, b):
    return sum(1 for d in docs if brute_starts(d, a) and brute_starts(d, b))


doc_strategy = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=0, max_size=40).map(
    lambda parts: "".join(w + s for w, s in parts)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(doc_strategy, min_size=1, max_size=8),
    case_fold=st.booleans(),
    data=st.data(),
)
def test_counts_match_brute_force(tmp_path_factory, texts, case_fold, data):
    if not any(t.strip() for t in texts):
        texts = texts + ["alpha beta"]
    tmp = tmp_path_factory.mktemp("h")
    norm = Normalizer(case_fold=case_fold)
    src = write_jsonl(tmp / "c.jsonl", [t if t.strip() else "gamma" for t in texts])
    build_index([src], tmp / "i.duckdb", normalizer=norm, progress=False)
    ix = DuckDBIndex(tmp / "i.duckdb")
    docs = brute_docs([t if t.strip() else "gamma" for t in texts], norm)
    all_tokens = [t for d in docs for t in d]
    assert ix.corpus.tokens == len(all_tokens)
    assert ix.corpus.documents == len(docs)

    # Phrases of 1..12 tokens: sub-sequences of the corpus (present) and random ones (often absent).
    phrases = []
    for _ in range(12):
        d = data.draw(st.sampled_from([d for d in docs if d] or [["alpha"]]))
        k = data.draw(st.integers(1, 12))
        i = data.draw(st.integers(0, max(0, len(d) - 1)))
        phrases.append(d[i : i + k] or ["alpha"])
        phrases.append(data.draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12)))
    # Queries go through the same normalisation: pass surface text, compare on tokens.
    for words in phrases:
        text = " ".join(words)
        toks = norm.tokens(text)
        assert ix.count(text).count == brute_count(docs, toks), text
    for _ in range(10):
        a = " ".join(data.draw(st.sampled_from(phrases))[:3])
        b = " ".join(data.draw(st.sampled_from(phrases))[:3])
        w = data.draw(st.sampled_from([0, 1, 2, 5, 1000]))
        ta, tb = norm.tokens(a), norm.tokens(b)
        assert ix.cooccur(a, b, w).count == brute_cooccur(docs, ta, tb, w), (a, b, w)
        assert ix.cooccur_docs(a, b).count == brute_docs_both(docs, ta, tb), (a, b)


def test_phrases_never_span_documents(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["the end", "start of it", "the end start"])
    build_index([src], tmp_path / "i.duckdb", progress=False)
    ix = DuckDBIndex(tmp_path / "i.duckdb")
    assert ix.count("end start").count == 1  # only inside the third document
    assert ix.cooccur("end", "start", 5).count == 1
    assert ix.cooccur("the end", "of it", 1000).count == 0  # different documents


def test_long_phrase_and_batch_order(tmp_path):
    words = [f"w{i}" for i in range(30)]
    src = write_jsonl(tmp_path / "c.jsonl", [" ".join(words), " ".join(words[:15])])
    build_index([src], tmp_path / "i.duckdb", progress=False)
    ix = DuckDBIndex(tmp_path / "i.duckdb")
    res = ix.count_many([" ".join(words[:12]), " ".join(words[:20]), " ".join(words), "w3 w2"])
    assert [r.count for r in res] == [2, 1, 1, 0]
    assert not any(r.approx for r in res)


def test_query_errors_are_typed(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["alpha beta"])
    build_index([src], tmp_path / "i.duckdb", progress=False)
    ix = DuckDBIndex(tmp_path / "i.duckdb")
    with pytest.raises(QueryError):
        ix.count("!!! ---")
    with pytest.raises(QueryError):
        ix.cooccur("alpha", "beta", -1)


def test_index_records_size_and_settings(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["Alpha beta", "gamma"])
    build_index([src], tmp_path / "i.duckdb", normalizer=Normalizer(case_fold=False), progress=False)
    info = index_info(tmp_path / "i.duckdb")
    assert (info.tokens, info.documents) == (3, 2)
    assert info.normalizer["case_fold"] is False
    ix = DuckDBIndex(tmp_path / "i.duckdb")
    assert ix.count("alpha").count == 0 and ix.count("Alpha").count == 1
    with pytest.raises(IndexSettingsError, match="case_fold"):
        DuckDBIndex(tmp_path / "i.duckdb", require=Normalizer(case_fold=True))


def test_newer_format_and_foreign_files_are_refused(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["alpha"])
    path = tmp_path / "i.duckdb"
    build_index([src], path, progress=False)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", [json.dumps(99)])
    con.close()
    with pytest.raises(IndexFormatError, match="newer"):
        DuckDBIndex(path)
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(IndexOpenError):
        DuckDBIndex(junk)
    with pytest.raises(IndexOpenError, match="not found"):
        DuckDBIndex(tmp_path / "missing.duckdb")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INT)").close()
    with pytest.raises(IndexOpenError, match="not a quco index"):
        DuckDBIndex(other)


def test_failed_build_leaves_previous_index_untouched(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", ["alpha beta"])
    out = tmp_path / "i.duckdb"
    build_index([good], out, progress=False)
    before = out.read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": broken\n')
    with pytest.raises(Exception, match="bad.jsonl:2"):
        build_index([good, bad], out, progress=False)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".building-" in p.name] == []


def _write_big_corpus(path):
    """A corpus big enough that a build is still running when the test interrupts it."""
    with open(path, "w") as fh:
        for i in range(60_000):
            fh.write(json.dumps({"text": f"document {i} about alpha beta gamma delta number {i % 977} " * 6}) + "\n")


def _wait_until_building(folder):
    deadline = time.time() + 60
    while time.time() < deadline and not any(".building-" in p.name for p in folder.iterdir()):
        time.sleep(0.02)
    time.sleep(0.3)


def test_killed_build_never_leaves_partial_index(tmp_path):
    src = tmp_path / "big.jsonl"
    _write_big_corpus(src)
    out = tmp_path / "i.duckdb"
    code = f"from quco.index.duckdb.build import build_index; build_index([{str(src)!r}], {str(out)!r}, progress=False)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    _wait_until_building(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed build must not leave an index at the output path"
    # The next build cleans the dead build's temporary file and succeeds.
    build_index([write_jsonl(tmp_path / "s.jsonl", ["alpha"])], out, progress=False)
    assert DuckDBIndex(out).count("alpha").count == 1
    assert [p.name for p in tmp_path.iterdir() if ".building-" in p.name] == []


def test_build_rejects_bad_output(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["alpha"])
    build_index([src], tmp_path / "new" / "dir" / "i.duckdb", progress=False)  # missing parents are created
    assert DuckDBIndex(tmp_path / "new" / "dir" / "i.duckdb").count("alpha").count == 1
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="is not a directory"):
        build_index([src], tmp_path / "afile" / "i.duckdb", progress=False)
    with pytest.raises(BuildError):
        build_index([src], tmp_path, progress=False)


def test_shared_corpus_spot_checks(shared_index):
    # Exact against a brute-force scan of the same normalised text, for a handful of real strings.
    from conftest import CORPUS_FILES

    shared_index = DuckDBIndex(shared_index.path, budget=10**9)  # exact everywhere

    norm = shared_index.normalizer
    docs = []
    for f in CORPUS_FILES:
        with open(f) as fh:
            docs.extend(norm.tokens(json.loads(line)["text"]) for line in fh)
    for phrase in ["Philadelphia", "Arthur's Magazine", "United States of America", "the", "Bank of England"]:
        assert shared_index.count(phrase).count == brute_count(docs, norm.tokens(phrase)), phrase
    a, b = norm.tokens("Lothair II"), norm.tokens("Teutberga")
    assert shared_index.cooccur("Lothair II", "Teutberga").count == brute_cooccur(docs, a, b, 1000)


def test_sigterm_during_cli_build_cleans_up(tmp_path):
    src = tmp_path / "big.jsonl"
    _write_big_corpus(src)
    out = tmp_path / "i.duckdb"
    proc = subprocess.Popen([sys.executable, "-m", "quco.cli.main", "index", "build", str(src), "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)
    _wait_until_building(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip() == "quco: terminated"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if ".building-" in p.name] == []


def test_without_documents_is_an_exact_leave_out(tmp_path):
    docs = [{"id": "a", "text": "alpha beta gamma"}, {"id": "b", "text": "alpha beta"}, {"id": "c", "text": "beta delta"}]
    build_index([write_jsonl(tmp_path / "c.jsonl", docs)], tmp_path / "i.duckdb", progress=False)
    ix = DuckDBIndex(tmp_path / "i.duckdb")
    view = ix.without_documents(["b"])
    build_index([write_jsonl(tmp_path / "d.jsonl", [docs[0], docs[2]])], tmp_path / "j.duckdb", progress=False)
    truth = DuckDBIndex(tmp_path / "j.duckdb")
    assert view.corpus == truth.corpus
    phrases = ["alpha", "beta", "alpha beta", "delta"]
    assert [c.count for c in view.count_many(phrases)] == [c.count for c in truth.count_many(phrases)] == [1, 2, 1, 1]
    pairs = [("alpha", "beta"), ("beta", "delta"), ("alpha", "delta")]
    assert [c.count for c in view.cooccur_many(pairs, 5)] == [c.count for c in truth.cooccur_many(pairs, 5)]
    with pytest.raises(QueryError):
        ix.without_documents(["zzz"])


def test_check_index_reads_only_metadata(tmp_path):
    from quco.index.infinigram.build import build_infinigram_index
    from quco.index.open import check_index

    src = write_jsonl(tmp_path / "c.jsonl", ["Alpha beta"])
    build_index([src], tmp_path / "i.duckdb", progress=False)
    build_infinigram_index([src], tmp_path / "ig", progress=False)
    for path in (tmp_path / "i.duckdb", tmp_path / "ig"):
        check_index(path)
        check_index(path, require=Normalizer())
        with pytest.raises(IndexSettingsError, match="case_fold"):
            check_index(path, require=Normalizer(case_fold=False))
    with pytest.raises(IndexOpenError, match="not found"):
        check_index(tmp_path / "missing.duckdb")
    (tmp_path / "foreign").mkdir()
    with pytest.raises(IndexOpenError, match="tokenizer"):
        check_index(tmp_path / "foreign")


def test_provenance_lists_where_two_phrases_occur_together(tmp_path):
    """The places backing a co-occurrence: document, title, the sentence holding both (from the
    stored text) and the words' positions; a pair that never co-occurs has none; a backend that
    cannot list places says so instead of an empty list."""
    from conftest import write_jsonl

    from quco.backends.base import CountBackend
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    docs = [{"id": "a", "title": "Hamlet", "text": "Hamlet is a tragedy. It was written by William Shakespeare. It is long."},
            {"id": "b", "title": "Dickens", "text": "Charles Dickens wrote novels."}]
    build_index([write_jsonl(tmp_path / "c.jsonl", docs)], tmp_path / "i.duckdb", progress=False)
    ix = DuckDBIndex(tmp_path / "i.duckdb")
    found, none = ix.provenance_many([("Hamlet", "William Shakespeare"), ("Hamlet", "Charles Dickens")], window=20)
    (src,) = found.sources
    assert (src.doc_id, src.title, src.tokens) == ("a", "Hamlet", (0, 8))
    assert src.text == "Hamlet is a tragedy. It was written by William Shakespeare."
    assert docs[0]["text"][src.start:src.end] == src.text and found.why is None
    assert none.sources == () and none.why is None
    assert CountBackend.provenance_many(ix, [("a", "b")])[0].why.startswith("the duckdb backend cannot")


def test_a_stop_signal_is_remembered_where_an_error_would_hide_it():
    """DuckDB cuts a running query short on Ctrl-C or SIGTERM and raises a plain "Query
    interrupted" RuntimeError in place of the handler's exception: the handlers remember the signal."""
    import os

    from quco.errors import Terminated
    from quco.process import install_sigterm, interrupts_noted, signalled_stop

    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job: Ctrl-C is not ours to catch
    try:
        with interrupts_noted():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)  # an interactive run
        with interrupts_noted():
            assert signalled_stop() is None
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler runs here, in the main thread
            assert isinstance(signalled_stop(), KeyboardInterrupt)
        assert signalled_stop() is None  # forgotten with the block
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the previous handler is back
    finally:
        signal.signal(signal.SIGINT, ignored)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert install_sigterm() and signalled_stop() is None
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert isinstance(signalled_stop(), Terminated)
        assert install_sigterm() and signalled_stop() is None  # the next build starts afresh
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("signum, code, said", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_build_query_cut_short_by_a_signal_exits_as_that_signal(tmp_path, monkeypatch, capsys, signum, code, said):
    """A stop signal arriving inside a DuckDB query of a build (seen as "Query interrupted") ends
    the build as that signal — its exit code, one line, no internal error, no file left."""
    import quco.index.duckdb.build as duckdb_build
    from quco.cli.main import main as cli
    from quco.process import remember

    def cut_short(*args, **kwargs):
        remember(signum)  # what the signal handler records before DuckDB swallows its exception
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(duckdb_build, "_write_postings", cut_short)
    src = write_jsonl(tmp_path / "c.jsonl", ["alpha beta", "gamma"])
    assert cli(["index", "build", str(src), "--out", str(tmp_path / "i.duckdb")]) == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"quco: {said}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]
