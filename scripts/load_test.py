#!/usr/bin/env python
"""A bounded load test of `quco serve` on 127.0.0.1. Prints JSON.

Starts `quco serve` (rule extractor, --workers 2) on an index of all of ../shared/data/corpus,
then runs CONCURRENCY keep-alive clients for DURATION seconds posting HaluEval questions to
/v1/check (question only). Reports throughput, latency p50/p99, errors, and the server's memory
(RSS of its processes) at the start and the end of the run. Only 127.0.0.1 is ever targeted;
duration and concurrency are capped.

    python scripts/load_test.py [--duration 30] [--concurrency 32] [--workers 2] [--restart]
    python scripts/load_test.py --reward 64 [--concurrency 8]   # POST /v1/reward instead

With --reward N each request posts N completions (three sentences each, PopQA facts: the batch of
scripts/bench_reward.py) with their prompts to /v1/reward; throughput is then completions/s.

With --restart the server is stopped (SIGTERM: stop accepting, finish in-flight requests) half
way through and a new one started on the same port. Connection-level failures while no server
listens are requests the server never accepted: the clients retry them and they are counted
separately; any HTTP error or truncated response is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, pct

HOST = "127.0.0.1"
REFUSED: list = []


def rss_mb(pid: int) -> float:
    """RSS of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


PATH = "/v1/check"


