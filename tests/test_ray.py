"""quco on a local Ray (2 CPUs): shards held by actors (one killed mid-batch, one slower than its
timeout), the sharded build as Ray tasks, and `quco score --ray` (identical rows to local scoring;
a driver killed with -9 and re-run writes every row exactly once)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, write_jsonl

from quco.backends.ray import RayShard
from quco.backends.sharded import ShardedBackend, ShardUnavailable
from quco.index.mmap.build import build_mmap_index
from quco.index.mmap.reader import MmapIndex
from quco.index.sharded.build import build_sharded_index
from quco.index.sharded.ray import IndexShardActor, start_ray_shards
from quco.index.sharded.reader import open_sharded

ray = pytest.importorskip("ray", reason="Ray is the optional extra quco[ray] (scripts/test.sh installs it)")

CORPUS = ([f"Hamlet was written by William Shakespeare in London, part {i}." for i in range(40)]
          + [f"Copenhagen is the capital of Denmark; note {i}." for i in range(40)])
PHRASES = ["hamlet", "william shakespeare", "copenhagen", "denmark", "london", "paris", "part 7"]


class SlowShard(IndexShardActor):
    """An actor that answers counts only after ``delay`` seconds."""

    def __init__(self, index, delay):
        super().__init__(index)
        self.delay = delay

    def count_many(self, phrases):
        time.sleep(self.delay)
        return super().count_many(phrases)


@pytest.fixture(scope="module")
def local_ray():
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray")
    src = write_jsonl(d / "c.jsonl", CORPUS)
    build_mmap_index([src], d / "one", progress=False)
    build_sharded_index([src], d / "many", shards=2, progress=False)
    return d


def test_actor_shards_answer_like_the_single_index(local_ray, shards):
    one = MmapIndex(shards / "one")
    actors = start_ray_shards([shards / "many" / "shard-0000", shards / "many" / "shard-0001"], timeout=30)
    sharded = ShardedBackend(actors, timeout=30)
    assert sharded.corpus == one.corpus
    assert sharded.count_many(PHRASES) == one.count_many(PHRASES)
    pairs = [("Hamlet", "London"), ("Copenhagen", "Hamlet")]
    assert sharded.cooccur_many(pairs, 10) == one.cooccur_many(pairs, 10)
    # Where phrases occur, through the actors: the same passages (in shard order), places in both shards.
    assert sorted(sharded.passages_many(["note 7", "part 3"], window=3)[0]) == sorted(one.passages_many(["note 7"], window=3)[0])
    assert sharded.titles_many(["hamlet"], limit=10) == [None]
    (places,) = sharded.provenance_many([("Copenhagen", "Denmark")], limit=80)
    assert len(places.sources) == 40 and len({s.doc for s in places.sources}) == 40
    assert all("Copenhagen is the capital of Denmark" in s.text for s in places.sources)
    assert sharded.in_articles_many([("Copenhagen", "Denmark")]) == one.in_articles_many([("Copenhagen", "Denmark")]) == [None]


def test_an_actor_slower_than_its_timeout_is_unknown_and_named(local_ray, shards):
    fast = start_ray_shards([shards / "many" / "shard-0000"], timeout=30)[0]
    slow = RayShard(ray.remote(SlowShard).options(num_cpus=0.5).remote(str(shards / "many" / "shard-0001"), 5.0),
                    "slow-shard", timeout=30)
    sharded = ShardedBackend([fast, slow], timeout=1.0, retries=0, cooldown=0.0)
    t = time.perf_counter()
    with pytest.raises(ShardUnavailable, match="slow-shard.*no answer within 1 s"):
        sharded.count_many(PHRASES)
    assert time.perf_counter() - t < 3.0


def test_an_actor_killed_mid_batch_is_unknown_never_a_partial_sum(local_ray, shards):
    want = MmapIndex(shards / "one").count_many(PHRASES)
    actors = start_ray_shards([shards / "many" / "shard-0000", shards / "many" / "shard-0001"], timeout=10,
                              max_restarts=0)
    sharded = ShardedBackend(actors, timeout=10, retries=1, cooldown=0.0)
    threading.Timer(0.5, lambda: ray.kill(actors[1].actor, no_restart=True)).start()
    failure, t0 = None, time.time()
    while time.time() - t0 < 30 and failure is None:
        try:
            assert sharded.count_many(PHRASES) == want  # any answer given is the whole sum
        except ShardUnavailable as exc:
            failure = exc
    assert failure is not None and "shard-0001" in str(failure)


def test_the_sharded_build_runs_as_ray_tasks(local_ray, shards, tmp_path):
    build_sharded_index([shards / "c.jsonl"], tmp_path / "r", shards=3, ray=True, progress=False)
    assert open_sharded(tmp_path / "r").count_many(PHRASES) == MmapIndex(shards / "one").count_many(PHRASES)


def _score(args, **kw):
    env = dict(os.environ)
    env.pop("QUCO_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "quco.cli.main", "score", *map(str, args), "--model", "rules",
                             "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **kw)


def test_score_on_ray_matches_local_and_resumes_exactly_once_after_kill_9(shards, tmp_path):
    questions = [{"question": f"Who wrote Hamlet in London, part {i}?", "answer": "William Shakespeare", "id": i}
                 for i in range(400)] + [{"question": "", "id": "bad"}]
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    common = ["--index", shards / "one", "--answer-field", "answer", "--id-field", "id", "--chunk-size", "10"]
    local = _score([rows, "-o", tmp_path / "local.jsonl", *common])
    assert local.wait(120) == 0, local.stderr.read()
    # Kill the Ray run (driver and the local Ray it started) once a few chunks are done, then resume.
    run = _score([rows, "-o", tmp_path / "ray.jsonl", *common, "--ray", "--workers", "2"])
    parts = tmp_path / "ray.jsonl.quco-parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 3 and run.poll() is None:
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before it could be killed: " + run.stderr.read()[-2000:]
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    again = _score([rows, "-o", tmp_path / "ray.jsonl", *common, "--ray", "--workers", "2"])
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert "chunks resumed" in out
    local_rows = (tmp_path / "local.jsonl").read_text().splitlines()
    ray_rows = (tmp_path / "ray.jsonl").read_text().splitlines()
    assert ray_rows == local_rows and len(ray_rows) == 400  # every row once, in input order
    assert (tmp_path / "ray.jsonl.errors.jsonl").read_text() == (tmp_path / "local.jsonl.errors.jsonl").read_text()
