#!/usr/bin/env python
"""HaluEval QA: does quco's answer-level risk separate right from hallucinated answers?

Index: all of ../shared/data/corpus. 2,000 items x (right, hallucinated) = 4,000 (question,
answer) rows. Two corpus settings (../shared/data/README.md):
  (a) the corpus includes each item's own knowledge line;
  (b) the same corpus without the item's own knowledge line (exact leave-one-out counts), the
      "fact absent from pretraining" case.
Next to quco, in the same run: random scores, answer length, question-entity frequency alone
(stage-1 risk; identical for both answers of an item by construction) and answer-entity rarity
alone. Prints a table; writes bench-results/eval_halueval.json.

    python scripts/eval_halueval.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, verdict_shares


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N items (default: all 2,000)")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "eval_halueval.json"))
    args = ap.parse_args()

    import numpy as np

    from quco.batch.metrics import auroc
    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    shared = Path(args.shared)
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    items = [json.loads(l) for l in open(shared / "eval" / "halueval_qa_dev.jsonl")]
    if args.limit:
        items = items[: args.limit]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        build_index(sources, Path(tmp) / "all.duckdb", progress=False)
        index = DuckDBIndex(Path(tmp) / "all.duckdb")
        extractor = Extractor()
        questions = [it["question"] for it in items]
        answers = [a for it in items for a in (it["right_answer"], it["hallucinated_answer"])]
        q_entities = extractor.entities_many(questions)
        claims = extractor.claims_many(answers)
        rows_qe = [e for e in q_entities for _ in (0, 1)]
        labels = [False, True] * len(items)

        scores = {}
        reports_a, reports_b = answer_reports(index, extractor, items, q_entities, claims)
        scores["a", "quco answer risk"] = [r.risk for r in reports_a]
        scores["b", "quco answer risk"] = [r.risk for r in reports_b]

        rng = random.Random(0)
        rand = [rng.random() for _ in labels]
        length = [len(a) for a in answers]
        stage1 = [r.stage1_risk for r in Detector(index, extractor).check_many(questions)]
        stage1 = [s for s in stage1 for _ in (0, 1)]
        rarity = _answer_rarity(index, claims, rows_qe)
        for setting in ("a", "b"):
            scores[setting, "baseline: random"] = rand
            scores[setting, "baseline: answer length (chars)"] = length
            scores[setting, "baseline: question-entity frequency (stage 1)"] = stage1
        scores["a", "baseline: answer-entity rarity"] = rarity
        scores["b", "baseline: answer-entity rarity"] = _answer_rarity(index, claims, rows_qe, items)

    table = []
    words = [len(a.split()) for a in answers]
    for (setting, method), s in scores.items():
        arr = np.asarray(s, dtype=float).reshape(-1, 2)
        paired = float(np.mean(np.where(arr[:, 1] > arr[:, 0], 1.0, np.where(arr[:, 1] == arr[:, 0], 0.5, 0.0))))
        strata = length_strata(s, labels, words, auroc)
        table.append({"setting": setting, "method": method, "auroc": round(auroc(s, labels), 4),
                      "paired_accuracy": round(paired, 4), "ties": int((arr[:, 0] == arr[:, 1]).sum()),
                      "strata_auroc": strata["by_stratum"], "strata_weighted_auroc": strata["weighted"]})
    result = {"items": len(items), "rows": 2 * len(items), "corpus_tokens": index.corpus.tokens,
              "extractor": extractor.model_name, "seconds": round(time.perf_counter() - t0, 1), "table": table,
              "uncheckable_rows": {"right": sum(not r.checkable for r in reports_a[0::2]),
                                   "hallucinated": sum(not r.checkable for r in reports_a[1::2])},
              "uncheckable_why": uncheckable_why(reports_a),
              "setting_a_by_checkability": checkability(reports_a, labels, auroc),
              "verdicts": {"a": verdict_shares(reports_a, labels), "b": verdict_shares(reports_b, labels)},
              "settings": {"a": "corpus includes each item's knowledge line", "b": "without the item's own knowledge line"}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{len(items)} items, {2 * len(items)} rows; corpus {index.corpus.tokens:,} tokens; {result['seconds']} s")
    print(f"no checkable claim: {result['uncheckable_rows']}; why (a): {result['uncheckable_why']}")
    for setting, shares in result["verdicts"].items():
        print(f"({setting}) reading verdicts, right answers: {shares['true']}; hallucinated: {shares['false']}")
    c = result["setting_a_by_checkability"]
    print(f"(a) AUROC on the {c['checkable_rows']} checkable rows alone: {c['auroc_checkable_rows']}; "
          f"with every uncheckable row scored perfectly: {c['auroc_if_uncheckable_rows_scored_perfectly']}")
    print(f"{'setting':<8} {'method':<48} {'AUROC':>7} {'paired':>7} {'ties':>5} {'strata':>7}  "
          + " ".join(f"{k:>6}" for k in STRATA_NAMES))
    for r in table:
        print(f"{r['setting']:<8} {r['method']:<48} {r['auroc']:>7.4f} {r['paired_accuracy']:>7.4f} {r['ties']:>5} "
              f"{r['strata_weighted_auroc']:>7.4f}  " + " ".join(f"{r['strata_auroc'][k]['auroc'] or 0:>6.3f}" for k in STRATA_NAMES))
    return 0


_WHY = (("yes/no question: the corpus does not say", "yes/no: the subjects' sentences do not settle it"),
        ("yes/no question: the answer says neither", "yes/no: the answer says neither"),
        ("the corpus states no year", "time ranking: a year not stated"),
        ("the corpus states no count", "count ranking: a count not stated"),
        ("cannot be read", "ranking: an option's text not readable"),
        ("both of", "time ranking: the same year"), ("both have", "count ranking: the same count"),
        ("the corpus cannot compare them", "choice: the corpus cannot weigh the options"),
        ("which quco does not read", "choice ranked by a measure quco does not read"),
        ("could not be told", "choice: options, or the one picked, not told"),
        ("names both options", "choice: the answer names both"), ("names neither option", "choice: the answer names neither"),
        ("nothing besides its options", "choice: nothing besides the options to weigh them by"),
        ("quco reads yes/no questions", "yes/no: not about two subjects"),
        ("found in the answer is the question's", "only the question's own names"),
        ("no name, phrase or number", "nothing to count"))


def uncheckable_why(reports) -> dict:
    """The rows with nothing checkable by the reason their reports give, most frequent first."""
    tally: dict[str, int] = {}
    for r in reports:
        if not r.checkable:
            said = " ".join(r.readings)
            key = next((k for cue, k in _WHY if cue in said), "other")
            tally[key] = tally.get(key, 0) + 1
    return dict(sorted(tally.items(), key=lambda kv: -kv[1]))


def checkability(reports, labels, auroc) -> dict:
    """How much the rows with nothing to check cost: the AUROC on the checkable rows alone, and the
    AUROC if every uncheckable row were scored perfectly (1 when hallucinated, 0 when right), an
    upper bound on what checking them could add."""
    ok = [i for i, r in enumerate(reports) if r.checkable]
    perfect = [r.risk if r.checkable else float(y) for r, y in zip(reports, labels)]
    return {"checkable_rows": len(ok),
            "auroc_checkable_rows": round(auroc([reports[i].risk for i in ok], [labels[i] for i in ok]), 4),
            "auroc_if_uncheckable_rows_scored_perfectly": round(auroc(perfect, labels), 4)}


STRATA = ((1, 2), (3, 5), (6, 10), (11, 10**9))
STRATA_NAMES = ("1-2", "3-5", "6-10", "11+")


def length_strata(scores, labels, words, auroc) -> dict:
    """AUROC within answer-length strata (words), and their row-count-weighted mean over the
    strata holding both labels."""
    by, total, weight = {}, 0.0, 0
    for name, (lo, hi) in zip(STRATA_NAMES, STRATA):
        idx = [i for i, w in enumerate(words) if lo <= w <= hi]
        ys = [labels[i] for i in idx]
        ok = 0 < sum(ys) < len(ys)
        a = auroc([scores[i] for i in idx], ys) if ok else None
        by[name] = {"rows": len(idx), "positives": sum(ys), "auroc": round(a, 4) if a is not None else None}
        if a is not None:
            total += a * len(idx)
            weight += len(idx)
    return {"by_stratum": by, "weighted": round(total / weight, 4) if weight else None}


def answer_reports(index, extractor, items, q_entities=None, claims=None):
    """quco's answer reports for the 2 x len(items) rows (right, hallucinated, ...) in setting (a)
    and, with each item's own knowledge line left out, setting (b)."""
    from quco.decide.answer import AnswerScorer

    questions = [it["question"] for it in items]
    answers = [a for it in items for a in (it["right_answer"], it["hallucinated_answer"])]
    q_entities = q_entities if q_entities is not None else extractor.entities_many(questions)
    claims = claims if claims is not None else extractor.claims_many(answers)
    rows_q = [q for q in questions for _ in (0, 1)]
    rows_qe = [e for e in q_entities for _ in (0, 1)]
    reports_a = AnswerScorer(index, extractor).score_many(list(zip(rows_q, answers)), rows_qe, claims)
    reports_b = []
    for i, it in enumerate(items):
        view = index.without_documents([it["id"]]) if it["id"] in _ids(index) else index
        reports_b += AnswerScorer(view, extractor).score_many(
            [(it["question"], answers[2 * i]), (it["question"], answers[2 * i + 1])],
            [q_entities[i], q_entities[i]], [claims[2 * i], claims[2 * i + 1]])
    return reports_a, reports_b


_ID_CACHE: dict = {}


def _ids(index) -> set:
    if "ids" not in _ID_CACHE:
        index.doc_numbers([])
        _ID_CACHE["ids"] = set(index._ext_ids)
    return _ID_CACHE["ids"]


def _answer_rarity(index, claims, rows_qe, items=None) -> list[float]:
    """Baseline: risk from how rare the answer's new phrases are, ignoring the question."""
    from quco.batch.evaluation import rarity

    out = []
    for i, (cs, qe) in enumerate(zip(claims, rows_qe)):
        backend = index
        if items is not None and items[i // 2]["id"] in _ids(index):
            backend = index.without_documents([items[i // 2]["id"]])
        qtexts = {index.normalizer.canonical(e.text) for e in qe}
        new = [c for c in cs if index.normalizer.canonical(c) and index.normalizer.canonical(c) not in qtexts]
        if not new:
            out.append(0.5)
            continue
        counts = [c.count for c in backend.count_many(new)]
        out.append(max(rarity(c) for c in counts))
    return out


if __name__ == "__main__":
    sys.exit(main())
