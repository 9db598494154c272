#!/usr/bin/env python
"""PopQA swap test: does quco tell a true one-sentence fact from the same sentence with a wrong object?

For each PopQA row (../shared/data/eval/popqa_1000.jsonl):
  true draft  "<subj>'s <prop> is <obj>."
  false draft the same with ``obj`` replaced by the ``obj`` of the next row (in file order,
              wrapping round) with the same ``prop`` whose ``obj`` is not among this row's
              ``possible_answers`` — deterministic, no random draw.
Both are checked as drafts (``Detector.check_many``, stage 2) and as answers (``AnswerScorer``,
the question with ``obj`` or the swapped object as answer). Items are split by:
  - stage 1: silent or fired on the question (the goals concern items where it is silent);
  - fact *stated*: the draft's own object, or one of its own aliases, occurs (case-insensitive,
    whole words) in the text of the corpus documents titled ``s_wiki_title``. PopQA's
    ``possible_answers`` join the aliases of *every* accepted object of the row's subject and
    property (Todd Verow's "actor" row lists "film director" and "cinematographer" too); an
    object's own aliases are the answers every row listing that object also lists
    (``object_aliases``: "actor", "actress", "actors", "actresses"). Reported beside (a subset of
    stated): *stated, object verbatim*, where the draft's own object word is in that text, not
    only an alias ("actress" for the object "actor");
  - *another answer only*: the article states another accepted answer of the row but not the
    drafted object ("Todd Verow's occupation is actor." where the article says "film director");
  - *absent*: no accepted answer at all.
    When the drafted fact is not stated (another answer only, absent), flagging both drafts is
    the method working (no evidence for the draft → retrieve): such rows are reported on their
    own lines, never mixed into the stated figures. ``stated, any answer`` (stated or another
    answer only) is the wider test used before 2026-12-07, kept for comparison.
Rows at even positions (0, 2, 4, …) are the design set ("dev"); odd ones are held out ("held-out").
Baselines in the same run: answer rarity (risk from how rare the object is, ignoring the
question) and random scores. Prints a table; writes bench-results/eval_swap.json.

    python scripts/eval_swap.py [--mode evidence|quco] [--bridges] [--index PATH] [--split dev|held-out|all]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, corpus_args, corpus_index, print_table, verdict_shares


def object_aliases(rows: list[dict]) -> dict[str, frozenset[str]]:
    """Each object's own aliases (lower-case): the answers that every row listing the object among
    its ``possible_answers`` also lists, the object itself included. An object only one row lists
    keeps that row's whole list (the wider test, for lack of another row to tell its aliases)."""
    lists = [frozenset(a.lower() for a in json.loads(r["possible_answers"])) for r in rows]
    objects = {r["obj"].lower() for r in rows}
    out = {}
    for o in objects:
        having = [lst for lst in lists if o in lst]
        out[o] = (frozenset.intersection(*having) if having else frozenset()) | {o}
    return out


def swap_items(rows: list[dict]) -> list[dict]:
    items = []
    n = len(rows)
    own = object_aliases(rows)
    for i, r in enumerate(rows):
        answers = {a.lower() for a in json.loads(r["possible_answers"])} | {r["obj"].lower()}
        swapped = None
        for k in range(1, n):
            other = rows[(i + k) % n]
            if other["prop"] == r["prop"] and other["obj"].lower() not in answers:
                swapped = other["obj"]
                break
        if swapped is None:
            continue
        items.append({"position": i, "question": r["question"], "subj": r["subj"], "prop": r["prop"],
                      "true": r["obj"], "false": swapped, "answers": sorted(answers),
                      "own": sorted(own[r["obj"].lower()]), "title": r["s_wiki_title"]})
    return items


def subject_texts(items: list[dict], corpus_files: list[Path]) -> dict[str, str]:
    """The text of the corpus documents titled as each item's subject article, by title (one read
    of the corpus)."""
    titles = {it["title"] for it in items}
    texts: dict[str, list[str]] = {}
    for f in corpus_files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                if d.get("title") in titles:
                    texts.setdefault(d["title"], []).append(d["text"])
    return {title: "\n".join(parts) for title, parts in texts.items()}


