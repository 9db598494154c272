#!/usr/bin/env python
"""A fresh `quco serve`, as an orchestrator starts it: how soon is it ready, and is it really?

Starts `quco serve` (the pinned spaCy pipeline, --workers 2) on an index of all of
../shared/data/corpus, polls /readyz from the moment the process starts, sends one draft check the
moment it answers 200 (its latency is the "first check"), then at once runs the bounded load of
scripts/load_test.py (keep-alive clients posting HaluEval questions to /v1/check, no warm-up) and
counts every non-2xx. Only 127.0.0.1 is targeted. Goals: ready within 60 s, first check within 2 s,
no non-2xx. Writes bench-results/bench_cold_start.json.

    python scripts/bench_cold_start.py [--index PATH] [--duration 30] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_args, corpus_index, pct, write_result
from load_test import HOST, run_load


def _get(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    t = time.perf_counter()
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, (time.perf_counter() - t) * 1000
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_args(ap)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_cold_start.json"))
    args = ap.parse_args()
    if not 1 <= args.duration <= 120 or not 1 <= args.concurrency <= 256:
        raise SystemExit("bounded load only: --duration 1..120 s, --concurrency 1..256")
    shared = Path(args.shared)
    bodies = [json.dumps({"question": json.loads(line)["question"]}).encode()
              for line in open(shared / "eval" / "halueval_qa_dev.jsonl", encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        index = corpus_index(sorted((shared / "corpus").glob("*.jsonl")), args.index, tmp)
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("QUCO_API_TOKEN", "QUCO_CONFIG", "QUCO_MODEL")}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "quco.cli.main", "serve", "--index", str(index), "--host", HOST,
                                 "--port", str(port), "--workers", str(args.workers)], cwd=ROOT, env=env,
                                start_new_session=True, stderr=subprocess.DEVNULL)
        try:
            listening = ready = None
            polls = {}
            while time.perf_counter() - t0 < 90 and ready is None:
                try:
                    status, _ = _get(port, "GET", "/readyz")
                    listening = listening or time.perf_counter() - t0
                    polls[status] = polls.get(status, 0) + 1
                    if status == 200:
                        ready = time.perf_counter() - t0
                except OSError:
                    pass
                if ready is None:
                    time.sleep(0.1)
            if ready is None:
                raise SystemExit("the server was not ready within 90 s")
            first_status, first_ms = _get(port, "POST", "/v1/check", {
                "question": "Who wrote Hamlet?", "draft": "Hamlet was written by Charles Dickens."})
            lat, errors, seconds = asyncio.run(run_load(port, bodies, args.duration, args.concurrency))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
    result = {
        "server": f"quco serve --workers {args.workers}, spaCy pipeline, DuckDB index of ../shared/data/corpus",
        "listening_s": round(listening or 0, 2), "ready_s": round(ready, 2), "readyz_polls_by_status": polls,
        "first_check": {"status": first_status, "ms": round(first_ms, 1)},
        "load": {"duration_s": round(seconds, 2), "concurrency": args.concurrency, "requests": len(lat),
                 "checks_per_s": round(len(lat) / seconds, 1),
                 "latency_ms": {"p50": round(pct(lat, 50), 1), "p99": round(pct(lat, 99), 1)},
                 "non_2xx_or_broken": len(errors), "error_kinds": sorted(set(errors))[:10]},
    }
    result["goals_met"] = {"ready_within_60_s": ready <= 60, "first_check_200_within_2_s":
                           first_status == 200 and first_ms <= 2000, "zero_non_2xx": not errors}
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
