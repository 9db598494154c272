#!/usr/bin/env python
"""Throughput of `quco score` on 2 cores, and memory on growing inputs. Prints JSON.

Index: all of ../shared/data/corpus (DuckDB). Inputs built from HaluEval dev, rows/s with the
spaCy model, with 1 and 2 worker processes:
- "question-only": each item's question once (2,000 distinct questions, cycled to --rows);
- "question+answer": each question with its right and its hallucinated answer, as HaluEval ships
  them (so each question comes twice; quco parses a repeated text once);
- "question+answer, distinct": one row per item, right and hallucinated answers alternating, so no
  question repeats (2,000 rows).
Baseline in the same run, so a slow machine shows as slow in both: the spaCy parse alone of each
input's texts in one process with the model loaded (questions with the NER pipes, answers with the
parser too, every row's texts), as rows/s. quco's rows/s over it cancels the machine's speed out;
it passes 1 where rows repeat a text, which quco parses once.
Then peak RSS of a question-only run (rule extractor) on inputs of increasing size, to show memory
stays flat. Each run is a separate `quco score` process, timed end to end (start-up included).

    python scripts/bench_score.py [--rows 4000] [--memory-rows 20000,200000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import ROOT


def run(args: list[str]) -> dict:
    code = (
        "import resource, sys, time\n"
        "from quco.cli.main import main\n"
        "t = time.perf_counter()\n"
        f"rc = main({args!r})\n"
        "s = time.perf_counter() - t\n"
        "self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print('BENCH', rc, s, self_kb, kids_kb, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    line = [l for l in proc.stderr.splitlines() if l.startswith("BENCH")]
    if proc.returncode != 0 or not line:
        raise SystemExit(f"quco score failed: {proc.stderr[-2000:]}")
    _, rc, seconds, self_kb, kids_kb = line[-1].split()
    return {"seconds": round(float(seconds), 2), "peak_rss_mb_parent": round(int(self_kb) / 1024),
            "peak_rss_mb_worker": round(int(kids_kb) / 1024)}


def parse_rows_per_s(rows: list) -> float:
    """rows/s of the bare spaCy parse of these rows' texts in this process (model loaded first),
    configured as quco parses them: questions without the parser, answers with it; every row's."""
    import time

    from quco.extract.model import load_pipeline

    nlp, _ = load_pipeline(None)
    questions = [q for q, _, _ in rows]
    answers = [a for _, a, _ in rows if a is not None]
    t = time.perf_counter()
    for _ in nlp.pipe(questions, batch_size=128, disable=["parser", "attribute_ruler"]):
        pass
    for _ in nlp.pipe(answers, batch_size=128):
        pass
    return round(len(rows) / (time.perf_counter() - t), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--memory-rows", default="20000,200000")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_score.json"))
    args = ap.parse_args()

    from quco.index.duckdb.build import build_index

    shared = Path(args.shared)
    items = [json.loads(l) for l in open(shared / "eval" / "halueval_qa_dev.jsonl")]
    result = {"machine": {"cpus": os.cpu_count()}, "throughput": [], "baseline_parse_only": [], "memory": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        index = tmp / "all.duckdb"
        build_index(sorted((shared / "corpus").glob("*.jsonl")), index, progress=False)
        both = [(it["question"], ans, label) for it in items
                for label, ans in ((False, it["right_answer"]), (True, it["hallucinated_answer"]))]
        inputs = {
            "question-only": [(items[i % len(items)]["question"], None, None) for i in range(args.rows)],
            "question+answer": [both[i % len(both)] for i in range(args.rows)],
            "question+answer, distinct": [both[2 * k + k % 2] for k in range(len(items))],
        }
        for name, rows in inputs.items():
            src = tmp / f"{len(rows)}-{name.replace(' ', '').replace(',', '-')}.jsonl"
            with open(src, "w") as fh:
                for n, (question, answer, label) in enumerate(rows):
                    row = {"id": n, "question": question}
                    if answer is not None:
                        row |= {"answer": answer, "label": label}
                    fh.write(json.dumps(row) + "\n")
            extra = ["--answer-field", "answer"] if rows[0][1] is not None else []
            base = parse_rows_per_s(rows)
            result["baseline_parse_only"].append({"input": name, "rows": len(rows), "rows_per_s": base})
            print(json.dumps(result["baseline_parse_only"][-1]), file=sys.stderr)
            for workers in (1, 2):
                out = tmp / f"o-{src.stem}-{workers}.parquet"
                r = run(["score", str(src), "-o", str(out), "--id-field", "id", "--index", str(index),
                         "--workers", str(workers), "--no-progress", *extra])
                r |= {"input": name, "workers": workers, "rows": len(rows),
                      "rows_per_s": round(len(rows) / r["seconds"], 1), "model": "en_core_web_sm"}
                r["ratio_to_parse_only"] = round(r["rows_per_s"] / base, 2)
                result["throughput"].append(r)
                print(json.dumps(r), file=sys.stderr)
        for n_rows in (int(x) for x in args.memory_rows.split(",")):
            src = tmp / f"m{n_rows}.jsonl"
            with open(src, "w") as fh:
                for i in range(n_rows):
                    fh.write(json.dumps({"id": i, "question": items[i % len(items)]["question"]}) + "\n")
            r = run(["score", str(src), "-o", str(tmp / f"m{n_rows}.parquet"), "--id-field", "id", "--index", str(index),
                     "--model", "rules", "--workers", "2", "--no-progress"])
            r |= {"rows": n_rows, "rows_per_s": round(n_rows / r["seconds"], 1), "model": "rules"}
            result["memory"].append(r)
            print(json.dumps(r), file=sys.stderr)
    best = {k: max(r["rows_per_s"] for r in result["throughput"] if r["input"] == k) for k in inputs}
    result["goals_met"] = {f"{k}_ge_300_rows_per_s": v >= 300 for k, v in best.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
