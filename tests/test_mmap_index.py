"""The memory-mapped segmented index: exact against brute force below the work budget (any number
of segments), flagged estimates above it and never a false zero, atomic build, incremental add."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CORPUS_FILES, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_index_exact import SEPARATORS, WORDS, brute_cooccur, brute_count

from quco.backends.base import Count
from quco.decide.lookups import cooccurrences_of
from quco.errors import BuildError, IndexOpenError, OutputError
from quco.files.sources import Reading
from quco.index.mmap.build import add_documents, build_mmap_index, compact_index
from quco.index.mmap.merge import MAX_POSITIONS
from quco.index.mmap.reader import MmapIndex, WorkBudgetExceeded
from quco.index.open import verify
from quco.normalize import Normalizer

doc_strategy = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=1, max_size=40).map(
    lambda parts: "".join(w + s for w, s in parts))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(doc_strategy, min_size=1, max_size=10), case_fold=st.booleans(),
       segment_tokens=st.sampled_from([8, 30, 10_000]), merge=st.sampled_from([None, 40, MAX_POSITIONS]),
       data=st.data())
def test_exact_below_the_budget_on_any_segmentation(tmp_path_factory, texts, case_fold, segment_tokens, merge, data):
    """Any segmentation, unmerged (None) or compacted into segments of at most ``merge`` positions."""
    tmp = tmp_path_factory.mktemp("m")
    norm = Normalizer(case_fold=case_fold)
    texts = [t if norm.tokens(t) else "gamma" for t in texts]
    src = write_jsonl(tmp / "c.jsonl", texts)
    build_mmap_index([src], tmp / "ix", reading=Reading(norm), progress=False, segment_tokens=segment_tokens, workers=2,
                     merge=False)
    if merge:
        compact_index(tmp / "ix", progress=False, max_positions=merge)
    ix = MmapIndex(tmp / "ix", budget=100_000)  # far above this corpus: every answer exact
    docs = [norm.tokens(t) for t in texts]
    assert ix.corpus.tokens == sum(map(len, docs)) and ix.corpus.documents == len(docs)
    phrases = []
    for _ in range(10):
        d = data.draw(st.sampled_from(docs))
        k, i = data.draw(st.integers(1, 6)), data.draw(st.integers(0, len(d) - 1))
        phrases.append(d[i: i + k])
        phrases.append(data.draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))
    for words in phrases:
        c = ix.count(" ".join(words))
        assert c.count == brute_count(docs, norm.tokens(" ".join(words))) and not c.approx
    for _ in range(10):
        a, b = (" ".join(data.draw(st.sampled_from(phrases))[:3]) for _ in range(2))
        w = data.draw(st.sampled_from([0, 1, 3, 1000]))
        c = ix.cooccur(a, b, w)
        assert c.count == brute_cooccur(docs, norm.tokens(a), norm.tokens(b), w) and not c.approx, (a, b, w)


@pytest.mark.parametrize("seed", range(3))
def test_at_a_small_budget_every_exact_answer_is_exact(tmp_path, seed):
    """Budget 100 on ~4,000 tokens of a few words: every path of the co-occurrence search runs (each
    side enumerated, the rarer side enumerated, candidates verified near the other side, samples, the
    exact re-run of a sample that found nothing). Whatever is not flagged ``approx`` equals brute
    force; a flagged estimate is never a co-occurrence that does not exist."""
    import random

    rnd = random.Random(seed)
    words = WORDS[:5] + ["rare", "seldom"]
    weights = [30, 30, 20, 10, 10, 1, 1]
    texts = [" ".join(rnd.choices(words, weights, k=rnd.randint(5, 80))) for _ in range(90)]
    src = write_jsonl(tmp_path / "c.jsonl", texts)
    build_mmap_index([src], tmp_path / "ix", progress=False, segment_tokens=rnd.choice([1500, 100_000]), workers=2)
    norm = Normalizer()
    docs = [norm.tokens(t) for t in texts]
    phrases = [" ".join(rnd.choices(words, weights, k=rnd.randint(1, 3))) for _ in range(40)] + ["rare", "seldom"]
    small, seen = MmapIndex(tmp_path / "ix", budget=100), {"exact": 0, "approx": 0, "unknown": 0}
    for _ in range(300):
        a, b, w = rnd.choice(phrases), rnd.choice(phrases), rnd.choice([0, 2, 10, 1000])
        truth = brute_cooccur(docs, norm.tokens(a), norm.tokens(b), w)
        try:
            got = small.cooccur(a, b, w)
        except WorkBudgetExceeded:
            seen["unknown"] += 1
            continue
        if got.approx:
            assert truth > 0 and got.count >= 1, (a, b, w)
        else:
            assert got.count == truth, (a, b, w)
        seen["approx" if got.approx else "exact"] += 1
    assert seen["exact"] > 50 and seen["approx"] > 20, seen  # the property was tested, not skipped


@pytest.mark.parametrize("backend", ["mmap", "duckdb"])
def test_above_the_budget_estimates_are_flagged_and_never_zero(tmp_path, backend):
    # 400 documents: "common word" everywhere, "rare pair" in a few, "never seen" nowhere together.
    texts = [f"the common word and the other word number {i % 7}" + (" rare pair" if i % 50 == 0 else "")
             for i in range(400)]
    src = write_jsonl(tmp_path / "c.jsonl", texts)
    if backend == "mmap":
        build_mmap_index([src], tmp_path / "ix", progress=False, segment_tokens=1000, workers=2)
        Index = MmapIndex
    else:
        from quco.index.duckdb.build import build_index
        from quco.index.duckdb.reader import DuckDBIndex as Index

        build_index([src], tmp_path / "ix", progress=False)
    exact, small = Index(tmp_path / "ix", budget=1_000_000), Index(tmp_path / "ix", budget=100)
    for phrase in ("common word", "the other word"):
        truth, est = exact.count(phrase), small.count(phrase)
        assert not truth.approx and est.approx and abs(est.count - truth.count) <= 0.2 * truth.count, phrase
    assert not small.count("the").approx and small.count("the").count == 800  # one word: always exact
    assert small.count("word number 3") == exact.count("word number 3")  # rarest word within budget: exact
    truth, est = exact.cooccur("common word", "other word", 5), small.cooccur("common word", "other word", 5)
    assert est.approx and abs(est.count - truth.count) <= 0.2 * truth.count
    # A frequent word near a rare phrase is answered exactly from the rare side.
    assert small.cooccur("the", "rare pair", 10) == exact.cooccur("the", "rare pair", 10)
    assert not small.cooccur("the", "rare pair", 10).approx
    # Both sides frequent and never together: unknown, never a false zero.
    # window 0: never at the same position. No hit in the sample: settled exactly ...
    assert small.cooccur("common word", "other word", 0) == exact.cooccur("common word", "other word", 0)
    assert exact.cooccur("common word", "other word", 0).count == 0
    with pytest.raises(WorkBudgetExceeded):  # ... unless that would cost more than zero_check budgets
        Index(tmp_path / "ix", budget=100, zero_check=1).cooccur("common word", "other word", 0)
    assert small.cooccur("word number 1", "word number 2", 0).count == 0  # enumerable: an exact zero
    assert small.count("word the common") == Count("word the common", 0, False)  # no hit: settled exactly
    with pytest.raises(WorkBudgetExceeded):  # ... unless that would cost more than zero_check budgets
        Index(tmp_path / "ix", budget=100, zero_check=1).count("word the common")


def test_a_pair_beyond_the_budget_costs_its_batch_no_second_pass(tmp_path, monkeypatch):
    """One unanswerable pair fails its batch call and the caller asks again item by item: the others
    are answered from the batch's work, each searched once, and only that pair is unknown."""
    texts = [f"the common word and the other word number {i % 7}" + (" rare pair" if i % 50 == 0 else "")
             for i in range(400)]
    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", texts)], tmp_path / "ix", progress=False, workers=2)
    ix = MmapIndex(tmp_path / "ix", budget=100, zero_check=1)
    searched = []
    search = MmapIndex._cooccur

    def counted(self, a, b, window, budget=None):
        if budget is None:  # not the exact re-run inside one search
            searched.append((a, b))
        return search(self, a, b, window, budget)

    monkeypatch.setattr(MmapIndex, "_cooccur", counted)
    pairs = [("the", "rare pair"), ("word number 1", "rare pair"), ("common word", "other word"), ("rare pair", "rare pair")]
    got = cooccurrences_of(ix, pairs, 0)
    assert got[pairs[2]][0] is None and "work budget" in got[pairs[2]][2]
    assert [got[p][0] for p in (pairs[0], pairs[1], pairs[3])] == [0, 0, 8]
    assert sorted(searched) == sorted(pairs)  # each searched once, the unanswerable one too


