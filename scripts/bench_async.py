#!/usr/bin/env python
"""Async checks from one event loop: do they block it?

64 concurrent ``Detector.acheck_many`` calls (each a batch of 16 HaluEval questions with an answer
as draft; the pinned spaCy pipeline, the shared corpus) run while a heartbeat task sleeps 5 ms at a
time; the loop's longest stall is the longest gap between beats beyond that sleep. Baseline in the
same run: the same 64 batches through the sync ``check_many`` called on the loop, which blocks it.
Also checked: the async reports equal the sync ones. Writes bench-results/bench_async.json.

    python scripts/bench_async.py [--index PATH] [--calls 64] [--batch 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_args, corpus_index

SLEEP = 0.005


async def _with_heartbeat(work) -> tuple[float, float, int]:
    """(seconds, longest stall in ms, beats) while ``work()`` (a coroutine factory) runs."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def heartbeat():
        last = loop.time()
        while True:
            await asyncio.sleep(SLEEP)
            now = loop.time()
            gaps.append(now - last - SLEEP)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(SLEEP * 2)
    t = time.perf_counter()
    await work()
    seconds = time.perf_counter() - t
    await asyncio.sleep(SLEEP * 2)
    beat.cancel()
    return seconds, max(gaps) * 1000, len(gaps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_args(ap)
    ap.add_argument("--calls", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_async.json"))
    args = ap.parse_args()

    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.open import open_backend

    shared = Path(args.shared)
    rows = [json.loads(line) for line in open(shared / "eval" / "halueval_qa_dev.jsonl", encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        detector = Detector(open_backend(corpus_index(sorted((shared / "corpus").glob("*.jsonl")), args.index, tmp)),
                            Extractor())
        batches = [[(r["question"], r["right_answer"]) for r in rows[k * args.batch:(k + 1) * args.batch]]
                   for k in range(args.calls)]
        detector.check_many(batches[0])  # the pipeline loaded, the index open

        async def concurrent():
            return await asyncio.gather(*(detector.acheck_many(b) for b in batches))

        async def blocking():
            return [detector.check_many(b) for b in batches]

        got: dict = {}

        async def run_async():
            got["async"] = await concurrent()

        async def run_sync():
            got["sync"] = await blocking()

        a_s, a_stall, a_beats = asyncio.run(_with_heartbeat(run_async))
        s_s, s_stall, s_beats = asyncio.run(_with_heartbeat(run_sync))

    def decisions(batches):
        return [[{k: v for k, v in r.to_dict().items() if k != "timings_ms"} for r in b] for b in batches]

    same = decisions(got["async"]) == decisions(got["sync"])
    table = [{"calls": "64 x acheck_many (async)", "seconds": round(a_s, 3), "longest_stall_ms": round(a_stall, 1),
              "beats": a_beats},
             {"calls": "64 x check_many on the loop (baseline)", "seconds": round(s_s, 3),
              "longest_stall_ms": round(s_stall, 1), "beats": s_beats}]
    result = {"calls": args.calls, "batch": args.batch, "reports_identical": same, "goal_longest_stall_ms": 50,
              "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "table": table}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for row in table:
        print(f"{row['calls']:<40} {row['seconds']:>8.3f} s  longest stall {row['longest_stall_ms']:>8.1f} ms  "
              f"beats {row['beats']}")
    print(f"async reports identical to sync: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
