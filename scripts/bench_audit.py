#!/usr/bin/env python
"""The monitoring report at production size: ROWS synthetic audit rows (5 days, 40% retrieval,
1% unknown, feedback on 1 in 7 of the first 2,000), then `quco monitor` (HTML + calibration refit)
timed end to end as a user runs it. JSON out.

    python scripts/bench_audit.py [--rows 100000] [--out bench-results/bench_audit.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchlib import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_audit.json"))
    args = ap.parse_args()
    from quco.audit.log import AuditLog

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.duckdb"
        t = time.perf_counter()
        with AuditLog(path) as log:
            start = time.time() - 5 * 86400
            for i in range(args.rows):
                r = rng.random()
                log.record({"request_id": f"r{i}", "ts": datetime.fromtimestamp(start + i * 432_000 / args.rows,
                                                                                 UTC).isoformat(),
                            "source": "bench", "decision": "retrieve" if r > 0.6 else "no-retrieve", "retrieve": r > 0.6,
                            "risk": r, "stage": "question" if r > 0.6 else None,
                            "entities": json.dumps([{"text": f"Entity {i % 300}", "count": i % 50, "approx": False}]),
                            "pairs": "[]", "approx": i % 50 == 0, "unknown": i % 97 == 0, "backend": "mmap",
                            "index_name": "mmap:bench", "corpus_tokens": 10**9, "extractor": "bench",
                            "quco_version": "bench", "latency_ms": 5 + rng.random() * 10})
            log.flush(600)
            write_s = time.perf_counter() - t
            for i in range(0, 2000, 7):
                log.feedback(f"r{i}", "fabricated" if rng.random() < 0.4 else "correct")
        env = {k: v for k, v in os.environ.items() if k != "QUCO_CONFIG"}
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "quco.cli.main", "monitor", str(path), "--out", str(Path(tmp) / "r.html"),
                               "--calibrate", str(Path(tmp) / "c.json")], cwd=ROOT, env=env, capture_output=True, text=True)
        monitor_s = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(proc.stderr)
        result = {"rows": args.rows, "audit_write_s": round(write_s, 2),
                  "audit_rows_per_s": round(args.rows / write_s), "monitor_s": round(monitor_s, 2),
                  "html_bytes": (Path(tmp) / "r.html").stat().st_size, "goal_monitor_le_10_s": monitor_s <= 10}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
