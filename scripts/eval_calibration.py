#!/usr/bin/env python
"""Is P(fabrication) calibrated? Fit on HaluEval, check where the distribution matches and where not.

Index: all of ../shared/data/corpus. The answer-level risk of HaluEval's 2 x 2,000 rows (setting
(a), ../shared/data/README.md) is calibrated with ``quco.decide.calibration.fit`` (isotonic, as
``quco calibrate`` does) on the items at even positions, then checked on:
  - HaluEval (a), odd items: the same distribution (goal: ECE <= 0.05);
  - HaluEval (b), all items, each without its own knowledge line: facts absent from the corpus;
  - the PopQA swap test as answers (scripts/eval_swap.py), stage 1 silent: another task and
    another base rate.
For each: ECE (10 equal-width bins), Brier score, the base rate and the mean P(fabrication), and
the reliability bins. Writes bench-results/eval_calibration.json.

    python scripts/eval_calibration.py [--index PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_index


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--index", help="a DuckDB index of all of ../shared/data/corpus to reuse "
                                       "(setting b removes each item's document from it)")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "eval_calibration.json"))
    args = ap.parse_args()

    from eval_halueval import answer_reports
    from eval_swap import facts, subject_texts, swap_items

    from quco import __version__
    from quco.decide.answer import AnswerScorer
    from quco.decide.calibration import fit, reliability
    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.duckdb.reader import DuckDBIndex

    shared = Path(args.shared)
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    items = [json.loads(l) for l in open(shared / "eval" / "halueval_qa_dev.jsonl", encoding="utf-8")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = corpus_index(sources, args.index, tmp)
        index = DuckDBIndex(path)
        extractor = Extractor()
        reports_a, reports_b = answer_reports(index, extractor, items)
        labels = [k == 1 for _ in items for k in (0, 1)]
        fit_rows = [j for j in range(len(labels)) if (j // 2) % 2 == 0]
        check_rows = [j for j in range(len(labels)) if (j // 2) % 2 == 1]
        cal = fit([reports_a[j].risk for j in fit_rows], [labels[j] for j in fit_rows], score="answer_risk",
                  fitted_for={"index": index.identity, "corpus_tokens": index.corpus.tokens,
                              "extractor": extractor.model_name, "quco_version": __version__, "mode": "evidence",
                              "window": 1000}, source="HaluEval dev, even items, setting (a)")

        popqa = [json.loads(l) for l in open(shared / "eval" / "popqa_1000.jsonl", encoding="utf-8")]
        swap = swap_items(popqa)
        is_stated = [f == "stated" for f in facts(swap, subject_texts(swap, sources))]
        silent = [not r.retrieve for r in Detector(index, extractor).check_many([it["question"] for it in swap])]
        keep = [i for i in range(len(swap)) if silent[i]]
        swap_reports = AnswerScorer(index, extractor).score_many(
            [(swap[i]["question"], swap[i][v]) for i in keep for v in ("true", "false")])
        swap_labels = [v == "false" for _ in keep for v in ("true", "false")]
        swap_stated = [is_stated[i] for i in keep for _ in (0, 1)]

    def check(name, risks, ys, note):
        p = [cal.p(r) for r in risks]
        rel = reliability(p, ys)
        return {"set": name, "rows": len(ys), "base_rate": round(sum(ys) / len(ys), 4),
                "mean_p_fabrication": round(sum(p) / len(p), 4), "ece": rel["ece"], "brier": rel["brier"],
                "distribution": note, "bins": rel["bins"]}

    sets = [
        check("HaluEval (a), fitted rows (even items)", [reports_a[j].risk for j in fit_rows],
              [labels[j] for j in fit_rows], "the fit itself"),
        check("HaluEval (a), held-out rows (odd items)", [reports_a[j].risk for j in check_rows],
              [labels[j] for j in check_rows], "matches"),
        check("HaluEval (b), all items, own knowledge left out", [r.risk for r in reports_b], labels,
              "shifted: facts absent from the corpus"),
        check("PopQA swap as answers, stage 1 silent, fact stated",
              [r.risk for r, s in zip(swap_reports, swap_stated) if s], [y for y, s in zip(swap_labels, swap_stated) if s],
              "shifted: another task (one-word objects)"),
        check("PopQA swap as answers, stage 1 silent, fact not stated",
              [r.risk for r, s in zip(swap_reports, swap_stated) if not s],
              [y for y, s in zip(swap_labels, swap_stated) if not s], "shifted: another task, facts absent"),
    ]
    result = {"corpus_tokens": index.corpus.tokens, "extractor": extractor.model_name,
              "calibration": {"method": cal.method, "steps": len(cal.values), "fit_rows": cal.rows,
                              "breakpoints": cal.breakpoints, "values": [round(v, 4) for v in cal.values]},
              "sets": sets, "seconds": round(time.perf_counter() - t0, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"calibration: isotonic, {len(cal.values)} steps, fitted on {cal.rows} HaluEval (a) rows; {result['seconds']} s")
    print(f"{'set':<58} {'rows':>5} {'base':>6} {'mean p':>7} {'ECE':>7} {'Brier':>7}  distribution")
    for s in sets:
        print(f"{s['set']:<58} {s['rows']:>5} {s['base_rate']:>6.3f} {s['mean_p_fabrication']:>7.3f} {s['ece']:>7.4f} "
              f"{s['brier']:>7.4f}  {s['distribution']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
