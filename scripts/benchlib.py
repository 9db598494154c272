"""Shared by the benchmark and agreement scripts: percentiles, builds in a child process, workloads."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def summary(ms):
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 4), "p99_ms": round(pct(ms, 99), 4), "mean_ms": round(statistics.fmean(ms), 4)}


def build_in_child(sources, out, backend: str = "duckdb"):
    """Build in a fresh process so its peak RSS (children included) is the build's own."""
    fn = {"duckdb": "from quco.backends.duckdb_build import build_index as build",
          "infinigram": "from quco.backends.infinigram_build import build_infinigram_index as build"}[backend]
    code = (
        "import json, os, resource, sys, time\n"
        f"{fn}\n"
        "t = time.perf_counter()\n"
        f"s = build({[str(s) for s in sources]!r}, {str(out)!r}, progress=False)\n"
        "size = sum(f.stat().st_size for f in s.path.iterdir()) if s.path.is_dir() else s.path.stat().st_size\n"
        "rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'tokens': s.tokens, 'documents': s.documents,"
        " 'bytes': size, 'peak_rss_mb': rss / 1024}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def workload(shared: Path, extractor, n_entities: int, n_pairs: int, seed: int = 0):
    """Real entity strings and pairs: PopQA subjects/objects, HaluEval question and answer entities."""
    popqa = [json.loads(l) for l in open(shared / "eval" / "popqa_1000.jsonl")]
    halu = [json.loads(l) for l in open(shared / "eval" / "halueval_qa_dev.jsonl")]
    entities, pairs = [], []
    for r in popqa:
        entities += [r["subj"], r["obj"]]
        pairs.append((r["subj"], r["obj"]))
    qs = [r["question"] for r in halu]
    answers = [r["right_answer"] for r in halu]
    for q_ents, a_ents in zip(extractor.entities_many(qs), extractor.entities_many(answers)):
        entities += [e.text for e in q_ents] + [e.text for e in a_ents]
        pairs += [(q.text, a.text) for q in q_ents[:1] for a in a_ents[:1] if q.text != a.text]
    rng = random.Random(seed)
    entities = list(dict.fromkeys(e for e in entities if e.strip()))
    pairs = list(dict.fromkeys(pairs))
    rng.shuffle(entities)
    rng.shuffle(pairs)
    return entities[:n_entities], pairs[:n_pairs], qs


def timed(fn, items):
    out, ms = [], []
    for it in items:
        t = time.perf_counter()
        out.append(fn(it))
        ms.append((time.perf_counter() - t) * 1000)
    return out, ms
