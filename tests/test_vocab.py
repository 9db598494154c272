"""The shared vocabulary of a sharded index: same answers with it, without it, and after shards change."""

import json
import logging

import numpy as np
from conftest import write_jsonl
from test_sources_cli import assert_one_line_error, run_cli

from quco.index.checksums import manifest_checksum
from quco.index.mmap.reader import MmapIndex
from quco.index.mmap.vocab import SharedVocabulary, save_vocabulary, union_of
from quco.index.sharded.build import build_sharded_index, vocabulary_status
from quco.index.sharded.reader import open_sharded

DOCS = ["Ada Lovelace wrote notes on the Analytical Engine.", "Charles Babbage designed the Analytical Engine.",
        "Ada Lovelace met Charles Babbage in London.", "The engine was never built in London."]


class FakeSegment:
    """A segment's word table, as the vocabulary reads it, from words and forced hashes."""

    def __init__(self, words: dict[bytes, tuple[int, int]]):  # word -> (hash, count)
        order = sorted(words, key=lambda w: words[w][0])
        self.hash = np.array([words[w][0] for w in order], dtype=np.uint64)
        self.cnt = np.array([words[w][1] for w in order], dtype=np.uint32)
        self.words = b"".join(order)
        self.word_off = np.concatenate(([0], np.cumsum([len(w) for w in order]))).astype(np.int64)

    def word_ids(self, tokens, raws, hs, h_list):
        out = []
        for raw, h in zip(raws, h_list):
            i = int(self.hash.searchsorted(np.uint64(h)))
            ok = i < len(self.hash) and int(self.hash[i]) == h and \
                self.words[self.word_off[i]: self.word_off[i + 1]] == raw
            out.append(i if ok else -1)
        return out


def test_two_words_with_one_hash_in_different_shards_are_told_apart(tmp_path):
    # "alpha" and "omega" share hash 7 (a 64-bit collision, forced): each is found only in its own
    # shard, with its own count; a third word shared by both shards is found in both.
    segs = [FakeSegment({b"alpha": (7, 3), b"beta": (9, 5)}), FakeSegment({b"omega": (7, 2), b"beta": (9, 4)})]
    union, ids, cnt = union_of(segs)
    assert union.tolist() == [7, 9] and ids.tolist() == [[0, -2], [1, 1]]
    save_vocabulary(tmp_path, union, ids, cnt, [])
    vocab = SharedVocabulary(tmp_path, segs, [])  # no manifests: the fingerprint [] matches
    toks = ["alpha", "omega", "beta", "gamma"]
    hs = [7, 7, 9, 11]
    found = vocab.lookup(toks, [t.encode() for t in toks], np.array(hs, dtype=np.uint64), hs)
    assert found == [((0, -1), (3, 0)), ((-1, 0), (0, 2)), ((1, 1), (5, 4)), ((-1, -1), (0, 0))]


def test_vocabulary_answers_match_and_stale_ones_are_refused(tmp_path, caplog):
    src = write_jsonl(tmp_path / "c.jsonl", DOCS * 3)
    build_sharded_index([src], tmp_path / "s", shards=3, progress=False, processes=1)
    assert vocabulary_status(tmp_path / "s") == "current"
    shared = open_sharded(tmp_path / "s")
    assert shared.vocabulary is not None
    dirs = [tmp_path / "s" / f"shard-{k:04d}" for k in range(3)]
    searched = MmapIndex(dirs[0], more=dirs[1:])
    phrases = ["ada lovelace", "analytical engine", "london", "never", "charles babbage designed", "absent words"]
    pairs = [("Ada Lovelace", "Charles Babbage"), ("London", "engine"), ("absent", "London")]
    assert shared.count_many(phrases) == searched.count_many(phrases)
    assert shared.cooccur_many(pairs, 5) == searched.cooccur_many(pairs, 5)
    # A shard changes (extended with new documents): the old vocabulary no longer describes it.
    extra = write_jsonl(tmp_path / "extra.jsonl", ["Ada Lovelace and Grace Hopper never met."])
    manifest = dirs[1] / "quco-index.json"
    meta = json.loads(manifest.read_text())
    meta["built_at"] = "rebuilt"
    meta["checksum"] = manifest_checksum(meta)  # a legitimate change: the manifest stays whole
    manifest.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="quco.index"):
        stale = open_sharded(tmp_path / "s")
    assert stale.vocabulary is None and "quco index vocab" in caplog.text
    assert stale.count_many(phrases) == searched.count_many(phrases)
    assert vocabulary_status(tmp_path / "s").startswith("not used: the shards changed")
    proc = run_cli("index", "vocab", str(tmp_path / "s"))
    assert proc.returncode == 0 and "shared vocabulary" in proc.stdout, proc.stderr
    assert open_sharded(tmp_path / "s").vocabulary is not None
    # `quco index add` to one shard rewrites the set's vocabulary, and the new words are found.
    proc = run_cli("index", "add", str(dirs[2]), str(extra), "--no-progress")
    assert proc.returncode == 0 and "rewrote the shared vocabulary" in proc.stdout, proc.stderr
    after = open_sharded(tmp_path / "s")
    assert after.vocabulary is not None and after.count("grace hopper").count == 1
    assert after.count_many(phrases)[0].count == searched.count("ada lovelace").count + 1
    # ... and so does `quco index compact` of that shard (its two segments become one).
    proc = run_cli("index", "compact", str(dirs[2]), "--no-progress")
    assert proc.returncode == 0 and "rewrote the shared vocabulary" in proc.stdout, proc.stderr
    compacted = open_sharded(tmp_path / "s")
    assert compacted.vocabulary is not None and compacted.count_many(phrases) == after.count_many(phrases)


def test_index_vocab_refuses_what_is_not_a_sharded_index(tmp_path):
    assert_one_line_error(run_cli("index", "vocab", str(tmp_path)), "not a sharded index")