def test_frequent_phrases_a_probe_finds_apart_skip_the_full_sample(tmp_path, monkeypatch):
    """Both sides frequent: a sample a tenth the size comes first. Found apart, the pair goes
    straight to the exact check (most such pairs never co-occur); found together, the full sample
    estimates it as before."""
    texts = [f"the common word and the other word number {i % 7}" for i in range(400)]
    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", texts)], tmp_path / "ix", progress=False, workers=2)
    ix, exact = MmapIndex(tmp_path / "ix", budget=100), MmapIndex(tmp_path / "ix", budget=1_000_000)
    sizes = []
    sample = MmapIndex._sample
    monkeypatch.setattr(MmapIndex, "_sample", lambda self, s, ids, j0, k: (sizes.append(k), sample(self, s, ids, j0, k))[1])
    apart = ix.cooccur("common word", "other word", 0)
    assert apart == exact.cooccur("common word", "other word", 0) and not apart.approx and apart.count == 0
    assert sizes and max(sizes) <= 10  # the probe only, then the exact check: no sample of the full 100
    sizes.clear()
    together = ix.cooccur("common word", "other word", 5)
    assert together.approx and max(sizes) > 50  # found by the probe: the full sample estimates it
    truth = exact.cooccur("common word", "other word", 5).count
    assert abs(together.count - truth) <= 0.2 * truth


