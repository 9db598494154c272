"""Evaluation metrics in NumPy (no SciPy/scikit-learn dependency): ranks with ties, AUROC, AUPRC,
Spearman, precision/recall/F1, the ROC curve and bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence

from quco.errors import InvalidValue


def rankdata(values):
    """Ranks 1..n, ties get their average rank."""
    import numpy as np

    _, inverse, counts = np.unique(np.asarray(values, dtype=float), return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


BOOTSTRAP_RESAMPLES = 1000


def bootstrap_ci(metric, scores: Sequence[float], labels: Sequence[bool], *, resamples: int = BOOTSTRAP_RESAMPLES,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of ``metric(scores, labels)``: rows resampled with
    replacement within each label (so every resample has both), ``resamples`` times, from a fixed
    seed (the same rows give the same interval)."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if len(pos) == 0 or len(neg) == 0:
        raise InvalidValue("a bootstrap interval needs both positive and negative labels")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = np.concatenate((rng.choice(pos, len(pos)), rng.choice(neg, len(neg))))
        values.append(metric(s[idx], y[idx]))
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Probability that a random positive scores above a random negative (ties count one half)."""
    import numpy as np

    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise InvalidValue("AUROC needs both positive and negative labels")
    r = rankdata(scores)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Average precision: mean of the precision at each positive, ties broken pessimistically."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if not y.any():
        raise InvalidValue("AUPRC needs positive labels")
    # Descending score; within ties, negatives first (no credit from arbitrary tie order).
    order = np.lexsort((y, -s))
    ys = y[order]
    tp = np.cumsum(ys)
    precision = tp / np.arange(1, len(ys) + 1)
    return float(precision[ys].sum() / ys.sum())


def _cumulative(scores: Sequence[float], labels: Sequence[bool]):
    """(true positives, false positives, positives, negatives) when flagging every score at or
    above each distinct threshold, highest threshold first."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    return np.cumsum(y)[last], np.cumsum(~y)[last], int(y.sum()), int((~y).sum())


def roc_curve(scores: Sequence[float], labels: Sequence[bool]):
    """(false positive rates, true positive rates) at every distinct threshold, from (0, 0)."""
    import numpy as np

    tp, fp, pos, neg = _cumulative(scores, labels)
    return np.r_[0, fp / max(1, neg)], np.r_[0, tp / max(1, pos)]


def pr_curve(scores: Sequence[float], labels: Sequence[bool]):
    """(recall, precision) at every distinct threshold, highest threshold first."""
    tp, fp, pos, _ = _cumulative(scores, labels)
    return tp / max(1, pos), tp / (tp + fp)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    import numpy as np

    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom else 0.0


def precision_recall_f1(predicted: Sequence[bool], labels: Sequence[bool]) -> dict:
    tp = sum(1 for p, y in zip(predicted, labels) if p and y)
    fp = sum(1 for p, y in zip(predicted, labels) if p and not y)
    fn = sum(1 for p, y in zip(predicted, labels) if not p and y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
