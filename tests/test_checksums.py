"""Checksums of every index format quco writes: a damaged file is refused naming it (or, for the
sharded index's shared vocabulary, not used), never answered as exact; `verify` reports each."""

import json
import re
import shutil

import pytest
from conftest import write_jsonl

from quco.errors import IndexOpenError
from quco.index.infinigram.build import build_infinigram_index
from quco.index.infinigram.reader import InfiniGramLocal
from quco.index.open import verify
from quco.index.sharded.build import build_sharded_index
from quco.index.sharded.reader import open_sharded

TEXTS = [f"Hamlet met Ophelia in room {i} of the castle by the sea" for i in range(300)]


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def infinigram(tmp_path_factory):
    d = tmp_path_factory.mktemp("ig")
    build_infinigram_index([write_jsonl(d / "c.jsonl", TEXTS)], d / "ix", progress=False)
    return d / "ix"


def test_every_file_of_a_quco_built_infinigram_index_is_checked(infinigram, tmp_path):
    meta = json.loads((infinigram / "quco.json").read_text())
    assert set(meta["files"]) == {p.name for p in infinigram.iterdir()} - {"quco.json"} and meta["checksum"]
    assert verify(infinigram)["damaged"] == [] and verify(infinigram)["checked"] == len(meta["files"])
    for name in meta["files"]:
        ix = tmp_path / name
        shutil.copytree(infinigram, ix)
        _flip(ix / name)
        with pytest.raises(IndexOpenError, match=re.escape(str(ix / name))):
            InfiniGramLocal(ix)
        assert str(ix / name) in verify(ix)["damaged"][0]


def test_an_edited_infinigram_metadata_file_is_refused(infinigram, tmp_path):
    ix = tmp_path / "ix"
    shutil.copytree(infinigram, ix)
    meta = json.loads((ix / "quco.json").read_text())
    meta["tokens"] *= 2  # would halve every rate
    (ix / "quco.json").write_text(json.dumps(meta))
    with pytest.raises(IndexOpenError, match="quco.json: damaged"):
        InfiniGramLocal(ix)
    assert "quco.json: damaged" in verify(ix)["damaged"][0]


def test_a_large_infinigram_index_answers_approx_until_verified(infinigram, monkeypatch):
    import time

    import quco.index.checksums as checksums

    monkeypatch.setattr(checksums, "VERIFY_AT_OPEN_BYTES", 0)
    assert not InfiniGramLocal(infinigram).count_many(["hamlet"])[0].approx  # stamped at build: verified at once
    monkeypatch.setenv("QUCO_CACHE_DIR", str(infinigram.parent / "elsewhere"))  # as if copied here: not stamped
    release = __import__("threading").Event()
    real = checksums.file_problem
    monkeypatch.setattr(checksums, "file_problem", lambda p, w: (release.wait(10), real(p, w))[1])
    ix = InfiniGramLocal(infinigram)
    assert ix.count_many(["hamlet"])[0].approx and ix.cooccur_many([("hamlet", "ophelia")])[0].approx
    release.set()
    deadline = time.time() + 10
    while time.time() < deadline and ix.count_many(["hamlet"])[0].approx:
        time.sleep(0.02)
    assert [(c.count, c.approx) for c in ix.count_many(["hamlet"])] == [(300, False)]


def test_sharded_manifest_and_shared_vocabulary_are_checked(tmp_path):
    build_sharded_index([write_jsonl(tmp_path / "c.jsonl", TEXTS)], tmp_path / "s", shards=2, progress=False,
                        processes=1)
    assert verify(tmp_path / "s")["damaged"] == []
    want = open_sharded(tmp_path / "s").count_many(["hamlet", "ophelia castle"])
    vocab = json.loads((tmp_path / "s" / "vocab" / "vocab.json").read_text())
    assert set(vocab["files"]) == {"hash.npy", "ids.npy", "cnt.npy"}
    _flip(tmp_path / "s" / "vocab" / "cnt.npy")  # a wrong count in the vocabulary would be a wrong answer
    assert open_sharded(tmp_path / "s").count_many(["hamlet", "ophelia castle"]) == want  # answered without it
    assert "cnt.npy: damaged" in verify(tmp_path / "s")["damaged"][0]
    manifest = tmp_path / "s" / "quco-shards.json"
    meta = json.loads(manifest.read_text())
    meta["shards"] = meta["shards"][:1]  # one shard dropped: every count would be half
    manifest.write_text(json.dumps(meta))
    with pytest.raises(IndexOpenError, match="quco-shards.json: damaged"):
        open_sharded(tmp_path / "s")
    assert "quco-shards.json: damaged" in verify(tmp_path / "s")["damaged"][0]


def test_a_file_replaced_while_being_verified_is_never_stamped(tmp_path, monkeypatch):
    """A verification that hashed one file and finds another at its path when done (an index copied
    over the one being checked) neither says verified nor leaves a stamp a later open would trust."""
    import time

    from quco.index import checksums, verified

    monkeypatch.setenv("QUCO_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "data.bin"
    f.write_bytes(b"x" * 1000)
    want = checksums.file_checksum(f)
    real = checksums.file_problem

    def replaced_midway(path, expected):
        problem = real(path, expected)
        replacement = tmp_path / "other.bin"
        replacement.write_bytes(b"y" * 1000)
        replacement.replace(path)  # same size, a new file
        return problem

    monkeypatch.setattr(checksums, "file_problem", replaced_midway)
    v = checksums.Verification([(f, want)], "key", at_open_bytes=0)
    deadline = time.time() + 10
    while v.verifying and time.time() < deadline:
        time.sleep(0.01)
    assert not v.verified and v.damage is None
    assert not verified.stamped(verified.stamp_path([f], "key"), [f])
    answers = v.vouch([checksums_answer()])
    assert answers[0].approx  # never exact


def checksums_answer():
    from quco.backends.base import Count

    return Count("x", 1)
