"""Metrics against hand-computed values and brute-force definitions."""

import itertools
import random

import pytest

from quco.batch.metrics import auprc, auroc, precision_recall_f1, rankdata, roc_curve, spearman


def brute_auroc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auroc_matches_pairwise_definition_with_ties():
    rng = random.Random(3)
    for _ in range(50):
        n = rng.randint(2, 30)
        scores = [rng.choice([0.1, 0.2, 0.5, 0.9, rng.random()]) for _ in range(n)]
        labels = [rng.random() < 0.5 for _ in range(n)]
        if all(labels) or not any(labels):
            labels[0], labels[-1] = True, False
        assert auroc(scores, labels) == pytest.approx(brute_auroc(scores, labels))


def test_hand_computed_values():
    assert list(rankdata([3, 1, 3, 2])) == [3.5, 1, 3.5, 2]
    assert auprc([0.9, 0.8, 0.7, 0.1], [True, False, True, False]) == pytest.approx((1 + 2 / 3) / 2)
    assert auprc([0.5, 0.5], [True, False]) == pytest.approx(0.5)  # a tie earns no credit
    fpr, tpr = roc_curve([0.9, 0.8, 0.7, 0.1], [True, False, True, False])
    assert list(fpr) == [0, 0, 0.5, 0.5, 1] and list(tpr) == [0, 0.5, 0.5, 1, 1]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert precision_recall_f1([True, True, False, False], [True, False, True, False])["f1"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        auroc([0.1, 0.2], [True, True])