def test_a_frequent_phrase_near_a_rare_word_only_across_documents_is_an_exact_zero(tmp_path):
    """Hundreds of candidates of "alpha beta" within 1,000 tokens of "rare", all in the documents
    beside it: more than the budget lets be verified before documents are found, none in a
    document of "rare" — an exact 0, as with a budget that enumerates everything."""
    texts = [t for _ in range(60) for t in ("rare", "alpha alpha beta " * 10)]
    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", texts)], tmp_path / "ix", progress=False, workers=2)
    small, exact = MmapIndex(tmp_path / "ix", budget=100), MmapIndex(tmp_path / "ix", budget=1_000_000)
    assert small.cooccur("alpha beta", "rare", 1000) == exact.cooccur("alpha beta", "rare", 1000)
    assert exact.cooccur("alpha beta", "rare", 1000).count == 0


def test_add_documents_is_exact_and_atomic(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", ["Hamlet is a play", "Paris is in France"])
    b = write_jsonl(tmp_path / "b.jsonl", ["Hamlet was written by William Shakespeare"])
    build_mmap_index([a], tmp_path / "ix", progress=False)
    before = MmapIndex(tmp_path / "ix")
    stats = add_documents(tmp_path / "ix", [b], progress=False)
    after = MmapIndex(tmp_path / "ix")
    assert stats.documents == 3 and after.count("hamlet").count == 2 and before.count("hamlet").count == 1
    assert after.cooccur("Hamlet", "William Shakespeare", 10).count == 1
    both = write_jsonl(tmp_path / "both.jsonl", ["Hamlet is a play", "Paris is in France",
                                                 "Hamlet was written by William Shakespeare"])
    build_mmap_index([both], tmp_path / "one", progress=False)
    assert MmapIndex(tmp_path / "one").corpus == after.corpus
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_its_source_and_strangers_and_reports_damage(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["alpha beta"])
    with pytest.raises(OutputError):
        build_mmap_index([src], src, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("keep")
    with pytest.raises(OutputError):
        build_mmap_index([src], tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "x.txt").read_text() == "keep"
    build_mmap_index([src], tmp_path / "ix", progress=False)
    seg = next((tmp_path / "ix").glob("seg-*"))
    (seg / "postings.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(IndexOpenError, match="rebuild"):
        MmapIndex(tmp_path / "ix")
    (tmp_path / "ix" / "quco-index.json").write_text("{")
    with pytest.raises(IndexOpenError, match="damaged"):
        MmapIndex(tmp_path / "ix")


def test_kill_during_build_keeps_the_old_index(tmp_path):
    if not CORPUS_FILES:
        pytest.skip("../shared/data/corpus is absent (it ships beside the repo in CI)")
    small = write_jsonl(tmp_path / "s.jsonl", ["alpha beta"])
    build_mmap_index([small], tmp_path / "ix", progress=False)
    manifest = (tmp_path / "ix" / "quco-index.json").read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "quco.cli.main", "index", "build", *map(str, CORPUS_FILES * 4), "--out",
                             str(tmp_path / "ix"), "--backend", "mmap", "--no-progress"], start_new_session=True)
    time.sleep(1.5)
    assert proc.poll() is None, "the build finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "ix" / "quco-index.json").read_bytes() == manifest
    assert MmapIndex(tmp_path / "ix").count("alpha").count == 1
    build_mmap_index([small], tmp_path / "ix", progress=False)  # the next build cleans up after the killed one
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_agrees_with_the_duckdb_index_on_the_shared_corpus(shared_index, tmp_path):
    from conftest import SHARED

    from quco.index.duckdb.reader import DuckDBIndex

    shared_index = DuckDBIndex(shared_index.path, budget=10_000_000)  # exact everywhere, like ix below
    popqa = [json.loads(line) for line in open(SHARED / "eval" / "popqa_1000.jsonl")][:200]
    phrases = [r["subj"] for r in popqa] + [r["obj"] for r in popqa] + ["the", "of the", "new york city"]
    pairs = [(r["subj"], r["obj"]) for r in popqa] + [("the", "of"), ("new york", "city")]
    want_counts = [c.count for c in shared_index.count_many(phrases)]
    want_pairs = [c.count for c in shared_index.cooccur_many(pairs, 1000)]
    for merge, segments in ((False, 5), (True, 1)):  # five segments as built, then merged into one
        build_mmap_index(CORPUS_FILES, tmp_path / "ix", progress=False, segment_tokens=500_000, merge=merge,
                         force=True)
        ix = MmapIndex(tmp_path / "ix", budget=10_000_000)
        assert len(ix.segments) == segments and ix.corpus == shared_index.corpus
        assert [c.count for c in ix.count_many(phrases)] == want_counts
        assert [c.count for c in ix.cooccur_many(pairs, 1000)] == want_pairs


def test_compaction_is_exact_atomic_and_falls_back_on_a_hash_collision(tmp_path, monkeypatch):
    import quco.index.mmap.merge as merge_mod

    texts = [f"Hamlet met Ophelia in room {i} of the castle" if i % 3 else f"the castle had {i} rooms" for i in range(60)]
    build_mmap_index([write_jsonl(tmp_path / "a.jsonl", texts[:20])], tmp_path / "ix", progress=False)
    for k, part in enumerate((texts[20:40], texts[40:])):
        add_documents(tmp_path / "ix", [write_jsonl(tmp_path / f"b{k}.jsonl", part)], progress=False)
    queries = ["hamlet", "the castle", "room 7", "rooms"]
    before = MmapIndex(tmp_path / "ix")
    assert len(before.segments) == 3
    want = ([c.count for c in before.count_many(queries)], before.cooccur("Hamlet", "rooms", 1000).count)

    def broken(*args):
        raise OSError("disk full")

    with monkeypatch.context() as m:  # a failed compaction leaves the index as it was, and no debris
        m.setattr(merge_mod, "_write_stream", broken)
        with pytest.raises(BuildError, match="disk full; the index is unchanged"):  # one line, exit 5
            compact_index(tmp_path / "ix", progress=False)
    assert len(MmapIndex(tmp_path / "ix").segments) == 3 and len(list((tmp_path / "ix").glob("seg-*"))) == 3
    with monkeypatch.context() as m:  # a word hash shared by two different words: left unmerged, still exact
        m.setattr(merge_mod, "_fingerprints", lambda words, off: __import__("numpy").random.randint(
            0, 2**62, len(off) - 1).astype("uint64"))
        assert compact_index(tmp_path / "ix", progress=False).segments == 3
    stats = compact_index(tmp_path / "ix", progress=False)
    after = MmapIndex(tmp_path / "ix")
    assert stats.segments == 1 and len(list((tmp_path / "ix").glob("seg-*"))) == 1
    assert ([c.count for c in after.count_many(queries)], after.cooccur("Hamlet", "rooms", 1000).count) == want
    # A reader that opened the old segments keeps answering from them (their files stay mapped).
    assert [c.count for c in before.count_many(queries)] == want[0]


def test_an_index_of_the_previous_format_asks_for_a_rebuild(tmp_path):
    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", ["alpha beta"])], tmp_path / "ix", progress=False)
    manifest = tmp_path / "ix" / "quco-index.json"
    meta = json.loads(manifest.read_text())
    meta["format_version"] = 1
    manifest.write_text(json.dumps(meta))
    with pytest.raises(IndexOpenError, match="older .* rebuild it with `quco index build`"):
        MmapIndex(tmp_path / "ix")
    out = subprocess.run([sys.executable, "-m", "quco.cli.main", "check", "Who wrote Hamlet?", "--index",
                          str(tmp_path / "ix")], capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr and "rebuild" in out.stderr


# -- checksums: a damaged index is refused, never answered as exact ------------------------------
def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: max(0, len(data) - 7)]
    elif how == "bit-flipped":
        data[len(data) // 2] ^= 0x04
    else:  # a zeroed page
        start = (len(data) // 2) & ~4095
        data[start:start + 4096] = bytes(min(4096, len(data) - start))
        if bytes(data) == path.read_bytes():
            data[-1] ^= 0xFF  # the page was zero already: damage one byte that is not
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "bit-flipped", "zeroed-page"])
def test_every_damaged_segment_file_is_refused_naming_it(tmp_path, how):
    texts = [f"Hamlet met Ophelia in room {i} of the castle by the sea" for i in range(400)]
    src = write_jsonl(tmp_path / "c.jsonl", texts)
    build_mmap_index([src], tmp_path / "good", progress=False)
    files = sorted(p.name for p in next((tmp_path / "good").glob("seg-*")).iterdir())
    assert len(files) >= 9
    for name in files:
        ix = tmp_path / f"ix-{name}"
        shutil.copytree(tmp_path / "good", ix)
        target = next(ix.glob("seg-*")) / name
        _damage(target, how)
        with pytest.raises(IndexOpenError, match=re.escape(str(target))):
            MmapIndex(ix)
        assert verify(ix)["damaged"] and str(target) in verify(ix)["damaged"][0]
    assert verify(tmp_path / "good")["damaged"] == []


def test_a_manifest_edited_by_hand_is_refused(tmp_path):
    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", ["alpha beta"])], tmp_path / "ix", progress=False)
    manifest = tmp_path / "ix" / "quco-index.json"
    meta = json.loads(manifest.read_text())
    meta["tokens"] += 1
    manifest.write_text(json.dumps(meta))
    with pytest.raises(IndexOpenError, match="quco-index.json: damaged"):
        MmapIndex(tmp_path / "ix")


def test_a_large_index_is_verified_in_the_background_and_never_answers_exact_meanwhile(tmp_path, monkeypatch):
    import time

    import quco.index.checksums as checksums
    from quco.errors import BackendError

    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", ["Hamlet met Ophelia"] * 50)], tmp_path / "ix", progress=False)
    monkeypatch.setattr(checksums, "VERIFY_AT_OPEN_BYTES", 0)  # every index counts as large
    monkeypatch.setenv("QUCO_CACHE_DIR", str(tmp_path / "elsewhere"))  # as if copied here: not stamped at build
    release = threading.Event()
    real = checksums.file_problem
    monkeypatch.setattr(checksums, "file_problem", lambda path, want: (release.wait(10), real(path, want))[1])
    ix = MmapIndex(tmp_path / "ix")
    assert all(c.approx for c in ix.count_many(["hamlet", "ophelia"]))  # not yet verified: not exact
    release.set()
    deadline = time.time() + 10
    while time.time() < deadline and any(c.approx for c in ix.count_many(["hamlet"])):
        time.sleep(0.05)
    assert [(c.count, c.approx) for c in ix.count_many(["hamlet"])] == [(50, False)]
    _damage(next((tmp_path / "ix").glob("seg-*")) / "postings.npy", "bit-flipped")
    damaged = MmapIndex(tmp_path / "ix")
    deadline = time.time() + 10
    with pytest.raises(BackendError, match="postings.npy: damaged"):
        while time.time() < deadline:
            damaged.count_many(["hamlet"])
            time.sleep(0.05)


def test_a_verified_large_index_opens_verified_until_a_file_changes(tmp_path, monkeypatch):
    import time

    import quco.index.checksums as checksums
    from quco.errors import BackendError

    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", ["Hamlet met Ophelia"] * 50)], tmp_path / "ix", progress=False)
    monkeypatch.setattr(checksums, "VERIFY_AT_OPEN_BYTES", 0)  # every index counts as large
    assert not MmapIndex(tmp_path / "ix").count_many(["hamlet"])[0].approx  # stamped at build: verified at once
    monkeypatch.setenv("QUCO_CACHE_DIR", str(tmp_path / "cache"))  # as if copied here: not stamped
    hashed = []
    real = checksums.file_problem
    monkeypatch.setattr(checksums, "file_problem", lambda path, want: (hashed.append(path), real(path, want))[1])
    first = MmapIndex(tmp_path / "ix")
    deadline = time.time() + 10
    while time.time() < deadline and first.count_many(["hamlet"])[0].approx:
        time.sleep(0.02)
    assert hashed and not first.count_many(["hamlet"])[0].approx
    before = list(hashed)
    again = MmapIndex(tmp_path / "ix")  # the stamp vouches for the unchanged files: exact at once, nothing hashed
    assert not again.count_many(["hamlet"])[0].approx and hashed == before
    assert list((tmp_path / "cache" / "verified").glob("*.json")) and not list((tmp_path / "ix").glob("*verified*"))
    _damage(next((tmp_path / "ix").glob("seg-*")) / "postings.npy", "bit-flipped")  # rewritten: new stats
    damaged = MmapIndex(tmp_path / "ix")  # hashed again, and the damage found
    deadline = time.time() + 10
    with pytest.raises(BackendError, match="postings.npy: damaged"):
        while time.time() < deadline:
            damaged.count_many(["hamlet"])
            time.sleep(0.02)


def test_a_worker_dying_after_its_input_fails_the_build_instead_of_hanging(tmp_path, monkeypatch):
    """A worker that dies once it has read all its batches (a crash in native code, a kill) leaves
    no result: the build says so instead of waiting for one forever."""
    import quco.index.mmap.build as build

    def dies(queue, *args, **kwargs):
        while queue.get() is not None:
            pass
        os._exit(3)

    monkeypatch.setattr(build, "_worker", dies)
    src = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "Hamlet is a play."}])
    t0 = time.monotonic()
    with pytest.raises(BuildError, match="worker died"):
        build_mmap_index([src], tmp_path / "i.qidx", progress=False)
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "i.qidx").exists()