def stated(items: list[dict], texts: dict[str, str], answers_key: str = "answers") -> list[bool]:
    """Whether any of each item's ``answers_key`` phrases occurs (whole words, any case) in the
    text of its subject article (``texts``: ``subject_texts``)."""
    out = []
    for it in items:
        body = texts.get(it["title"], "")
        names = it[answers_key] if isinstance(it[answers_key], list) else [it[answers_key]]
        out.append(any(re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", body, re.I) for a in names if a))
    return out


FACTS = ("stated", "another answer only", "absent")


def facts(items: list[dict], texts: dict[str, str]) -> list[str]:
    """Each item's fact (``FACTS``): its object (or an alias of its own) stated in the subject's
    article, only another accepted answer stated there, or no accepted answer at all."""
    own, any_answer = stated(items, texts, "own"), stated(items, texts)
    return [FACTS[0] if o else FACTS[1] if a else FACTS[2] for o, a in zip(own, any_answer)]


def load_swap(shared: Path) -> tuple[list[Path], list[dict], dict[str, str]]:
    """The corpus files, the swap items of PopQA and their subject articles' text (``subject_texts``)."""
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    rows = [json.loads(l) for l in open(shared / "eval" / "popqa_1000.jsonl", encoding="utf-8")]
    items = swap_items(rows)
    return sources, items, subject_texts(items, sources)


def true_rate_at(scores: list[float], labels: list[bool], false_rate: float) -> float:
    """Operating point: flag risk >= t with the largest t that flags at least ``false_rate`` of
    the false drafts; the share of true drafts flagged there."""
    false = sorted((s for s, y in zip(scores, labels) if y), reverse=True)
    t = false[max(0, math.ceil(false_rate * len(false)) - 1)]
    true = [s for s, y in zip(scores, labels) if not y]
    return round(sum(s >= t for s in true) / len(true), 4)


def rarity(backend, phrases: list[str]) -> list[float]:
    from quco.batch.evaluation import rarity as risk_of

    counts = {c.phrase: c.count for c in backend.count_many(sorted(set(phrases)))}
    return [risk_of(counts[p]) for p in phrases]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_args(ap)
    ap.add_argument("--mode", default=None, help="stage-2 rule: evidence (default) or quco (the paper's rule)")
    ap.add_argument("--bridges", action="store_true",
                    help="mode evidence: drafts and answers bridged for every question (default: chain questions only)")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "eval_swap.json"))
    args = ap.parse_args()

    from quco.batch.metrics import auroc
    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector
    from quco.decide.trigger import BRIDGES_SAID, Thresholds
    from quco.extract import Extractor
    from quco.index.open import open_backend

    shared = Path(args.shared)
    sources, items, texts = load_swap(shared)
    fact_of = facts(items, texts)
    verbatim = stated(items, texts, "true")  # the draft's own object word, not an alias, is in the article
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = corpus_index(sources, args.index, tmp)
        backend = open_backend(path)
        extractor = Extractor()
        thresholds = Thresholds(**({"mode": args.mode} if args.mode else {}), bridges=True if args.bridges else None)
        detector = Detector(backend, extractor, thresholds)
        t1 = time.perf_counter()
        s1 = detector.check_many([it["question"] for it in items])
        drafts = detector.check_many([(it["question"], f"{it['subj']}'s {it['prop']} is {it[v]}.")
                                      for it in items for v in ("true", "false")])
        answers = AnswerScorer(backend, extractor, bridges=thresholds.bridges).score_many(
            [(it["question"], it[v]) for it in items for v in ("true", "false")])
        seconds = time.perf_counter() - t1
        rare = rarity(backend, [it[v] for it in items for v in ("true", "false")])
        corpus = backend.corpus
    rng = random.Random(0)
    rand = [rng.random() for _ in drafts]

    def block(idx: list[int]) -> dict:
        rows2 = [2 * i + k for i in idx for k in (0, 1)]
        labels = [k == 1 for _ in idx for k in (0, 1)]
        out = {"items": len(idx)}
        if not idx:
            return out
        flag = [drafts[j].flagged is not None for j in rows2]
        out["draft_flagged_true"] = round(sum(f for f, y in zip(flag, labels) if not y) / len(idx), 4)
        out["draft_flagged_false"] = round(sum(f for f, y in zip(flag, labels) if y) / len(idx), 4)
        risk = [drafts[j].stage2_risk for j in rows2]
        out["true_flagged_at_75pct_false"] = true_rate_at(risk, labels, 0.75)
        contra = [any(p.verdict == "contradicted" for p in drafts[j].pairs) for j in rows2]
        out["draft_true_contradicted"] = round(sum(c for c, y in zip(contra, labels) if not y) / len(idx), 4)
        out["draft_false_contradicted"] = round(sum(c for c, y in zip(contra, labels) if y) / len(idx), 4)
        shares = verdict_shares([answers[j] for j in rows2], labels)
        out["answer_true_contradicted"] = shares["true"]["contradicted"]
        out["answer_false_contradicted"] = shares["false"]["contradicted"]
        for name, s in (("draft_auroc", [drafts[j].stage2_risk for j in rows2]),
                        ("answer_auroc", [answers[j].risk for j in rows2]),
                        ("baseline_answer_rarity_auroc", [rare[j] for j in rows2]),
                        ("baseline_random_auroc", [rand[j] for j in rows2])):
            out[name] = round(auroc(s, labels), 4)
        return out

    table = []
    for split, keep in (("dev", lambda p: p % 2 == 0), ("held-out", lambda p: p % 2 == 1)):
        for s1_state in ("silent", "fired"):
            rows = [i for i, it in enumerate(items) if keep(it["position"]) and (s1[i].retrieve == (s1_state == "fired"))]
            for fact in FACTS:
                table.append({"split": split, "stage1": s1_state, "fact": fact,
                              **block([i for i in rows if fact_of[i] == fact])})
            # Beside, never instead: of the stated facts, those whose article uses the draft's own
            # object word (not only an alias such as "actress" for "actor"); and the wider test
            # used before (any accepted answer of the row in the article).
            table.append({"split": split, "stage1": s1_state, "fact": "stated, object verbatim",
                          **block([i for i in rows if fact_of[i] == "stated" and verbatim[i]])})
            table.append({"split": split, "stage1": s1_state, "fact": "stated, any answer",
                          **block([i for i in rows if fact_of[i] != "absent"])})
    result = {"items": len(items), "corpus_tokens": corpus.tokens, "corpus_documents": corpus.documents,
              "mode": detector.thresholds.mode, "bridges": BRIDGES_SAID[detector.thresholds.bridges],
              "extractor": extractor.model_name,
              "scoring_seconds": round(seconds, 1), "total_seconds": round(time.perf_counter() - t0, 1), "table": table}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    rule = result["mode"] + (" with bridges for every question" if result["bridges"] == "always" else "")
    print(f"{len(items)} items; corpus {corpus.tokens:,} tokens; mode {rule}; {result['total_seconds']} s")
    print_table(table, [("split", 9, "split"), ("stage1", 7, "stage 1"), ("fact", 24, "fact")],
                [("items", "items"), ("draft_flagged_true", "flag true"), ("draft_flagged_false", "flag false"),
                 ("true_flagged_at_75pct_false", "true@75%false"), ("draft_auroc", "draft AUROC"),
                 ("answer_auroc", "answer AUROC"), ("draft_true_contradicted", "true contra."),
                 ("draft_false_contradicted", "false contra."), ("answer_true_contradicted", "ans true contra."),
                 ("answer_false_contradicted", "ans false contra."), ("baseline_answer_rarity_auroc", "rarity AUROC"),
                 ("baseline_random_auroc", "random AUROC")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
