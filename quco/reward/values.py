"""A batch's rewards as numbers alone, read straight from the detector's gathered batch.

``Reward.__call__`` (what a trainer calls every step) needs one float per completion, not the
reports, reasons and per-claim records ``Reward.details`` builds to explain them. This module
computes the same floats from ``Detector.gather``'s batch — the same claims, evidence and
co-occurrences the reports are built from, scored by the same functions of ``schemes`` — and the
counts a trainer's metrics need. ``tests/test_reward.py`` holds the two paths equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from quco.decide.gathered import NO_PLAN, Gathered
from quco.reward.schemes import Scoring, claim_score, is_pronoun


@dataclass(frozen=True)
class Value:
    """One completion's reward and the figures ``BatchStats`` sums."""

    reward: float
    sentences: int
    checked: int
    unknown: int


def values(batch: Gathered, scoring: Scoring) -> list[Value]:
    """One ``Value`` per item of the batch (every item has a draft: the completion)."""
    sentence = _evidence_sentence if scoring.scheme == "evidence" else _corver_sentence
    out = []
    for i in range(len(batch)):
        sents = batch.sentences.get(i, ())
        plan = batch.plans.get(i, {})
        rows = [sentence(batch, s, plan.get(s.index, NO_PLAN), scoring) for s in sents]
        rewards = [r for r, _ in rows]
        value = scoring.completion(rewards, [s.text for s in sents])
        out.append(Value(round(value, 6), len(sents), sum(r is not None for r in rewards), sum(u for _, u in rows)))
    return out


def _evidence_sentence(batch: Gathered, s, sp, scoring: Scoring) -> tuple[float | None, int]:
    """(the sentence's reward or None, unknown claims): its least supported claim with an anchor
    the corpus knows; a claim whose counts are unknown is scored by the policy."""
    scores, unknown = [], 0
    if sp.anchors:
        for key in sp.checks:
            ev = batch.evidence[key]
            if ev is None:
                scores.append(scoring.unknown_score())
                unknown += 1
            elif ev.anchor_count is not None:
                scores.append(claim_score(ev.risk))
    else:  # no known anchor: only a failed lookup of the paper's pairs is reported (and scored)
        for t in s.triplets:
            if batch.cooccur[(t.head, t.tail)][2] is not None:
                scores.append(scoring.unknown_score())
                unknown += 1
    return (min(scores) if scores else None), unknown


def _corver_sentence(batch: Gathered, s, sp, scoring: Scoring) -> tuple[float | None, int]:
    """CorVer's sentence reward: its first (head, tail) pair whose ends are not pronouns."""
    t = next((t for t in s.triplets if not (is_pronoun(t.head) or is_pronoun(t.tail))), None)
    if t is None:
        return None, 0
    value, _, error = batch.cooccur[(t.head, t.tail)]
    if error is not None or value is None:
        return scoring.unknown_score(), 1
    return scoring.bins(value), 0
