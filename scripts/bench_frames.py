#!/usr/bin/env python
"""`quco.score` from a DataFrame against the same rows from a file, in one run. JSON out.

    python scripts/bench_frames.py [--out bench-results/bench_frames.json]

The 2,000 HaluEval dev items in their paired layout (right and hallucinated answer) give 4,000
scored rows; the shared corpus as a memory-mapped index; spaCy model; 2 workers. Each path runs
twice, alternating, and the faster run of each counts (both warm).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT
from scale_corpus import SHARED


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_frames.json"))
    args = ap.parse_args()
    import pandas as pd

    import quco
    from quco.config import load_settings
    from quco.index.mmap.build import build_mmap_index

    src = SHARED / "eval" / "halueval_qa_dev.jsonl"
    if not src.exists():
        print(json.dumps({"skipped": f"{SHARED} is absent"}))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_mmap_index(sorted((SHARED / "corpus").glob("*.jsonl")), tmp / "ix", progress=False)
        settings = load_settings(index=str(tmp / "ix"), env={})
        frame = pd.read_json(src, lines=True)
        kw = dict(pair_fields=("right_answer", "hallucinated_answer"), id_field="id", settings=settings, workers=2)
        times = {"file": [], "dataframe": []}
        for i in range(2):
            t = time.perf_counter()
            quco.score(src, tmp / f"out{i}.jsonl", force=True, **kw)
            times["file"].append(time.perf_counter() - t)
            t = time.perf_counter()
            scored = quco.score(frame, **kw)
            times["dataframe"].append(time.perf_counter() - t)
        import pyarrow as pa

        file_rows = [json.loads(line) for line in open(tmp / "out1.jsonl")]
        frame_rows = pa.Table.from_pandas(scored, preserve_index=False).to_pylist()
        same = file_rows == frame_rows
    rows = len(scored)
    best = {k: min(v) for k, v in times.items()}
    result = {"rows": rows, "file_rows_per_s": round(rows / best["file"], 1),
              "dataframe_rows_per_s": round(rows / best["dataframe"], 1),
              "ratio": round(best["file"] / best["dataframe"], 3), "identical_rows": bool(same),
              "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
