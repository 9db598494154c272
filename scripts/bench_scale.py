#!/usr/bin/env python
"""Index backends at corpus scale: ~2M, ~45M, ~180M and ~1B tokens. Prints JSON, draws a log-log plot.

    python scripts/bench_scale.py [--sizes 2m,45m,180m,1b] [--backends mmap,duckdb,infinigram]
                                  [--work /tmp/quco-scale] [--out bench-results/bench_scale.json]

Corpora come from scripts/scale_corpus.py (the shared corpus, then replicas with perturbed names;
deterministic). For each size and backend, each in fresh processes: build time and peak RSS, index
size on disk against the corpus's raw text, open time, RSS of an idle serving worker (total and
anonymous, i.e. beyond the shared page cache) and of a second worker opening the same index,
count and cooccur p50/p99/max — first with the index evicted from the page cache ("cold"), then
after reading the index once as a serving worker's warm-up would (the headline figures) — over
(a) 1,000 real entities / 600 real pairs from the eval sets and (b) 100 frequent phrases / 100
frequent pairs, how many answers were estimates (approx) or
unknown (over the work budget with no hit in the sample), and check_question p50 with the spaCy
pipeline. Backends that cannot run a size on this machine are reported as skipped with the reason
(DuckDB's build needs ~41 bytes of RAM per token; the byte-level infini-gram index is ~4x the
text on disk, so it is measured up to 45M). The 1B run takes a while: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchlib import ROOT, build_in_child

SIZES = {"2m": 2_000_000, "45m": 45_000_000, "180m": 180_000_000, "1b": 1_000_000_000}
LIMITS = {"duckdb": 200_000_000, "infinigram": 50_000_000, "mmap": 10**12}
WHY = {"duckdb": "the DuckDB build holds ~41 bytes per token in RAM (a 1B build needs ~40 GB; this machine has 24)",
       "infinigram": "a byte-level suffix array is ~4x the text on disk (4 GB at 180M tokens, 28 GB at 1B) and "
                     "its build ~2 s per million tokens: measured up to 45M here"}

# Run in a fresh process: open the index, time the workload, report RSS; then wait (a serving
# worker at rest) until stdin closes, so a second worker can be measured beside it.
_PROBE = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
wl = json.load(open({workload!r}))
def rss():
    out = {{}}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0]) / 1024
    return out
t = time.perf_counter()
from quco.index.open import open_backend
be = open_backend({index!r}, backend={backend!r})
open_s = time.perf_counter() - t
def run(fn, items):
    ms, approx, unknown = [], 0, 0
    for it in items:
        t = time.perf_counter()
        try:
            r = fn(it)
            approx += bool(r.approx)
        except Exception as exc:
            unknown += 1
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    q = lambda p: round(ms[min(len(ms) - 1, int(p / 100 * (len(ms) - 1)))], 4)
    return {{"n": len(ms), "p50_ms": q(50), "p99_ms": q(99), "max_ms": round(ms[-1], 3), "approx": approx, "unknown": unknown}}
res = {{"open_s": round(open_s, 4), "corpus_tokens": be.corpus.tokens}}
def workloads():
    return {{"count_entities": run(lambda p: be.count(p), wl["entities"]),
            "cooccur_entities": run(lambda ab: be.cooccur(ab[0], ab[1], 1000), wl["pairs"]),
            "count_frequent": run(lambda p: be.count(p), wl["frequent"]),
            "cooccur_frequent": run(lambda ab: be.cooccur(ab[0], ab[1], 1000), wl["frequent_pairs"])}}
if {mode!r} == "full":
    # A serving worker answers from a warm page cache: drop the cache's copy of the index first
    # (cold: every page a query touches comes from disk), then read the index once as a server's
    # warm-up would, and measure again with new phrases' caches cleared.
    import pathlib
    files = [f for f in pathlib.Path({index!r}).rglob("*") if f.is_file()] or [pathlib.Path({index!r})]
    for f in files:
        fd = os.open(f, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
    res["cold"] = workloads()
    t = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    res["warmup_read_s"] = round(time.perf_counter() - t, 2)
    res["warm_s"] = round(be.warm(), 2)  # what a serving worker does once after opening
    be.clear_caches()
    res.update(workloads())
    from quco.decide.detector import Detector
    from quco.extract import Extractor
    det = Detector(be, Extractor())
    det.check_question("Who wrote Hamlet?")
    ms = []
    for q in wl["questions"]:
        t = time.perf_counter(); det.check_question(q); ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    res["check_question_p50_ms"] = round(ms[len(ms) // 2], 3)
else:
    for p in wl["entities"][:200]:
        try:
            be.count(p)
        except Exception:
            pass
res["rss_mb"] = {{k: round(v, 1) for k, v in rss().items()}}
print(json.dumps(res), flush=True)
sys.stdin.read()
"""


