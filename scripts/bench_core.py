#!/usr/bin/env python
"""Benchmark the core on an index of all of ../shared/data/corpus. Prints JSON.

Measures: build tokens/s and peak RAM (in a child process), count and cooccur p50/p99 over real
entity strings and pairs from ../shared/data/eval, the same counts by a naive Python scan of the
normalised corpus (the in-run baseline), check_question p50/p99 with the spaCy model and with the
rule fallback, and check_many throughput.

    python scripts/bench_core.py [--shared ../shared/data] [--out bench-results/bench_core.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, build_in_child, pct, summary, timed, workload


class NaiveScan:
    """The baseline: no index, scan the normalised corpus text for every query."""

    def __init__(self, sources, normalizer):
        self.norm = normalizer
        self.docs = []
        for f in sources:
            with open(f) as fh:
                self.docs.extend(" " + " ".join(normalizer.tokens(json.loads(l)["text"])) + " " for l in fh)
        self.text = "\n".join(self.docs)

    def count(self, phrase):
        # str.find restarted one character on, so overlapping matches (" a a a " for "a a") count.
        needle = " " + self.norm.canonical(phrase) + " "
        n, i = 0, self.text.find(needle)
        while i >= 0:
            n += 1
            i = self.text.find(needle, i + 1)
        return n

    def cooccur(self, a, b, window):
        pa, pb = " " + self.norm.canonical(a) + " ", " " + self.norm.canonical(b) + " "
        total = 0
        for d in self.docs:
            if pa not in d or pb not in d:
                continue
            toks = d.split()
            ta, tb = pa.split(), pb.split()
            sa = [i for i in range(len(toks)) if toks[i : i + len(ta)] == ta]
            sb = [i for i in range(len(toks)) if toks[i : i + len(tb)] == tb]
            total += sum(1 for p in sa if any(abs(q - p) <= window for q in sb))
        return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_core.json"))
    ap.add_argument("--entities", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--baseline-items", type=int, default=200, help="queries also run through the naive scan")
    ap.add_argument("--questions", type=int, default=2000)
    args = ap.parse_args()

    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.duckdb.reader import DuckDBIndex

    shared = Path(args.shared)
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    if not sources:
        print(json.dumps({"error": f"no corpus files under {shared / 'corpus'}"}))
        return 2
    result = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory() as tmp:
        index_path = Path(tmp) / "all.duckdb"
        build = build_in_child(sources, index_path)
        build["tokens_per_s"] = round(build["tokens"] / build["seconds"])
        result["build"] = build
        t = time.perf_counter()
        index = DuckDBIndex(index_path)
        result["open_seconds"] = round(time.perf_counter() - t, 3)

        spacy_ex = Extractor()
        rules_ex = Extractor("rules")
        entities, pairs, questions = workload(shared, spacy_ex, args.entities, args.pairs)
        counts, count_ms = timed(lambda p: index.count(p).count, entities)
        index.clear_caches()  # co-occurrence timings must not ride on the count cache
        cooc, cooc_ms = timed(lambda ab: index.cooccur(*ab).count, pairs)
        batch_t = time.perf_counter()
        index.clear_caches()
        index.count_many(entities)
        batch_count_ms = (time.perf_counter() - batch_t) * 1000
        result["count"] = summary(count_ms) | {"nonzero": sum(c > 0 for c in counts),
                                                "batch_per_item_ms": round(batch_count_ms / len(entities), 4)}
        result["cooccur"] = summary(cooc_ms) | {"nonzero": sum(c > 0 for c in cooc), "window": 1000}

        naive = NaiveScan(sources, index.normalizer)
        k = args.baseline_items
        n_counts, n_count_ms = timed(naive.count, entities[:k])
        n_cooc, n_cooc_ms = timed(lambda ab: naive.cooccur(*ab, 1000), pairs[: k // 2])
        result["baseline_naive_scan"] = {
            "count": summary(n_count_ms),
            "cooccur": summary(n_cooc_ms),
            "count_agreement": sum(a == b for a, b in zip(n_counts, counts)) / len(n_counts),
            "cooccur_agreement": sum(a == b for a, b in zip(n_cooc, cooc)) / len(n_cooc),
            "speedup_count_p50": round(pct(n_count_ms, 50) / pct(count_ms[:k], 50), 1),
            "speedup_cooccur_p50": round(pct(n_cooc_ms, 50) / pct(cooc_ms[: k // 2], 50), 1),
        }

        qs = questions[: args.questions]
        for name, ex in (("spacy", spacy_ex), ("rules", rules_ex)):
            det = Detector(index, ex)
            det.check_question(qs[0])  # warm-up: model load, caches
            _, ms = timed(det.check_question, qs[:500])
            t = time.perf_counter()
            det.check_many(qs)
            rate = len(qs) / (time.perf_counter() - t)
            result[f"check_question_{name}"] = summary(ms) | {"model": ex.model_name}
            result[f"check_many_{name}"] = {"questions": len(qs), "questions_per_s": round(rate, 1)}
    goals = {
        "count_p50_le_1ms": result["count"]["p50_ms"] <= 1,
        "cooccur_p50_le_5ms": result["cooccur"]["p50_ms"] <= 5,
        "cooccur_p99_le_50ms": result["cooccur"]["p99_ms"] <= 50,
        "check_question_spacy_p50_le_10ms": result["check_question_spacy"]["p50_ms"] <= 10,
        "check_many_spacy_ge_300_per_s": result["check_many_spacy"]["questions_per_s"] >= 300,
    }
    result["goals_met"] = goals
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
