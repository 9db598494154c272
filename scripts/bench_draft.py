#!/usr/bin/env python
"""Latency of ``Detector.check_draft`` (stage 1 and 2 of one question and its one-sentence draft).

Index: all of ../shared/data/corpus (DuckDB), or --index. Drafts: multihop_dev's ``draft_right`` and
``draft_wrong`` and the PopQA swap test's true and false drafts, one call each, with the spaCy
model loaded and warmed. Baseline in the same run: the extractor's parse alone of the same
question and draft (``entities_many`` + ``sentences_many``), which ``check_draft`` cannot beat; the
ratio cancels the machine's speed out. Prints JSON; writes bench-results/bench_draft.json.

With --mmap PATH (a large memory-mapped index, e.g. the 1B-token one ``scripts/bench_scale.py
--keep`` leaves), the same drafts are timed on it too, in the same run.

    python scripts/bench_draft.py [--index PATH] [--mmap PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_args, corpus_index, pct, write_result


def drafts(shared: Path, limit: int) -> list[tuple[str, str]]:
    from eval_swap import swap_items

    out = []
    for line in open(shared / "eval" / "multihop_dev.jsonl"):
        it = json.loads(line)
        out += [(it["question"], it[k]) for k in ("draft_right", "draft_wrong") if it.get(k)]
    rows = [json.loads(line) for line in open(shared / "eval" / "popqa_1000.jsonl")]
    for it in swap_items(rows):
        out += [(it["question"], f"{it['subj']}'s {it['prop']} is {it[v]}.") for v in ("true", "false")]
    return out[:limit] if limit else out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_args(ap)
    ap.add_argument("--limit", type=int, default=600, help="drafts timed (default 600; 0: all)")
    ap.add_argument("--mmap", help="a large memory-mapped index to time the same drafts on")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_draft.json"))
    args = ap.parse_args()

    from quco.extract import Extractor
    from quco.index.open import open_backend

    shared = Path(args.shared)
    items = drafts(shared, args.limit)
    extractor = Extractor()
    with tempfile.TemporaryDirectory() as tmp:
        indexes = [("shared corpus", corpus_index(sorted((shared / "corpus").glob("*.jsonl")), args.index, tmp))]
        if args.mmap:
            indexes.append(("large mmap", Path(args.mmap)))
        runs = {name: timed(open_backend(path), extractor, items) for name, path in indexes}
    first = runs["shared corpus"]
    result = {"drafts": len(items), "extractor": extractor.model_name, **first,
              "goal_p50_le_20_ms": first["check_draft_ms"]["p50"] <= 20.0}
    if args.mmap:
        result["large_mmap"] = {**runs["large mmap"], "goal_p50_le_20_ms": runs["large mmap"]["check_draft_ms"]["p50"] <= 20.0}
    write_result(args.out, result)
    return 0


def timed(index, extractor, items: list[tuple[str, str]]) -> dict:
    """check_draft and the bare parse of each (question, draft), on ``index``."""
    from quco.decide.detector import Detector

    detector = Detector(index, extractor)
    detector.check_draft(*items[0])  # loads the model and warms the index
    check, parse = [], []
    for question, draft in items:
        t = time.perf_counter()
        detector.check_draft(question, draft)
        check.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        extractor.entities_many([question + " "])  # a text not parsed before: no reuse
        extractor.sentences_many([draft + " "])
        parse.append((time.perf_counter() - t) * 1000)
    return {"corpus_tokens": index.corpus.tokens, "backend": index.name,
            "check_draft_ms": {"p50": round(pct(check, 50), 2), "p90": round(pct(check, 90), 2),
                               "p99": round(pct(check, 99), 2)},
            "baseline_parse_only_ms": {"p50": round(pct(parse, 50), 2), "p99": round(pct(parse, 99), 2)},
            "ratio_p50_to_parse": round(pct(check, 50) / pct(parse, 50), 2)}


if __name__ == "__main__":
    raise SystemExit(main())
