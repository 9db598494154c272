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
    """Build in a fresh process so its peak RSS is the build's own: the largest single process
    (``peak_rss_mb``) and the whole process tree sampled every 0.2 s (``peak_tree_rss_mb``, which
    counts parallel build workers together)."""
    fn = {"duckdb": "from quco.index.duckdb.build import build_index as build",
          "mmap": "from quco.index.mmap.build import build_mmap_index as build",
          "infinigram": "from quco.index.infinigram.build import build_infinigram_index as build"}[backend]
    code = (
        "import json, os, resource, sys, time\n"
        f"{fn}\n"
        "t = time.perf_counter()\n"
        f"s = build({[str(s) for s in sources]!r}, {str(out)!r}, progress=False)\n"
        "size = sum(f.stat().st_size for f in s.path.rglob('*') if f.is_file()) if s.path.is_dir() else s.path.stat().st_size\n"
        "rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'tokens': s.tokens, 'documents': s.documents,"
        " 'bytes': size, 'peak_rss_mb': rss / 1024}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid))
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"build of {out} failed: {stderr.strip().splitlines()[-1:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_tree_rss_mb"] = round(max(peak, result["peak_rss_mb"]), 1)
    return result


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    import os

    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


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


def corpus_index(sources, given, tmp) -> Path:
    """The index to evaluate on: ``given`` (``--index``) when set, else a DuckDB index of
    ``sources`` built into the temporary directory ``tmp``."""
    if given is not None:
        return Path(given)
    from quco.index.duckdb.build import build_index

    path = Path(tmp) / "all.duckdb"
    build_index(sources, path, progress=False)
    return path


def write_result(out, result: dict) -> None:
    """A benchmark's JSON result written to ``out`` (its folder created) and printed."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def print_table(rows: list[dict], labels: list[tuple[str, int, str]], columns: list[tuple[str, str]]) -> None:
    """Rows as a fixed-width table: left-aligned label columns (key, width, heading), then
    right-aligned value columns (key, heading), a missing value left blank."""
    print(" ".join(f"{head:<{w}}" for _, w, head in labels) + " " + " ".join(f"{head:>13}" for _, head in columns))
    for r in rows:
        print(" ".join(f"{r[k]:<{w}}" for k, w, _ in labels) + " " + " ".join(f"{r.get(k, ''):>13}" for k, _ in columns))


def corpus_args(ap) -> None:
    """--shared and --index, as every eval and bench script over the shared corpus takes them."""
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--index", help="an index of all of ../shared/data/corpus to reuse (built in a temporary directory otherwise)")


def verdict_shares(reports, labels) -> dict:
    """Of the true (label False) and false (label True) answers, the share each reading verdict was
    given (``AnswerReport.verdict``: contradicted, unsupported, supported; "none" when nothing was read)."""
    out: dict = {}
    for side, want in (("true", False), ("false", True)):
        picked = [r.verdict or "none" for r, y in zip(reports, labels) if y == want]
        out[side] = {v: round(picked.count(v) / len(picked), 4) if picked else None
                     for v in ("contradicted", "unsupported", "supported", "none")}
    return out