def probe(index: Path, backend: str, workload: Path, mode: str):
    code = _PROBE.format(root=str(ROOT), workload=str(workload), index=str(index), backend=backend, mode=mode)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:  # anything a library prints before the report is skipped
        if line.startswith("{"):
            return proc, json.loads(line)
    proc.wait()
    raise RuntimeError(f"probe of {index} failed")


def frequent_workload(sources: list[Path], n: int = 100):
    """The most frequent words and word pairs of the shared corpus, and pairs built from them."""
    import collections
    import re

    words, bigrams = collections.Counter(), collections.Counter()
    for f in sources:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                toks = re.findall(r"\w+", json.loads(line)["text"].lower())
                words.update(toks)
                bigrams.update(zip(toks, toks[1:]))
    top_words = [w for w, _ in words.most_common(n // 2)]
    top_bigrams = [" ".join(b) for b, _ in bigrams.most_common(n // 2)]
    phrases = top_words + top_bigrams
    named = ["united states", "new york", "new york city", "world war", "the united states", "los angeles"]
    phrases = (named + [p for p in phrases if p not in named])[:n]
    pairs = [("new york", "city"), ("united states", "president"), ("the", "of"), ("world war", "army")]
    i = 0
    while len(pairs) < n:
        pairs.append((top_bigrams[i % len(top_bigrams)], top_words[(i * 7) % len(top_words)]))
        i += 1
    return phrases, pairs[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="2m,45m,180m,1b")
    ap.add_argument("--backends", default="mmap,duckdb,infinigram")
    ap.add_argument("--work", default="/tmp/quco-scale")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_scale.json"))
    ap.add_argument("--plot", default=str(ROOT / "bench-results" / "bench_scale.png"))
    ap.add_argument("--keep", action="store_true", help="keep the built indexes")
    ap.add_argument("--reuse", action="store_true",
                    help="measure queries on an index kept by an earlier --keep run (its build figures are kept)")
    ap.add_argument("--render", metavar="JSON", help="print the README table of an earlier run's JSON and exit")
    ap.add_argument("--merge", action="store_true",
                    help="keep the runs already in --out for other sizes/backends (measure in several sittings)")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    sys.path.insert(0, str(ROOT / "scripts"))
    from benchlib import workload
    from scale_corpus import SHARED, generate

    from quco.extract import Extractor

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sources = sorted((SHARED / "corpus").glob("*.jsonl"))
    if not sources:
        print(json.dumps({"skipped": f"{SHARED} is absent"}))
        return 0
    wl_path = work / "workload.json"
    if not wl_path.exists():
        entities, pairs, questions = workload(SHARED, Extractor(), 1000, 600)
        frequent, frequent_pairs = frequent_workload(sources)
        wl_path.write_text(json.dumps({"entities": entities, "pairs": pairs, "questions": questions[:300],
                                       "frequent": frequent, "frequent_pairs": frequent_pairs}))
    results = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "runs": []}
    out = Path(args.out)
    previous = json.loads(out.read_text())["runs"] if out.exists() else []
    if args.merge:
        wanted = {(z, b) for z in args.sizes.split(",") for b in args.backends.split(",")}
        results["runs"] = [r for r in previous if (r["size"], r["backend"]) not in wanted]
    out.parent.mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):
        target = SIZES[size]
        if size == "2m":
            corpus = sources
            raw = sum(p.stat().st_size for p in sources)
        else:
            path = work / f"corpus-{size}.jsonl"
            if not path.exists():
                generate(target, path)
            corpus, raw = [path], path.stat().st_size
        for backend in args.backends.split(","):
            run = {"size": size, "backend": backend, "corpus_bytes": raw}
            if target > LIMITS[backend]:
                run["skipped"] = WHY[backend]
                results["runs"].append(run)
                continue
            index = work / f"{size}.{backend}"
            earlier = [r for r in previous if r["size"] == size and r["backend"] == backend and "build" in r]
            if args.reuse and index.exists() and earlier:
                run["build"] = earlier[0]["build"]
            else:
                t = time.time()
                run["build"] = build_in_child(corpus, index, backend)
                run["build"]["wall_s"] = round(time.time() - t, 1)
            run["index_over_raw_text"] = round(run["build"]["bytes"] / raw, 3)
            qbackend = {"infinigram": "infinigram-local"}.get(backend, backend)
            first, measured = probe(index, qbackend, wl_path, "full")
            second, other = probe(index, qbackend, wl_path, "light")
            run["query"] = measured
            run["second_worker_rss_mb"] = other["rss_mb"]
            for p in (first, second):
                p.stdin.close()
                p.wait()
            results["runs"].append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
            out.write_text(json.dumps(results, indent=1))
            if not (args.keep or args.reuse):
                _remove(index)
    order = {z: i for i, z in enumerate(SIZES)}
    results["runs"].sort(key=lambda r: (order[r["size"]], r["backend"]))
    out.write_text(json.dumps(results, indent=1))
    _plot(results, Path(args.plot))
    print(json.dumps(results, indent=1))
    return 0


def render(results: dict) -> str:
    """The measured table as Markdown (the README's "Scale" table)."""
    head = ("| tokens | backend | build | build peak RSS | index / text | open | idle worker RSS (anon) | 2nd worker (anon) "
            "| count p50 / p99 entities | count p99 frequent | cooccur p50 / p99 entities | cooccur p99 frequent "
            "| approx / unknown (of 1,800) | check_question p50 | cold page cache: count / cooccur p99 |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results["runs"]:
        if "skipped" in r:
            rows.append(f"| {r['size']} | {r['backend']} | skipped: {r['skipped']} |" + " |" * 12)
            continue
        b, q = r["build"], r["query"]
        approx = sum(q[k]["approx"] for k in ("count_entities", "cooccur_entities", "count_frequent", "cooccur_frequent"))
        unknown = sum(q[k]["unknown"] for k in ("count_entities", "cooccur_entities", "count_frequent", "cooccur_frequent"))
        rows.append(
            f"| {q['corpus_tokens'] / 1e6:,.0f}M | {r['backend']} | {b['seconds']:.0f} s | {b['peak_tree_rss_mb'] / 1024:.2f} GB "
            f"| {r['index_over_raw_text']:.2f}× | {q['open_s']:.2f} s | {q['rss_mb']['VmRSS']:.0f} MB ({q['rss_mb']['RssAnon']:.0f}) "
            f"| {r['second_worker_rss_mb']['VmRSS']:.0f} MB ({r['second_worker_rss_mb']['RssAnon']:.0f}) "
            f"| {q['count_entities']['p50_ms']:.3f} / {q['count_entities']['p99_ms']:.2f} ms | {q['count_frequent']['p99_ms']:.2f} ms "
            f"| {q['cooccur_entities']['p50_ms']:.3f} / {q['cooccur_entities']['p99_ms']:.2f} ms "
            f"| {q['cooccur_frequent']['p99_ms']:.2f} ms | {approx} / {unknown} | {q['check_question_p50_ms']:.1f} ms "
            f"| {_cold(q)} |")
    return "\n".join(rows)


def _cold(q: dict) -> str:
    cold = q.get("cold")
    if not cold:
        return "–"
    count = max(cold["count_entities"]["p99_ms"], cold["count_frequent"]["p99_ms"])
    cooc = max(cold["cooccur_entities"]["p99_ms"], cold["cooccur_frequent"]["p99_ms"])
    return f"{count:.1f} / {cooc:.1f} ms"


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, what in zip(axes, ("count", "cooccur")):
        for backend in sorted({r["backend"] for r in results["runs"] if "query" in r}):
            for kind, style in (("entities", "-o"), ("frequent", "--s")):
                runs = [r for r in results["runs"] if r["backend"] == backend and "query" in r]
                xs = [r["query"]["corpus_tokens"] for r in runs]
                ys = [max(r["query"][f"{what}_{kind}"]["p99_ms"], 1e-3) for r in runs]
                if xs:
                    ax.plot(xs, ys, style, label=f"{backend}, {kind}")
        ax.axhline(5 if what == "count" else 50, color="grey", ls=":", label="goal")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("corpus tokens")
        ax.set_ylabel("p99 latency (ms)")
        ax.set_title(f"{what} p99 vs corpus size")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
