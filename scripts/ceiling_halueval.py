#!/usr/bin/env python
"""How far can corpus association statistics go on HaluEval QA (a)? A learned upper estimate.

quco's answer risk is one rule over pairwise corpus statistics. This script separates "the rule
is weak" from "the statistics cannot tell these rows apart". It fits a gradient-boosted classifier
to all such statistics of each row, scores it out of fold, and reports AUROC overall and within
answer-length strata, as scripts/eval_halueval.py does. The statistics are:

- for every new claim of the answer, its association (smoothed PMI, ``quco.decide.evidence``) with every
  question entity and every question noun phrase, at windows of 10, 50 and 1,000 tokens (max,
  min and mean of each);
- the share of those phrases it co-occurs with, its own frequency and the rarest anchor's;
- whether it is absent from the corpus;
- beyond pairs, the documents holding the claim: how many of the question's entities and
  phrases the best and the second-best of them also hold, and how many hold at least two;
- quco's own risk, its choice check and whether the row was checkable.

Rows are scored out of fold: 5 folds, both rows of an item in one fold, 3 seeds. No length or
claim-count feature is used, as the issue's goal requires. The classifier learns from the dev
rows it is scored on (cross-validated), so the figure is optimistic. It is an upper estimate of
what a rule over these statistics can reach, not a method.

Needs scikit-learn (``pip install -e .[analysis]``), which quco itself does not use.

    python scripts/ceiling_halueval.py [--index PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_index
from eval_halueval import STRATA_NAMES, length_strata

WINDOWS = (10, 50, 1000)
SEEDS = (0, 1, 2)
NAN = float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--index", help="a DuckDB index of all of ../shared/data/corpus to reuse")
    ap.add_argument("--limit", type=int, default=0, help="only the first N items (default: all 2,000)")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "ceiling_halueval.json"))
    args = ap.parse_args()
    try:
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        print("error: this analysis needs scikit-learn: pip install -e .[analysis]", file=sys.stderr)
        return 2

    from quco.backends.positional import PositionalBackend
    from quco.batch.metrics import auroc
    from quco.decide.answer import AnswerScorer
    from quco.extract import Extractor
    from quco.index.open import open_backend

    shared = Path(args.shared)
    items = [json.loads(l) for l in open(shared / "eval" / "halueval_qa_dev.jsonl")]
    if args.limit:
        items = items[: args.limit]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        index = open_backend(corpus_index(sorted((shared / "corpus").glob("*.jsonl")), args.index, tmp))
        if not isinstance(index, PositionalBackend):
            print("error: the document statistics need an index with positions (a DuckDB index)", file=sys.stderr)
            return 2
        extractor = Extractor()
        questions = [it["question"] for it in items]
        answers = [a for it in items for a in (it["right_answer"], it["hallucinated_answer"])]
        rows_q = [q for q in questions for _ in (0, 1)]
        q_entities = extractor.entities_many(questions)
        q_claims = extractor.claims_many(questions)
        a_claims = extractor.claims_many(answers)
        rows_qe = [e for e in q_entities for _ in (0, 1)]
        rows_qc = [c for c in q_claims for _ in (0, 1)]
        reports = AnswerScorer(index, extractor).score_many(list(zip(rows_q, answers)), rows_qe, a_claims, rows_qc)
        X = np.array(features(index, rows_q, rows_qe, rows_qc, a_claims, reports), dtype=float)
        corpus_tokens = index.corpus.tokens
    y = np.array([0, 1] * len(items))
    words = [len(a.split()) for a in answers]
    labels = [bool(v) for v in y]

    def summary(scores) -> dict:
        strata = length_strata(list(scores), labels, words, auroc)
        return {"auroc": round(auroc(list(scores), labels), 4), "strata_weighted_auroc": strata["weighted"],
                "strata_auroc": {k: v["auroc"] for k, v in strata["by_stratum"].items()}}

    def out_of_fold(cols, seed):
        items_fold = np.random.RandomState(seed).randint(0, 5, len(items))
        fold = np.repeat(items_fold, 2)
        scores = np.zeros(len(y))
        for k in range(5):
            train, test = fold != k, fold == k
            model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                                   min_samples_leaf=30, random_state=0)
            scores[test] = model.fit(X[train][:, cols], y[train]).predict_proba(X[test][:, cols])[:, 1]
        return summary(scores)

    every = list(range(X.shape[1]))
    table = [{"method": "quco answer risk (the rule)", **summary(X[:, 0])}]
    for name, cols in (("learned, all statistics", every), ("learned, without quco's risk", every[1:])):
        runs = [out_of_fold(cols, seed) for seed in SEEDS]
        table.append({"method": name, "seeds": list(SEEDS), "runs": runs,
                      "auroc": round(sum(r["auroc"] for r in runs) / len(runs), 4),
                      "strata_weighted_auroc": round(sum(r["strata_weighted_auroc"] for r in runs) / len(runs), 4),
                      "auroc_range": [min(r["auroc"] for r in runs), max(r["auroc"] for r in runs)],
                      "strata_range": [min(r["strata_weighted_auroc"] for r in runs),
                                       max(r["strata_weighted_auroc"] for r in runs)]})
    result = {"items": len(items), "rows": len(y), "features": X.shape[1], "windows": list(WINDOWS),
              "corpus_tokens": corpus_tokens, "extractor": extractor.model_name,
              "seconds": round(time.perf_counter() - t0, 1), "table": table}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{len(items)} items, {len(y)} rows, {X.shape[1]} statistics per row; corpus {corpus_tokens:,} tokens; "
          f"{result['seconds']} s")
    print(f"{'method':<32} {'AUROC':>7} {'strata':>7}  " + " ".join(f"{k:>6}" for k in STRATA_NAMES))
    for r in table:
        by = r["strata_auroc"] if "runs" not in r else {k: sum(x["strata_auroc"][k] for x in r["runs"]) / len(r["runs"])
                                                        for k in STRATA_NAMES}
        print(f"{r['method']:<32} {r['auroc']:>7.4f} {r['strata_weighted_auroc']:>7.4f}  "
              + " ".join(f"{by[k]:>6.3f}" for k in STRATA_NAMES))
    return 0


def features(index, questions, question_entities, question_claims, answer_claims, reports) -> list[list[float]]:
    """One row of statistics per (question, answer): quco's risk, checkability and choice risk,
    then the deciding claim's statistics (28) and the minimum of each over the answer's claims (27)."""
    from quco.decide.evidence import association, canonical_of, claim_pairs, new_claims, overlaps, with_forms, word_forms

    canon = canonical_of(index)
    corpus = index.corpus
    rows = []
    for q, qe, qc, cs in zip(questions, question_entities, question_claims, answer_claims):
        ents = tuple(dict.fromkeys(e.text for e in qe))
        phrases = tuple(p for p in dict.fromkeys(qc) if p not in ents)
        new, _ = new_claims(cs, ents, canon, context=canon(q))
        rows.append((ents, phrases, new))
    wanted = sorted({p for e, n, _ in rows for p in e + n if canon(p)} | with_forms(c for *_, cs in rows for c in cs))
    counts = {}
    for p, c in zip(wanted, index.count_many(wanted)):
        if c.count is None:  # a local index answers every count; an unknown one would bias the estimate
            raise SystemExit(f"error: the count of {p!r} is unknown")
        counts[p] = (c.count,)
    pairs = sorted({pair for e, n, cs in rows for a in e + n if counts.get(a, (0,))[0] for c in cs
                    if not overlaps(a, c, canon) for pair in claim_pairs(a, c, counts)})
    cooccur = {w: {p: c.count for p, c in zip(pairs, index.cooccur_many(pairs, w))} for w in WINDOWS}

    def claim_stats(claim, ents, phrases):
        forms = [f for f in word_forms(claim) if counts.get(f, (0,))[0]]
        count = sum(counts[f][0] for f in forms)
        if not count:
            return [1.0] + [NAN] * 23
        out = [0.0]
        by_kind = {}
        for kind, anchors in (("entity", ents), ("phrase", phrases)):
            known = sorted((a for a in anchors if counts.get(a, (0,))[0] and not overlaps(a, claim, canon)),
                           key=lambda a: counts[a][0])
            by_kind[kind] = known
            for w in WINDOWS:
                pmi = [association(sum(cooccur[w][(a, f)] for f in forms), counts[a][0], count, corpus, w)[1]
                       for a in known]
                out += [max(pmi), min(pmi), sum(pmi) / len(pmi)] if pmi else [NAN] * 3
        for kind in ("entity", "phrase"):
            known = by_kind[kind]
            seen = [sum(cooccur[1000][(a, f)] for f in forms) > 0 for a in known]
            out.append(sum(seen) / len(seen) if seen else NAN)
        rarest = by_kind["entity"][:1]
        out += [math.log(count), math.log(counts[rarest[0]][0]) if rarest else NAN]
        out.append(association(sum(cooccur[1000][(rarest[0], f)] for f in forms), counts[rarest[0]][0], count,
                               corpus, 1000)[1] if rarest else NAN)
        return out

    documents = DocumentSets(index)
    table = []
    for (ents, phrases, cs), report in zip(rows, reports):
        choice = report.choice.risk if report.choice is not None and report.choice.checked else NAN
        head = [report.risk, float(report.checkable), choice]
        stats = [claim_stats(c, ents, phrases) + documents.coverage(c, ents, phrases, canon) for c in cs]
        if not stats:
            table.append(head + [NAN] * 55)
            continue
        # the deciding claim: absent from the corpus first, else the weakest association with the rarest anchor
        deciding = min(stats, key=lambda s: (-s[0], s[23] if s[23] == s[23] else 0.0))
        lowest = [min((s[k] for s in stats if s[k] == s[k]), default=NAN) for k in range(1, 28)]
        table.append(head + deciding + lowest)
    return table


class DocumentSets:
    """Which documents hold a phrase (any of a claim's word forms), for statistics beyond pairs."""

    def __init__(self, index):
        self.index = index
        self._docs: dict[str, set] = {}

    def of(self, phrase: str) -> set:
        if phrase not in self._docs:
            self._docs[phrase] = set(self.index.documents(phrase).tolist())
        return self._docs[phrase]

    def coverage(self, claim, ents, phrases, canon) -> list[float]:
        """Of the question's phrases in the corpus, the share the claim's best and second-best
        documents also hold, the same for its entities alone, and log(1 + documents holding >= 2)."""
        from quco.decide.evidence import overlaps, word_forms

        held = set().union(*(self.of(f) for f in word_forms(claim)))
        if not held:
            return [NAN] * 4
        question = [p for p in ents + phrases if canon(p) and self.of(p) and not overlaps(p, claim, canon)]
        entities = [p for p in ents if p in question]
        if not question:
            return [NAN] * 3 + [0.0]
        cover = sorted((sum(d in self.of(p) for p in question) for d in held), reverse=True)
        best_entities = max(sum(d in self.of(p) for p in entities) for d in held) / len(entities) if entities else NAN
        second = cover[1] / len(question) if len(cover) > 1 else 0.0
        return [cover[0] / len(question), second, best_entities, math.log1p(sum(c >= 2 for c in cover))]


if __name__ == "__main__":
    sys.exit(main())
