#!/usr/bin/env python
"""Does the reward prefer the true draft? PopQA swap pairs, quco's evidence scheme beside CorVer's.

For each PopQA swap item (``scripts/eval_swap.py``: "<subj>'s <prop> is <obj>." against the same
sentence with another row's object), both drafts are rewarded as completions of the item's question
by ``quco.reward.Reward`` with each scheme, in the same run, over the same index. Reported per split
(even positions "dev", odd "held-out") and per fact (``eval_swap.facts``: the true object *stated* in
the subject's article; *another answer only*, the article states another accepted answer but not
the drafted one; or *absent*: in these two no corpus statistic can tell the drafts apart, and a tie
is the honest answer):
  - ``true_above``: share of pairs with reward(true) > reward(false) (ties count against);
  - ``ties`` and ``false_above``; the mean reward of true and of false drafts.
Baseline in the same run: random rewards. Writes bench-results/eval_reward.json.

    python scripts/eval_reward.py [--index PATH] [--model NAME]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_args, corpus_index, print_table
from eval_swap import FACTS, facts, load_swap


def compare(true: list[float], false: list[float]) -> dict:
    n = len(true)
    if not n:
        return {"pairs": 0}
    return {"pairs": n,
            "true_above": round(sum(t > f for t, f in zip(true, false)) / n, 4),
            "ties": round(sum(t == f for t, f in zip(true, false)) / n, 4),
            "false_above": round(sum(t < f for t, f in zip(true, false)) / n, 4),
            "mean_true": round(sum(true) / n, 4), "mean_false": round(sum(false) / n, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_args(ap)
    ap.add_argument("--model", default=None, help="spaCy pipeline (default: the pinned one); 'rules' for the rule-based one")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "eval_reward.json"))
    args = ap.parse_args()

    from quco.extract import Extractor
    from quco.index.open import open_backend
    from quco.reward.core import Reward

    sources, items, texts = load_swap(Path(args.shared))
    fact_of = facts(items, texts)
    prompts = [it["question"] for it in items for _ in (0, 1)]
    completions = [f"{it['subj']}'s {it['prop']} is {it[v]}." for it in items for v in ("true", "false")]
    t0 = time.perf_counter()
    rewards: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backend = open_backend(corpus_index(sources, args.index, tmp))
        extractor = Extractor(args.model)
        for scheme in ("evidence", "corver"):
            rewards[scheme] = Reward(backend, extractor, scheme=scheme)(prompts=prompts, completions=completions)
        rewards["evidence+bridges"] = Reward(backend, extractor, bridges=True)(prompts=prompts, completions=completions)
        corpus = backend.corpus
    rng = random.Random(0)
    rewards["random"] = [rng.random() for _ in completions]
    table = []
    for split, keep in (("dev", 0), ("held-out", 1)):
        for fact in FACTS:
            idx = [i for i, it in enumerate(items) if it["position"] % 2 == keep and fact_of[i] == fact]
            for scheme, r in rewards.items():
                table.append({"split": split, "fact": fact, "scheme": scheme,
                              **compare([r[2 * i] for i in idx], [r[2 * i + 1] for i in idx])})
    result = {"items": len(items), "corpus_tokens": corpus.tokens, "corpus_documents": corpus.documents,
              "extractor": extractor.model_name, "seconds": round(time.perf_counter() - t0, 1), "table": table}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{len(items)} pairs; corpus {corpus.tokens:,} tokens; extractor {result['extractor']}; {result['seconds']} s")
    print_table(table, [("split", 9, "split"), ("fact", 19, "fact"), ("scheme", 16, "scheme")],
                [("pairs", "pairs"), ("true_above", "true > false"), ("ties", "ties"), ("false_above", "false > true"),
                 ("mean_true", "mean true"), ("mean_false", "mean false")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
