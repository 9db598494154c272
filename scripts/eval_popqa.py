#!/usr/bin/env python
"""PopQA: do corpus counts track entity popularity, and does stage 1 fire on the long tail?

Index: all of ../shared/data/corpus. For the 1,000 PopQA rows: Spearman correlation between the
corpus count of the subject and s_pop (Wikipedia page views), and the stage-1 trigger rate per
s_pop bucket (thresholds scaled to the corpus size, as always). Writes bench-results/eval_popqa.json.

    python scripts/eval_popqa.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchlib import ROOT

BUCKETS = [(0, 100), (100, 1_000), (1_000, 10_000), (10_000, 100_000), (100_000, float("inf"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "eval_popqa.json"))
    args = ap.parse_args()

    from quco.batch.metrics import spearman
    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    shared = Path(args.shared)
    rows = [json.loads(l) for l in open(shared / "eval" / "popqa_1000.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        build_index(sorted((shared / "corpus").glob("*.jsonl")), Path(tmp) / "all.duckdb", progress=False)
        index = DuckDBIndex(Path(tmp) / "all.duckdb")
        counts = [c.count for c in index.count_many([r["subj"] for r in rows])]
        detector = Detector(index, Extractor())
        reports = detector.check_many([r["question"] for r in rows])
    pops = [r["s_pop"] for r in rows]
    buckets = []
    for lo, hi in BUCKETS:
        idx = [i for i, p in enumerate(pops) if lo <= p < hi]
        if not idx:
            continue
        buckets.append({
            "s_pop": f"{lo:,}–{hi:,.0f}" if hi != float("inf") else f"≥{lo:,}",
            "questions": len(idx),
            "stage1_trigger_rate": round(sum(reports[i].retrieve for i in idx) / len(idx), 4),
            "median_subject_count": sorted(counts[i] for i in idx)[len(idx) // 2],
            "subject_absent": round(sum(counts[i] == 0 for i in idx) / len(idx), 4),
        })
    result = {
        "rows": len(rows),
        "corpus_tokens": index.corpus.tokens,
        "spearman_subject_count_vs_s_pop": round(spearman(counts, pops), 4),
        "entity_threshold_scaled": reports[0].thresholds.get("entity"),
        "overall_trigger_rate": round(sum(r.retrieve for r in reports) / len(reports), 4),
        "buckets": buckets,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
