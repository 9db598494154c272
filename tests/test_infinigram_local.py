"""The local infini-gram backend: exact like the DuckDB index, and count_cnf's documented mapping."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_index_exact import WORDS, brute_cooccur, brute_count, brute_docs, brute_docs_both, doc_strategy

from quco.cli.main import main as cli
from quco.errors import IndexFormatError, IndexOpenError, IndexSettingsError, OutputError, QueryError
from quco.index.duckdb.build import build_index
from quco.index.duckdb.reader import DuckDBIndex
from quco.index.infinigram.build import build_infinigram_index, write_suffix_array
from quco.index.infinigram.reader import InfiniGramLocal
from quco.normalize import Normalizer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(doc_strategy, min_size=1, max_size=8), case_fold=st.booleans(), data=st.data())
def test_exact_like_brute_force_and_duckdb(tmp_path_factory, texts, case_fold, data):
    texts = [t if t.strip() else "gamma" for t in texts]
    tmp = tmp_path_factory.mktemp("ig")
    norm = Normalizer(case_fold=case_fold)
    src = write_jsonl(tmp / "c.jsonl", texts)
    build_infinigram_index([src], tmp / "ig", normalizer=norm, progress=False)
    build_index([src], tmp / "i.duckdb", normalizer=norm, progress=False)
    ig, dk = InfiniGramLocal(tmp / "ig"), DuckDBIndex(tmp / "i.duckdb")
    docs = brute_docs(texts, norm)
    assert ig.corpus == dk.corpus
    phrases = [" ".join(data.draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))) for _ in range(10)]
    for d in docs[:4]:
        if d:
            i = data.draw(st.integers(0, len(d) - 1))
            phrases.append(" ".join(d[i : i + data.draw(st.integers(1, 6))]))
    counts = ig.count_many(phrases)
    assert [c.count for c in counts] == [brute_count(docs, norm.tokens(p)) for p in phrases]
    assert [c.count for c in counts] == [c.count for c in dk.count_many(phrases)]
    assert not any(c.approx for c in counts)
    for _ in range(8):
        a, b = data.draw(st.sampled_from(phrases)), data.draw(st.sampled_from(phrases))
        w = data.draw(st.sampled_from([0, 1, 2, 5, 1000]))
        expected = brute_cooccur(docs, norm.tokens(a), norm.tokens(b), w)
        assert ig.cooccur(a, b, w).count == expected == dk.cooccur(a, b, w).count, (a, b, w)
        assert ig.cooccur_docs(a, b).count == brute_docs_both(docs, norm.tokens(a), norm.tokens(b))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(["aaa", "bbb", "ccc", "ddd"]), min_size=1, max_size=40),
       window=st.integers(1, 12), pair=st.sampled_from([("aaa", "bbb"), ("bbb", "aaa"), ("aaa", "ccc ddd")]))
def test_cnf_window_mapping_within_a_document(tmp_path_factory, words, window, pair):
    """Words of equal length: a window of W words is W * 4 bytes, and count_cnf agrees with the
    exact word window on whether the pair co-occurs (the decision the trigger uses)."""
    tmp = tmp_path_factory.mktemp("cnf")
    build_infinigram_index([write_jsonl(tmp / "c.jsonl", [" ".join(words)])], tmp / "ig", progress=False)
    ig = InfiniGramLocal(tmp / "ig", cooccur="cnf")
    assert ig.engine_window(window) == window * 4  # " aaa" per word, plus one separator byte
    a, b = pair
    cnf = ig.cooccur(a, b, window)
    exact = brute_cooccur([words], a.split(), b.split(), window)
    assert (cnf.count > 0) == (exact > 0)
    assert cnf.window == window and not cnf.approx


def test_cnf_differences_are_the_documented_ones(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["b a a a a a", "x y", "b c a c a", "b c b"])
    build_infinigram_index([src], tmp_path / "ig", progress=False)
    exact, cnf = InfiniGramLocal(tmp_path / "ig"), InfiniGramLocal(tmp_path / "ig", cooccur="cnf")
    # 1. count_cnf counts occurrences of one clause (here b, once in document 1); exact counts a's.
    assert exact.cooccur("a", "b", 5).count == 5 + 2
    assert exact.cooccur("b", "a", 5).count == 1 + 1
    # 2. Document 3: within 2 words both modes see the pair; a window reaching into document 4
    #    makes the engine reject the match, so count_cnf can return a false 0 for a large window.
    assert exact.cooccur("c a c a", "b c b", 100).count == 0
    assert exact.cooccur("a c a", "b", 2).count == cnf.cooccur("a c a", "b", 2).count == 1
    assert exact.cooccur("a c a", "b", 4).count == 1 and cnf.cooccur("a c a", "b", 4).count == 0


def test_approx_is_carried_from_the_engine(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["alpha beta " * 50, "alpha gamma beta " * 30])
    build_infinigram_index([src], tmp_path / "ig", progress=False)
    ig = InfiniGramLocal(tmp_path / "ig", cooccur="cnf", max_clause_freq=5)
    res = ig.cooccur("alpha", "beta", 3)
    assert res.approx and res.count > 0
    assert not InfiniGramLocal(tmp_path / "ig", cooccur="cnf").cooccur("alpha", "beta", 3).approx


def test_token_level_index_built_elsewhere(tmp_path):
    """A u16 index whose token ids come from a caller-supplied tokenizer (here: a word vocabulary)."""
    docs = [["the", "cat", "sat"], ["a", "cat", "and", "the", "dog"], ["the", "cat"]]
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
    offsets, pos = [], 0
    with open(tmp_path / "tokenized.0", "wb") as fh:
        for d in docs:
            body = b"\xff\xff" + np.array([vocab[w] for w in d], dtype=np.uint16).tobytes()
            offsets.append(pos)
            fh.write(body)
            pos += len(body)
    np.array(offsets, dtype=np.uint64).tofile(tmp_path / "offset.0")
    write_suffix_array(tmp_path / "tokenized.0", token_width=2)
    with pytest.raises(IndexOpenError, match="tokenizer"):
        InfiniGramLocal(tmp_path)

    def encode(text):
        return [vocab[w] for w in text.split()]

    ig = InfiniGramLocal(tmp_path, encode=encode, token_dtype="u16")
    assert ig.corpus.tokens == 10 and ig.corpus.documents == 3
    assert [c.count for c in ig.count_many(["the cat", "cat", "dog", "cat the"])] == [2, 3, 1, 0]
    assert ig.cooccur("cat", "dog", 3).count == 1 and ig.cooccur("cat", "dog", 2).count == 0
    assert ig.cooccur("sat", "dog", 100).count == 0  # different documents


def test_rebuild_swaps_and_errors_are_typed(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["Hamlet was written by Shakespeare."])
    out = tmp_path / "ig"
    build_infinigram_index([src], out, progress=False)
    before = InfiniGramLocal(out)
    write_jsonl(src, ["Hamlet and Hamlet again."])
    build_infinigram_index([src], out, progress=False)
    assert InfiniGramLocal(out).count("hamlet").count == 2
    assert before.count("hamlet").count == 1  # an open reader keeps answering from the old files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    (tmp_path / "plain").mkdir()
    with pytest.raises(OutputError, match="refusing"):
        build_infinigram_index([src], tmp_path / "plain", progress=False)
    with pytest.raises(IndexSettingsError):
        InfiniGramLocal(out, require=Normalizer(case_fold=False))
    meta = json.loads((out / "quco.json").read_text())
    (out / "quco.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(IndexFormatError):
        InfiniGramLocal(out)
    with pytest.raises(IndexOpenError, match="not found"):
        InfiniGramLocal(tmp_path / "missing")
    with pytest.raises(QueryError):
        before.count("   ")
    with pytest.raises(QueryError):
        InfiniGramLocal(tmp_path / "plain", cooccur="fuzzy")


def test_sigterm_during_build_leaves_nothing(tmp_path):
    big = tmp_path / "big.jsonl"
    line = json.dumps({"text": " ".join(f"word{i % 5000}" for i in range(2000))}) + "\n"
    big.write_text(line * 3000)
    out = tmp_path / "ig"
    code = (
        "import sys; from quco.index.infinigram.build import build_infinigram_index; "
        f"build_infinigram_index([{str(big)!r}], {str(out)!r}, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline and not any(p.name.startswith(".ig.building") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode != 0
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ig")]


def test_cli_build_info_and_check(tmp_path, capsys):
    src = write_jsonl(tmp_path / "c.jsonl", ["Hamlet is a tragedy written by William Shakespeare."])
    out = tmp_path / "ig"
    assert cli(["index", "build", str(src), "--backend", "infinigram", "--out", str(out), "--no-progress"]) == 0
    assert "built" in capsys.readouterr().out
    assert cli(["index", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 8
    assert cli(["check", "Who wrote Hamlet?", "--index", str(out), "--model", "rules", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "infinigram-local" and report["corpus_tokens"] == 8
    assert cli(["index", "build", str(src), "--backend", "infinigram", "--out", str(out), "--no-text", "--force",
                "--no-progress"]) == 0
    assert not (out / "text.bin").exists() and (out / "docs.bin").exists()


def test_titles_passages_provenance_and_bridges_as_the_duckdb_index(tmp_path):
    """A quco-built infini-gram index keeps each document's id, title and text beside the suffix
    array (``quco.index.records``): provenance, titles, passages, articles and multi-hop bridges
    come out as on the DuckDB index of the same documents. Built without text: titles only."""
    from test_bridges import DOCS, QUESTION

    from quco.decide.answer import AnswerScorer
    from quco.extract import Extractor

    src = write_jsonl(tmp_path / "c.jsonl", DOCS)
    build_index([src], tmp_path / "i.duckdb", progress=False)
    build_infinigram_index([src], tmp_path / "ig", progress=False)
    build_infinigram_index([src], tmp_path / "bare", progress=False, store_text=False)
    duck, ig, bare = DuckDBIndex(tmp_path / "i.duckdb"), InfiniGramLocal(tmp_path / "ig"), InfiniGramLocal(tmp_path / "bare")
    phrases = ["Quennic Society", "Keswin Guild", "Gorland", "Nowhere Land"]
    assert ig.titles_many(phrases) == duck.titles_many(phrases)
    assert ig.passages_many(phrases, window=5) == duck.passages_many(phrases, window=5)
    pairs = [("Zorblat Journal", "Quennic Society"), ("Keswin Guild", "Orla Tamsin")]
    assert ig.provenance_many(pairs) == duck.provenance_many(pairs)
    assert ig.in_articles_many([("Keswin Guild", "Orla Tamsin")]) == duck.in_articles_many([("Keswin Guild", "Orla Tamsin")])
    rules = Extractor("rules")
    on_ig, on_duck = (AnswerScorer(b, rules).score(QUESTION, "Marvin Pellwood") for b in (ig, duck))
    assert on_ig.claims[0].bridge is not None and on_ig.claims[0].bridge == on_duck.claims[0].bridge
    assert bare.titles_many(phrases) == duck.titles_many(phrases)
    with pytest.raises(QueryError, match="no document text"):
        bare.passages_many(["Quennic Society"])
    (prov,) = bare.provenance_many(pairs[:1])
    assert [(s.doc_id, s.title, s.text) for s in prov.sources] == [("j", "Zorblat Journal", None)]


def test_token_level_tokenizer_from_config_is_checked(tmp_path):
    from quco.errors import ConfigError
    from quco.index.open import open_backend

    (tmp_path / "ig").mkdir()
    with pytest.raises(ConfigError, match="hf:"):
        open_backend(tmp_path / "ig", tokenizer="llama", token_dtype="u16")
    try:
        import transformers  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="transformers"):
            open_backend(tmp_path / "ig", tokenizer="hf:meta-llama/Llama-2-7b-hf", token_dtype="u16")


def test_exact_mode_has_a_work_budget(tmp_path):
    from quco.backends.engine import WorkBudgetExceeded

    texts = [f"the common word and the other word number {i % 7}" + (" rare pair" if i % 50 == 0 else "")
             for i in range(400)]
    build_infinigram_index([write_jsonl(tmp_path / "c.jsonl", texts)], tmp_path / "ig", progress=False)
    exact = InfiniGramLocal(tmp_path / "ig", budget=1_000_000)
    small = InfiniGramLocal(tmp_path / "ig", budget=100, zero_check=1)  # enumerate at most 100 occurrences
    docs = [small.normalizer.tokens(t) for t in texts]
    for a, b, w in [("the", "rare pair", 10), ("rare pair", "the", 3), ("word number 3", "common", 5)]:
        want = brute_cooccur(docs, small.normalizer.tokens(a), small.normalizer.tokens(b), w)
        got = small.cooccur(a, b, w)
        assert got.count == want == exact.cooccur(a, b, w).count and not got.approx, (a, b)
    truth, est = exact.cooccur("common word", "other word", 5), small.cooccur("common word", "other word", 5)
    assert not truth.approx and est.approx and abs(est.count - truth.count) <= 0.2 * truth.count
    with pytest.raises(WorkBudgetExceeded):  # both frequent, never together: unknown, not 0
        small.cooccur("common word", "other word", 0)
    assert exact.cooccur("common word", "other word", 0).count == 0
