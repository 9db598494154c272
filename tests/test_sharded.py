"""Document-sharded counts: a sharded index answers exactly like the single index over the same
corpus (any number of shards), in-process and through real `quco serve` shards on 127.0.0.1; a
shard that is killed mid-batch or slower than its timeout makes the answer unknown, with the
shard named — never a partial sum."""

import os
import socket
import threading
import time

import pytest
from conftest import write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_index_exact import SEPARATORS, WORDS
from test_serve import TOKEN, Server

from quco.backends.base import Cooccurrence, Corpus, Count
from quco.backends.remote import RemoteShard
from quco.backends.sharded import ShardedBackend, ShardFailed, ShardUnavailable
from quco.errors import BuildError, IndexSettingsError, UsageError
from quco.files.sources import Reading
from quco.index.mmap.build import build_mmap_index
from quco.index.mmap.reader import MmapIndex
from quco.index.sharded.build import build_sharded_index
from quco.index.sharded.reader import open_sharded
from quco.normalize import Normalizer

doc_strategy = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=1, max_size=30).map(
    lambda parts: "".join(w + s for w, s in parts))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(doc_strategy, min_size=4, max_size=12), shards=st.integers(1, 4), data=st.data())
def test_a_sharded_index_answers_like_the_single_index(tmp_path_factory, texts, shards, data):
    tmp = tmp_path_factory.mktemp("s")
    texts = [t if Normalizer().tokens(t) else "gamma" for t in texts]
    src = write_jsonl(tmp / "c.jsonl", texts)
    build_mmap_index([src], tmp / "one", progress=False)
    build_sharded_index([src], tmp / "many", shards=shards, progress=False, processes=2)
    one = MmapIndex(tmp / "one", budget=100_000)
    union = open_sharded(tmp / "many", budget=100_000)  # one engine over every shard's segments
    assert union.vocabulary is not None  # ... finding words in all of them through the shared vocabulary
    dirs = [tmp / "many" / f"shard-{k:04d}" for k in range(shards)]
    per_shard_search = MmapIndex(dirs[0], more=dirs[1:], budget=100_000)
    fan_out = ShardedBackend([MmapIndex(d, budget=100_000) for d in dirs])
    words = [w for w in WORDS if Normalizer().tokens(w)]
    phrases = [" ".join(data.draw(st.lists(st.sampled_from(words), min_size=1, max_size=3))) for _ in range(12)]
    pairs = [(data.draw(st.sampled_from(phrases)), data.draw(st.sampled_from(phrases))) for _ in range(8)]
    for many in (union, per_shard_search, fan_out):
        assert many.corpus == one.corpus
        assert many.count_many(phrases) == one.count_many(phrases)
        for window in (0, 3, 1000):
            assert many.cooccur_many(pairs, window) == one.cooccur_many(pairs, window)


