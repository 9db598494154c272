#!/usr/bin/env python
"""Multi-hop questions: does quco tell a right answer from a wrong one when the answer is hops away?

Rows: ../shared/data/eval/multihop_dev.jsonl (MuSiQue and HotpotQA items whose supporting
paragraphs are in the shared corpus; see its README). Index: all of ../shared/data/corpus.
For each item, in one run:
  - answers: ``AnswerScorer`` risk of (question, right_answer) and (question, wrong_answer):
    AUROC, paired accuracy (risk(wrong) > risk(right)), the share of right and of wrong answers
    flagged (risk > ½, the default: above "no evidence either way");
  - drafts (where the set has them): stage-2 risk of draft_right / draft_wrong under the default
    evidence rule, with multi-hop bridges (``Thresholds(bridges=True)``) and under the paper's rule
    (``mode = "quco"``), same rows, same run;
  - stage 1 on the question: how often it retrieves, overall and for questions with a named
    entity the corpus lacks (they should: nothing in the corpus speaks for them);
  - baselines: answer length in characters, answer rarity (risk from the answer's own count,
    ignoring the question), random.
Every figure is given for the whole set and per dataset (musique, hotpot). Prints a table; writes
bench-results/eval_multihop.json.

    python scripts/eval_multihop.py [--index PATH] [--rows FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_args, corpus_index, print_table, verdict_shares


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def block(idx: list[int], r: dict) -> dict:
    """The figures of the items ``idx`` from the per-item results ``r``."""
    from quco.batch.metrics import auroc

    out: dict = {"items": len(idx)}
    if not idx:
        return out
    labels = [False, True] * len(idx)  # (right, wrong) per item

    def pairs(key: str) -> list[float]:
        return [v for i in idx for v in r[key][i]]

    ans = pairs("answer")
    out["answer_auroc"] = round(auroc(ans, labels), 4)
    out["answer_paired_acc"] = round(sum(r["answer"][i][1] > r["answer"][i][0] for i in idx) / len(idx), 4)
    out["right_flagged"] = _rate([r["answer"][i][0] > 0.5 for i in idx])
    out["wrong_flagged"] = _rate([r["answer"][i][1] > 0.5 for i in idx])
    with_drafts = [i for i in idx if r["draft_evidence"][i] is not None]
    if with_drafts:
        dl = [False, True] * len(with_drafts)
        out["draft_items"] = len(with_drafts)
        out["draft_auroc"] = round(auroc([v for i in with_drafts for v in r["draft_evidence"][i]], dl), 4)
        out["draft_auroc_paper_rule"] = round(auroc([v for i in with_drafts for v in r["draft_quco"][i]], dl), 4)
        out["draft_auroc_bridges"] = round(auroc([v for i in with_drafts for v in r["draft_bridged"][i]], dl), 4)
    shares = verdict_shares([a for i in idx for a in r["verdicts"][i]], labels)
    out["right_contradicted"], out["wrong_contradicted"] = shares["true"]["contradicted"], shares["false"]["contradicted"]
    out["answer_verdicts"] = shares
    out["stage1_retrieves"] = _rate([r["stage1"][i] for i in idx])
    absent = [i for i in idx if r["absent_entity"][i]]
    out["questions_with_absent_entity"] = len(absent)
    out["stage1_retrieves_when_entity_absent"] = _rate([r["stage1"][i] for i in absent])
    for name in ("length", "rarity", "random"):
        out[f"baseline_{name}_auroc"] = round(auroc(pairs(name), labels), 4)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_args(ap)
    ap.add_argument("--rows", help="the rows to evaluate (default: eval/multihop_dev.jsonl of --shared)")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "eval_multihop.json"))
    args = ap.parse_args()

    from quco.batch.evaluation import rarity
    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector
    from quco.decide.trigger import Thresholds
    from quco.extract import Extractor
    from quco.index.open import open_backend

    shared = Path(args.shared)
    rows_file = Path(args.rows) if args.rows else shared / "eval" / "multihop_dev.jsonl"
    rows = [json.loads(line) for line in open(rows_file, encoding="utf-8")]
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        backend = open_backend(corpus_index(sources, args.index, tmp))
        extractor = Extractor()
        evidence = Detector(backend, extractor)
        paper = Detector(backend, extractor, Thresholds(mode="quco"))
        bridged = Detector(backend, extractor, Thresholds(bridges=True))
        t1 = time.perf_counter()
        s1 = evidence.check_many([it["question"] for it in rows])
        answers = AnswerScorer(backend, extractor).score_many(
            [(it["question"], it[k]) for it in rows for k in ("right_answer", "wrong_answer")])
        has_draft = [bool(it.get("draft_right")) and bool(it.get("draft_wrong")) for it in rows]
        draft_items = [(it["question"], it[k]) for it, d in zip(rows, has_draft) if d for k in ("draft_right", "draft_wrong")]
        d_evidence = iter(evidence.check_many(draft_items))
        d_paper = iter(paper.check_many(draft_items))
        d_bridged = iter(bridged.check_many(draft_items))
        seconds = time.perf_counter() - t1
        counts = {c.phrase: c.count for c in backend.count_many(sorted({it[k] for it in rows
                                                                       for k in ("right_answer", "wrong_answer")}))}
        corpus = backend.corpus
    rng = random.Random(0)
    r: dict = {"answer": [], "draft_evidence": [], "draft_quco": [], "draft_bridged": [], "stage1": [], "absent_entity": [],
               "length": [], "rarity": [], "random": []}
    for k, it in enumerate(rows):
        r["answer"].append((answers[2 * k].risk, answers[2 * k + 1].risk))
        if has_draft[k]:
            ev = (next(d_evidence).stage2_risk, next(d_evidence).stage2_risk)
            pr = (next(d_paper).stage2_risk, next(d_paper).stage2_risk)
            br = (next(d_bridged).stage2_risk, next(d_bridged).stage2_risk)
        else:
            ev = pr = br = None
        r["draft_evidence"].append(ev)
        r["draft_quco"].append(pr)
        r["draft_bridged"].append(br)
        r["stage1"].append(s1[k].retrieve)
        r["absent_entity"].append(any(e.count == 0 for e in s1[k].entities))
        r["length"].append((len(it["right_answer"]), len(it["wrong_answer"])))
        r["rarity"].append((rarity(counts[it["right_answer"]]), rarity(counts[it["wrong_answer"]])))
        r["random"].append((rng.random(), rng.random()))
    r["verdicts"] = [(answers[2 * k], answers[2 * k + 1]) for k in range(len(rows))]
    table = [{"dataset": "all", **block(list(range(len(rows))), r)}]
    for ds in sorted({it["dataset"] for it in rows}):
        table.append({"dataset": ds, **block([i for i, it in enumerate(rows) if it["dataset"] == ds], r)})
    result = {"rows": str(rows_file), "items": len(rows), "corpus_tokens": corpus.tokens,
              "corpus_documents": corpus.documents, "extractor": extractor.model_name,
              "scoring_seconds": round(seconds, 1), "total_seconds": round(time.perf_counter() - t0, 1), "table": table}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{len(rows)} items from {rows_file.name}; corpus {corpus.tokens:,} tokens; {result['total_seconds']} s")
    print_table(table, [("dataset", 8, "dataset")],
                [("items", "items"), ("answer_auroc", "answer AUROC"), ("answer_paired_acc", "paired acc"),
                 ("right_flagged", "right flagged"), ("wrong_flagged", "wrong flagged"),
                 ("right_contradicted", "right contra."), ("wrong_contradicted", "wrong contra."),
                 ("draft_auroc", "draft AUROC"), ("draft_auroc_bridges", "+ bridges"),
                 ("draft_auroc_paper_rule", "paper rule"), ("stage1_retrieves", "stage 1"),
                 ("stage1_retrieves_when_entity_absent", "s1 | absent"), ("baseline_length_auroc", "length"),
                 ("baseline_rarity_auroc", "rarity"), ("baseline_random_auroc", "random")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
