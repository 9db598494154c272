#!/usr/bin/env python
"""Sharded counts and Ray on this machine: the goals of the distributed issue, measured. JSON out.

    python scripts/bench_shards.py [--rows 20000] [--build-tokens 45e6] [--out bench-results/bench_shards.json]

* ``sharded``: the shared corpus as one memory-mapped index and as 4 document-partitioned shards
  (``quco index build --shards 4``). Answers compared on the agreement workload (1,000 real
  entities, 600 real pairs, window 1,000); per-query latency of the single index, of the 4 shards
  in-process as ``--index`` opens them (one engine over all their segments, words found through
  their shared vocabulary), of a ShardedBackend fanning out to 4 separate in-process indexes, and
  of the 4 shards each behind its own ``quco serve`` on 127.0.0.1 (RemoteShard); check_question
  p50, single vs sharded in-process. In-process figures are paired (each query asked of every
  backend in turn, in a rotating order): the median of 5 rounds, each with empty caches.
* ``score``: ``quco score`` of ROWS question+answer rows (HaluEval dev rows repeated with a row
  number appended to each question, so every row is distinct) with ``--workers 2`` locally and
  with ``--ray --workers 2`` on a local Ray started by the command (its start-up included), and
  on a local Ray with 2 CPUs started beforehand in the command's process (as a cluster already
  runs; its start-up reported apart); the outputs are compared row for row.
* ``build``: a corpus from scripts/scale_corpus.py built as one index pinned to one CPU (the
  reader and the tokeniser share CPU 0), and as 2 shards by Ray tasks on a local Ray with 2 CPUs
  (started beforehand, as a cluster would be; its start-up is reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, summary, workload

ROUNDS = 5
SHARED = Path(os.environ.get("QUCO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _lat(fn, items) -> tuple[list, dict]:
    """(answers, latency summary) of ``fn`` over ``items``, one backend alone."""
    return _paired(lambda _name, _backend, it: fn(it), [("alone", None)], items)["alone"]


def _paired(ask, backends, items) -> dict:
    """Each item asked of every backend in turn, ``ask(name, backend, item)``: {name: (answers, latency summary)}."""
    backends = list(backends)
    out = {name: ([], []) for name, _ in backends}
    for i, it in enumerate(items):
        k = i % len(backends)  # the order rotates: whoever goes first or second is not always the same
        for name, be in backends[k:] + backends[:k]:
            got, ms = out[name]
            t = time.perf_counter()
            try:
                got.append(ask(name, be, it))
            except Exception as exc:
                got.append(f"unknown: {type(exc).__name__}")
            ms.append((time.perf_counter() - t) * 1000)
    return {name: (got, summary(ms)) for name, (got, ms) in out.items()}


def bench_sharded(tmp: Path) -> dict:
    from chaos import Server

    from quco.backends.remote import RemoteShard
    from quco.backends.sharded import ShardedBackend
    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.mmap.build import build_mmap_index
    from quco.index.mmap.reader import MmapIndex
    from quco.index.sharded.build import build_sharded_index
    from quco.index.sharded.reader import open_sharded

    sources = sorted((SHARED / "corpus").glob("*.jsonl"))
    build_mmap_index(sources, tmp / "one", progress=False)
    build_sharded_index(sources, tmp / "four", shards=4, progress=False)
    one, four = MmapIndex(tmp / "one"), open_sharded(tmp / "four")
    fan_out = ShardedBackend([MmapIndex(tmp / "four" / f"shard-{k:04d}") for k in range(4)])
    extractor = Extractor()
    entities, pairs, questions = workload(SHARED, extractor, 1000, 600)
    res = {"corpus_tokens": one.corpus.tokens, "shards": 4, "rounds": ROUNDS}
    dirs = [tmp / "four" / f"shard-{k:04d}" for k in range(4)]
    searched = MmapIndex(dirs[0], more=dirs[1:])  # the same engine without the shared vocabulary
    backends = (("single", one), ("sharded_in_process", four), ("sharded_no_shared_vocabulary", searched),
                ("sharded_fan_out", fan_out))
    rounds = {name: {"count": [], "cooccur": [], "check_question": []} for name, _ in backends}
    detectors = {name: Detector(be, extractor) for name, be in backends}
    jobs = (("count", lambda _, be, p: be.count(p), entities), ("cooccur", lambda _, be, ab: be.cooccur(*ab), pairs),
            ("check_question", lambda name, _, q: detectors[name].check_question(q), questions[:300]))
    answers = {}
    # Paired: each item is asked of every backend in turn (in a rotating order), so a slow spell of
    # the machine falls on all of them alike; each figure is the median over the rounds (each
    # starting with empty caches).
    for _ in range(ROUNDS):
        for _, be in backends:
            be.clear_caches()
        for kind, ask, items in jobs:
            got = _paired(ask, backends, items)
            for name, (out, lat) in got.items():
                rounds[name][kind].append(lat)
                if kind != "check_question":
                    answers.setdefault(name, {})[kind] = out
    answers = {name: (a["count"], a["cooccur"]) for name, a in answers.items()}
    for name, _ in backends:
        med = {k: {"n": v[0]["n"], **{q: round(statistics.median(r[q] for r in v), 4) for q in ("p50_ms", "p99_ms")}}
               for k, v in rounds[name].items()}
        res[name] = {"count": med["count"], "cooccur": med["cooccur"],
                     "check_question_p50_ms": med["check_question"]["p50_ms"],
                     "rounds_p50_ms": {k: [r["p50_ms"] for r in v] for k, v in rounds[name].items()}}
    res["sharded_in_process"]["shared_vocabulary"] = four.vocabulary is not None
    servers = [Server(tmp / "four" / f"shard-{k:04d}", "--insecure-no-auth") for k in range(4)]
    try:
        remote = ShardedBackend([RemoteShard(f"http://127.0.0.1:{s.port}") for s in servers], timeout=10)
        for _ in range(2):
            counts, c_lat = _lat(lambda p: remote.count(p), entities)
            cooc, o_lat = _lat(lambda ab: remote.cooccur(*ab), pairs)
        answers["sharded_http"] = (counts, cooc)
        res["sharded_http"] = {"count": c_lat, "cooccur": o_lat}
    finally:
        for s in servers:
            s.stop()
    base = answers["single"]
    for name in ("sharded_in_process", "sharded_no_shared_vocabulary", "sharded_fan_out", "sharded_http"):
        same_c = sum(a == b for a, b in zip(base[0], answers[name][0]))
        same_o = sum(a == b for a, b in zip(base[1], answers[name][1]))
        exact_base = [a for a in base[0] + base[1] if not isinstance(a, str) and not a.approx]
        res[name]["identical"] = {"counts": f"{same_c}/{len(entities)}", "cooccur": f"{same_o}/{len(pairs)}",
                                  "single_index_exact_answers": len(exact_base)}
    for name in ("sharded_in_process", "sharded_no_shared_vocabulary", "sharded_fan_out"):
        for k in ("count", "cooccur"):
            for q in ("p50", "p99"):
                res[name][f"{k}_{q}_ratio"] = round(res[name][k][f"{q}_ms"] / res["single"][k][f"{q}_ms"], 2)
    res["check_question_ratio"] = round(res["sharded_in_process"]["check_question_p50_ms"] / res["single"]["check_question_p50_ms"], 3)
    return res


def _cli(args: list, env=None) -> tuple[float, str]:
    env = {**os.environ, **(env or {})}
    env.pop("QUCO_CONFIG", None)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "quco.cli.main", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"quco {args[0]} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - t, proc.stdout


def bench_score(tmp: Path, rows: int) -> dict:
    from quco.index.mmap.build import build_mmap_index

    index = tmp / "one"
    if not index.exists():
        build_mmap_index(sorted((SHARED / "corpus").glob("*.jsonl")), index, progress=False)
    base = [json.loads(line) for line in open(SHARED / "eval" / "halueval_qa_dev.jsonl")]
    data = tmp / "rows.jsonl"
    with open(data, "w") as fh:
        for i in range(rows):
            r = base[i % len(base)]
            fh.write(json.dumps({"id": i, "question": f"{r['question']} ({i})", "answer": r["right_answer"]}) + "\n")
    common = ["--index", index, "--answer-field", "answer", "--id-field", "id", "--no-progress"]
    local_s, _ = _cli(["score", data, "-o", tmp / "local.jsonl", "--workers", "2", *common])
    ray_s, _ = _cli(["score", data, "-o", tmp / "ray.jsonl", "--workers", "2", "--ray", *common])
    # As on a cluster: Ray already running (started beforehand, its start-up reported apart); the
    # command finds it in its process, as `ray job submit` runs it on a cluster.
    args = ["score", str(data), "-o", str(tmp / "ray-running.jsonl"), "--workers", "2", "--ray", *map(str, common)]
    run = _on_running_ray("", f"from quco.cli.main import main\ncode = main({args!r})\n", "{'code': code}")
    if run["code"]:
        raise RuntimeError(f"quco score on a running Ray exited {run['code']}")
    running_s = run["seconds"]
    same = (tmp / "local.jsonl").read_bytes() == (tmp / "ray.jsonl").read_bytes() == \
        (tmp / "ray-running.jsonl").read_bytes()
    return {"rows": rows, "local_workers_2": {"seconds": round(local_s, 1), "rows_per_s": round(rows / local_s, 1)},
            "ray_workers_2": {"seconds": round(ray_s, 1), "rows_per_s": round(rows / ray_s, 1)},
            "ratio": round(local_s / ray_s, 3),
            "ray_already_running_workers_2": {"seconds": round(running_s, 1), "rows_per_s": round(rows / running_s, 1)},
            "ray_start_s": round(run["ray_start_s"], 1), "ratio_ray_already_running": round(local_s / running_s, 3),
            "identical_output": same}


def _on_running_ray(setup: str, work: str, result: str) -> dict:
    """Run ``work`` (Python source) in a child process on a local Ray with 2 CPUs started
    beforehand, as a cluster already runs: {"seconds" of ``work``, "ray_start_s", **``result``}
    (an expression over ``work``'s names). ``setup`` runs after Ray starts and is not timed."""
    code = ("import json, time\n"
            "t = time.perf_counter()\n"
            "import ray; ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)\n"
            "start = time.perf_counter() - t\n"
            f"{setup}"
            "t = time.perf_counter()\n"
            f"{work}"
            f"print(json.dumps({{'seconds': time.perf_counter() - t, 'ray_start_s': start, **{result}}}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_build(tmp: Path, tokens: float) -> dict:
    from scale_corpus import generate

    corpus = tmp / "build-corpus.jsonl"
    generate(int(tokens), corpus)
    one_cpu = (
        "import os, time, json\n"
        "os.sched_setaffinity(0, {0})\n"
        "from quco.index.mmap.build import build_mmap_index\n"
        "t = time.perf_counter()\n"
        f"s = build_mmap_index([{str(corpus)!r}], {str(tmp / 'b1')!r}, progress=False, workers=1)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'tokens': s.tokens}))\n"
    )
    out = subprocess.run([sys.executable, "-c", one_cpu], capture_output=True, text=True, check=True).stdout
    single = json.loads(out.strip().splitlines()[-1])
    sharded = _on_running_ray(
        "from quco.index.sharded.build import build_sharded_index\n",
        f"s = build_sharded_index([{str(corpus)!r}], {str(tmp / 'b2')!r}, shards=2, ray=True, progress=False)\n",
        "{'tokens': s.tokens}")
    return {"tokens": single["tokens"], "one_cpu_s": round(single["seconds"], 1),
            "ray_2_shards_2_cpus_s": round(sharded["seconds"], 1), "ray_start_s": round(sharded["ray_start_s"], 1),
            "speedup": round(single["seconds"] / sharded["seconds"], 2), "same_tokens": single["tokens"] == sharded["tokens"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--build-tokens", type=float, default=45e6)
    ap.add_argument("--parts", default="sharded,score,build")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_shards.json"))
    args = ap.parse_args()
    if not (SHARED / "corpus").is_dir():
        print(json.dumps({"skipped": f"{SHARED} is absent"}))
        return 0
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.exists() else {}
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for part in args.parts.split(","):
            t = time.time()
            result[part] = {"sharded": lambda: bench_sharded(tmp), "score": lambda: bench_score(tmp, args.rows),
                            "build": lambda: bench_build(tmp, args.build_tokens)}[part]()
            result[part]["bench_wall_s"] = round(time.time() - t, 1)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1))
            print(json.dumps({part: result[part]}), file=sys.stderr, flush=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
