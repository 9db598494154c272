#!/usr/bin/env python
"""The three count backends side by side on all of ../shared/data/corpus. Prints JSON.

Measured in one run: build time, peak RSS and size of the DuckDB and infini-gram indexes (each in a
child process); count and cooccur p50/p99 over real entity strings and pairs for duckdb,
infinigram-local (exact and count_cnf) and infinigram-api (the HTTP client against a local
server speaking the hosted API's contract over the infini-gram index); and how many HTTP requests
one check costs with an empty cache and on a re-run with the cache.

    python scripts/bench_backends.py [--out bench-results/bench_backends.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, build_in_child, summary, timed, workload


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_backends.json"))
    ap.add_argument("--entities", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=500)
    ap.add_argument("--checks", type=int, default=200, help="question+draft checks for requests per check")
    args = ap.parse_args()

    from quco.backends.infinigram_api import InfiniGramAPI
    from quco.extract import Extractor
    from quco.index.duckdb.reader import DuckDBIndex
    from quco.index.infinigram.reader import InfiniGramLocal
    from quco.testing.contract_server import ContractServer

    shared = Path(args.shared)
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    if not sources:
        print(json.dumps({"error": f"no corpus files under {shared / 'corpus'}"}))
        return 2
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result["build"] = {
            "duckdb": build_in_child(sources, tmp / "all.duckdb", "duckdb"),
            "infinigram": build_in_child(sources, tmp / "all.ig", "infinigram"),
        }
        extractor = Extractor()
        entities, pairs, questions = workload(shared, extractor, args.entities, args.pairs)
        duck = DuckDBIndex(tmp / "all.duckdb")
        local = InfiniGramLocal(tmp / "all.ig")
        local_cnf = InfiniGramLocal(tmp / "all.ig", cooccur="cnf")
        with ContractServer(local_cnf) as server:
            api = InfiniGramAPI(endpoint=server.url, index="local-u8", corpus_tokens=local.corpus.tokens, max_workers=4)
            backends = {"duckdb": duck, "infinigram-local": local, "infinigram-local-cnf": local_cnf, "infinigram-api": api}
            latency = {}
            for name, be in backends.items():
                if hasattr(be, "_cache"):
                    be.clear_caches()
                _, count_ms = timed(lambda p, be=be: be.count(p), entities)
                if hasattr(be, "_cache"):
                    be.clear_caches()  # co-occurrence timings must not ride on the count cache
                _, cooc_ms = timed(lambda ab, be=be: be.cooccur(*ab, 1000), pairs)
                t = time.perf_counter()
                be.count_many(entities)
                batch = (time.perf_counter() - t) * 1000 / len(entities)
                latency[name] = {"count": summary(count_ms) | {"batch_per_item_ms": round(batch, 4)},
                                 "cooccur_w1000": summary(cooc_ms)}
            result["latency"] = latency
            result["requests_per_check"] = requests_per_check(server, local, questions[: args.checks], extractor, tmp)
    result["notes"] = {
        "api": "InfiniGramAPI over HTTP on 127.0.0.1 (ContractServer, ThreadingHTTPServer) backed by the same "
               "infini-gram index in count_cnf mode; latency includes HTTP and JSON on both sides",
        "infinigram-local": "exact word windows read from the suffix array; -cnf uses the engine's count_cnf",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


def requests_per_check(server, local, questions, extractor, tmp: Path) -> dict:
    """HTTP requests per check (stage 1 on the question, stage 2 on a draft), cold and cached."""
    from quco.backends.infinigram_api import InfiniGramAPI, ResponseCache
    from quco.decide.detector import Detector

    # The drafts: HaluEval-style answers are short, so use the question followed by itself as a
    # two-sentence draft: it exercises triplet extraction and co-occurrence requests.
    items = [(q, q) for q in questions]
    out = {"checks": len(items)}
    cache = ResponseCache(tmp / "api-cache.sqlite")
    for run in ("no_cache", "cache_cold", "cache_warm"):
        api = InfiniGramAPI(endpoint=server.url, index="local-u8", corpus_tokens=local.corpus.tokens,
                            cache=None if run == "no_cache" else cache, max_workers=4)
        det = Detector(api, extractor)
        t = time.perf_counter()
        reports = det.check_many(items)
        out[run] = {"requests": api.requests_sent, "requests_per_check": round(api.requests_sent / len(items), 3),
                    "seconds": round(time.perf_counter() - t, 3), "unknown": sum(r.unknown for r in reports)}
    cache.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