async def client(port: int, bodies: list[bytes], deadline: float, lat: list, errors: list, offset: int) -> None:
    reader = writer = None
    i = offset
    while time.perf_counter() < deadline:
        body = bodies[i % len(bodies)]
        i += 1
        request = (f"POST {PATH} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        t = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            lat.append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors.append(f"HTTP {status}")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            # Nothing of a response arrived: the request was not accepted (no server, or an idle
            # keep-alive connection closed by a stopping server). Retry it on a new connection.
            partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
            (errors if partial or isinstance(exc, ValueError) else REFUSED).append(type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            i -= 1
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run_load(port, bodies, duration, concurrency):
    lat, errors = [], []
    deadline = time.perf_counter() + duration
    start = time.perf_counter()
    await asyncio.gather(*(client(port, bodies, deadline, lat, errors, k * 97) for k in range(concurrency)))
    return lat, errors, time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--restart", action="store_true", help="restart the server half way through")
    ap.add_argument("--audit", action="store_true", help="run the server with --audit (every decision recorded)")
    ap.add_argument("--reward", type=int, metavar="N", help="post N completions per request to /v1/reward")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not 1 <= args.duration <= 120 or not 1 <= args.concurrency <= 256:
        raise SystemExit("bounded load only: --duration 1..120 s, --concurrency 1..256")

    from quco.index.duckdb.build import build_index

    shared = Path(args.shared)
    questions = [json.loads(l)["question"] for l in open(shared / "eval" / "halueval_qa_dev.jsonl")]
    bodies = [json.dumps({"question": q}).encode() for q in questions]
    if args.reward:
        if not 1 <= args.reward <= 1024:
            raise SystemExit("--reward takes 1..1024 completions per request")
        from bench_reward import batch
        from eval_swap import swap_items

        global PATH
        PATH = "/v1/reward"
        items = swap_items([json.loads(l) for l in open(shared / "eval" / "popqa_1000.jsonl", encoding="utf-8")])
        bodies = []
        for step in range(4):
            prompts, completions = batch(items, step)
            bodies += [json.dumps({"prompts": prompts[k:k + args.reward], "completions": completions[k:k + args.reward]}).encode()
                       for k in range(0, len(completions), args.reward)]
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "all.duckdb"
        build_index(sorted((shared / "corpus").glob("*.jsonl")), index, progress=False)
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "QUCO_API_TOKEN"}
        cmd = [sys.executable, "-m", "quco.cli.main", "serve", "--index", str(index), "--model", "rules",
               "--host", HOST, "--port", str(port), "--workers", str(args.workers)]
        audit = Path(tmp) / "audit.duckdb"
        if args.audit:
            cmd += ["--audit", str(audit)]

        def start():
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
            deadline = time.time() + 90
            while time.time() < deadline:
                try:
                    with socket.create_connection((HOST, port), timeout=1):
                        return proc
                except OSError:
                    time.sleep(0.2)
            raise SystemExit("server did not start")

        servers = [start()]
        server = servers[0]
        restarted = {}

        def restart_later():
            time.sleep(args.duration / 2)
            t = time.time()
            os.killpg(servers[0].pid, signal.SIGTERM)
            servers[0].wait(60)
            servers.append(start())
            restarted["seconds_without_server"] = round(time.time() - t, 2)

        try:
            # warm-up: every question at least twice (caches, lazy loads, spaCy string store)
            asyncio.run(run_load(port, bodies, 10.0, args.concurrency))
            rss_start = rss_mb(server.pid)
            REFUSED.clear()
            samples = []

            def sample():
                t0 = time.time()
                while time.time() - t0 < args.duration:
                    time.sleep(args.duration / 6)
                    samples.append(rss_mb(servers[-1].pid))

            import threading

            threading.Thread(target=sample, daemon=True).start()
            if args.restart:
                threading.Thread(target=restart_later, daemon=True).start()
            lat, errors, seconds = asyncio.run(run_load(port, bodies, args.duration, args.concurrency))
            rss_end = rss_mb(servers[-1].pid)
            per_process = _per_process_rss(servers[-1].pid)
        finally:
            for proc in servers:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
        audit_rows = _count_rows(audit) if args.audit else None
    per_request = args.reward or 1
    result = {
        "target": f"http://{HOST}:{port}{PATH} " + (f"({per_request} completions per request, rule extractor)"
                                                    if args.reward else "(question only, rule extractor)"),
        "server_workers": args.workers, "concurrency": args.concurrency, "duration_s": round(seconds, 2),
        "requests": len(lat), "checks_per_s": round(len(lat) / seconds, 1),
        "latency_ms": {"p50": round(pct(lat, 50), 2), "p99": round(pct(lat, 99), 2), "max": round(max(lat), 2)},
        "errors": len(errors), "error_kinds": sorted(set(errors))[:10],
        "not_accepted_retried": len(REFUSED), "restart": restarted or None,
        "server_rss_mb": {"start": rss_start, "end": rss_end, "growth": round(rss_end - rss_start, 1),
                          "samples_every_sixth_of_the_run": samples},
        "cpus": os.cpu_count(),
        "server_processes_rss_mb": per_process,
        "audit": args.audit, "audit_rows_after_stop": audit_rows,
    }
    if args.restart:
        result["server_rss_mb"] = None  # two different server processes: growth is not meaningful
    result["goals_met"] = {"ge_500_checks_per_s": result["checks_per_s"] >= 500, "zero_errors": not errors}
    if args.reward:
        result["completions_per_s"] = round(len(lat) * per_request / seconds, 1)
        result["goals_met"] = {"ge_1000_completions_per_s": result["completions_per_s"] >= 1000, "zero_errors": not errors}
    name = "load_test_restart" if args.restart else "load_test_audit" if args.audit else \
        "load_test_reward" if args.reward else "load_test"
    out = Path(args.out or ROOT / "bench-results" / f"{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


def _per_process_rss(pid: int) -> dict:
    """RSS of each process of the server (supervisor, workers, check workers, audit writer), by command."""
    from benchlib import tree_pids

    out = {}
    for p in tree_pids(pid):
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode()[:80]
            rss = next(int(line.split()[1]) for line in open(f"/proc/{p}/status") if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
        out[f"{p} {cmd}"] = round(rss / 1024, 1)
    return out


def _count_rows(path: Path):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM decisions").fetchall()[0][0]
    finally:
        con.close()


if __name__ == "__main__":
    sys.exit(main())