def test_shards_must_agree_on_normalisation_and_be_possible(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", ["Alpha beta", "gamma Delta"])
    build_mmap_index([src], tmp_path / "a", progress=False)
    build_mmap_index([src], tmp_path / "b", reading=Reading(Normalizer(case_fold=False)), progress=False)
    with pytest.raises(IndexSettingsError, match="normalisation"):
        ShardedBackend([MmapIndex(tmp_path / "a"), MmapIndex(tmp_path / "b")])
    with pytest.raises(BuildError, match="more than the corpus has documents"):
        build_sharded_index([src], tmp_path / "s", shards=3, progress=False)
    with pytest.raises(UsageError):
        build_sharded_index([src], tmp_path / "s", shards=0, progress=False)
    assert not (tmp_path / "s").exists()


class _Stub:
    """An in-process shard that fails or answers as told (for the no-partial-sum rule)."""

    remote = False
    normalizer = None

    corpus = Corpus(10, 1)

    def __init__(self, name, fail=None):
        self.identity, self.fail = name, fail

    def count_many(self, phrases):
        if self.fail:
            raise self.fail
        return [Count(p, 1, False) for p in phrases]

    def cooccur_many(self, pairs, window=1000):
        return [Cooccurrence(a, b, 1, window, True) for a, b in pairs]

    def clear_caches(self):
        pass

    def close(self):
        pass


def test_one_failing_shard_makes_the_answer_unknown_and_names_it():
    from quco.backends.engine import WorkBudgetExceeded

    sharded = ShardedBackend([_Stub("a"), _Stub("b", WorkBudgetExceeded("too frequent"))])
    with pytest.raises(ShardFailed, match="shard 'b'") as err:
        sharded.count_many(["x"])
    assert err.value.shard == "b"
    assert ShardedBackend([_Stub("a"), _Stub("b")]).cooccur_many([("x", "y")]) == [Cooccurrence("x", "y", 2, 1000, True)]


# -- shards behind real `quco serve` processes ----------------------------------------------------
CORPUS = ([f"Hamlet was written by William Shakespeare in London, part {i}." for i in range(30)]
          + [f"Copenhagen is the capital of Denmark; note {i}." for i in range(30)]
          + [f"Charles Dickens wrote Oliver Twist in chapter {i}." for i in range(30)])
PHRASES = ["hamlet", "william shakespeare", "copenhagen", "denmark", "oliver twist", "london", "paris", "part 7"]
PAIRS = [("Hamlet", "William Shakespeare"), ("Copenhagen", "Hamlet"), ("Charles Dickens", "Oliver Twist")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    src = write_jsonl(d / "c.jsonl", CORPUS)
    build_mmap_index([src], d / "one", progress=False)
    build_sharded_index([src], d / "many", shards=2, progress=False)
    servers = [Server(d / "many" / f"shard-{k:04d}") for k in range(2)]
    yield d, servers
    for s in servers:
        s.stop()


def _remote(servers, timeout=5.0, proxy_port=None):
    shards = [RemoteShard(f"http://127.0.0.1:{s.port}", token=TOKEN) for s in servers]
    if proxy_port:
        shards[1] = RemoteShard(f"http://127.0.0.1:{proxy_port}", token=TOKEN, timeout=(1.0, timeout))
    return ShardedBackend(shards, timeout=timeout, retries=0, cooldown=0.0)


def test_remote_shards_answer_like_the_single_index(served):
    d, servers = served
    one, sharded = MmapIndex(d / "one"), _remote(servers)
    assert sharded.corpus == one.corpus
    assert sharded.count_many(PHRASES) == one.count_many(PHRASES)
    assert sharded.cooccur_many(PAIRS, 20) == one.cooccur_many(PAIRS, 20)
    status, info = servers[0].request("GET", "/v1/info")
    assert status == 200 and info["corpus_documents"] == 45 and info["normalizer"]["case_fold"] is True


def test_remote_shards_list_titles_passages_and_places_like_the_single_index(served):
    d, servers = served
    one, sharded = MmapIndex(d / "one"), _remote(servers)
    phrases = ["oliver twist", "copenhagen", "note 7", "paris"]
    # In shard order rather than corpus order; the same passages, and too common is too common.
    assert [None if p is None else sorted(p) for p in sharded.passages_many(phrases, window=2, limit=40)] == \
        [None if p is None else sorted(p) for p in one.passages_many(phrases, window=2, limit=40)]
    assert sharded.passages_many(["hamlet"], limit=10) == one.passages_many(["hamlet"], limit=10) == [None]
    assert sharded.titles_many(["note 7"]) == one.titles_many(["note 7"]) == [()]  # these documents have no titles
    (places, never) = sharded.provenance_many([("Hamlet", "William Shakespeare"), ("Paris", "Hamlet")])
    assert len(places.sources) == 2 and all("Hamlet was written by William Shakespeare" in s.text for s in places.sources)
    assert len({s.doc for s in places.sources}) == 2 and never.sources == ()
    # A phrase in a subject's article: these documents have no titles, so no article holds anything.
    assert sharded.in_articles_many([("Copenhagen", "Denmark")]) == one.in_articles_many([("Copenhagen", "Denmark")]) == [None]
    (nowhere,) = sharded.article_places_many([("Copenhagen", "Denmark")])
    assert nowhere.sources == () and "no document titled 'Copenhagen'" in nowhere.why
    # Document numbers are the index's, not each shard's: 30 documents, 30 numbers.
    (copenhagen,) = sharded.provenance_many([("Copenhagen", "Denmark")], limit=60)
    assert len(copenhagen.sources) == 30 and len({s.doc for s in copenhagen.sources}) == 30


class _SlowProxy:
    """A TCP forwarder on 127.0.0.1 that holds every response for ``delay`` seconds."""

    def __init__(self, target_port, delay):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port, self.target, self.delay, self.open = self.sock.getsockname()[1], target_port, delay, True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.open:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            client.close()
            return

        def pump(src, dst, delay):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    time.sleep(delay)
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                src.close()
                dst.close()

        threading.Thread(target=pump, args=(client, upstream, 0), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, self.delay), daemon=True).start()

    def close(self):
        self.open = False
        self.sock.close()


def test_a_shard_slower_than_its_timeout_is_unknown_and_named(served):
    d, servers = served
    proxy = _SlowProxy(servers[1].port, delay=1.5)
    try:
        sharded = ShardedBackend([RemoteShard(f"http://127.0.0.1:{servers[0].port}", token=TOKEN),
                                  RemoteShard(f"http://127.0.0.1:{proxy.port}", token=TOKEN)],
                                 timeout=10.0, retries=0, cooldown=0.0)  # /v1/info through the proxy: slow
        t = time.perf_counter()
        with pytest.raises(ShardUnavailable, match=f"127.0.0.1:{proxy.port}") as err:
            ShardedBackend(sharded.shards, timeout=0.5, retries=1, cooldown=0.0).count_many(PHRASES)
        assert time.perf_counter() - t < 3.0  # two attempts of 0.5 s, not the proxy's pace
        assert "no answer within 0.5 s" in str(err.value)
    finally:
        proxy.close()


def test_a_shard_killed_mid_batch_is_unknown_never_a_partial_sum(served, tmp_path):
    d, _ = served
    one = MmapIndex(d / "one")
    want = one.count_many(PHRASES)
    victim = Server(d / "many" / "shard-0001")
    keeper = Server(d / "many" / "shard-0000")
    try:
        sharded = ShardedBackend([RemoteShard(f"http://127.0.0.1:{keeper.port}", token=TOKEN),
                                  RemoteShard(f"http://127.0.0.1:{victim.port}", token=TOKEN, timeout=(1.0, 2.0))],
                                 timeout=5.0, retries=0, cooldown=30.0)
        threading.Timer(0.3, lambda: os.killpg(victim.proc.pid, 9)).start()
        answers, failure, t0 = 0, None, time.time()
        while time.time() - t0 < 20 and failure is None:
            try:
                assert sharded.count_many(PHRASES) == want  # every answer given is the whole sum
                answers += 1
            except ShardUnavailable as exc:
                failure = exc
        assert failure is not None and f"127.0.0.1:{victim.port}" in str(failure)
        with pytest.raises(ShardUnavailable):  # within the cool-down: fails at once, the same shard named
            t = time.perf_counter()
            sharded.count_many(["hamlet"])
        assert time.perf_counter() - t < 0.1
        from quco.decide.detector import Detector
        from quco.extract import Extractor

        report = Detector(sharded, Extractor("rules")).check_question("Who wrote Hamlet?")
        assert report.retrieve and report.unknown and f"127.0.0.1:{victim.port}" in report.entities[0].error
    finally:
        victim.stop()
        keeper.stop()


def test_a_phrase_over_a_remote_shards_budget_is_unknown_for_that_phrase_only(tmp_path):
    texts = ["the common word and the other word"] * 2500 + ["a rare pair"]
    build_mmap_index([write_jsonl(tmp_path / "c.jsonl", texts)], tmp_path / "ix", progress=False)
    server = Server(tmp_path / "ix", extra_env={"QUCO_WORK_BUDGET": "100"})
    try:
        status, body = server.request("POST", "/v1/count", {"phrases": ["rare pair", "word the common"]})
        assert status == 200 and body["counts"][0]["count"] == 1
        assert body["counts"][1]["count"] is None and "work budget" in body["counts"][1]["error"]
        shard = RemoteShard(f"http://127.0.0.1:{server.port}", token=TOKEN)
        assert shard.count_many(["rare pair"])[0].count == 1
        with pytest.raises(ShardFailed, match="work budget"):
            shard.count_many(["rare pair", "word the common"])
    finally:
        server.stop()


def test_sharded_settings_mix_local_and_remote_shards(served, tmp_path):
    from quco.config import load_settings

    d, servers = served
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    cfg = tmp_path / "quco.toml"
    cfg.write_text("\n".join([
        "[quco]", 'backend = "sharded"',
        f'shards = ["{d / "many" / "shard-0000"}", "http://127.0.0.1:{servers[1].port}"]',
        f'shard_token_file = "{token}"', "shard_timeout = 5"]))
    be = load_settings(cfg, env={}).open_backend()
    assert be.count_many(PHRASES) == MmapIndex(d / "one").count_many(PHRASES)
    settings = load_settings(cfg, env={"QUCO_SHARDS": "a, b"})
    assert settings.shards == ("a", "b")
    import json

    from quco.config import Settings

    again = Settings.from_dict(json.loads(json.dumps(settings.to_dict())))  # how check workers receive them
    assert again == settings and hash(again) == hash(settings)
