"""Risk -> P(fabrication): a monotone map fitted on labelled rows, bound to what it was fitted for.

quco's risks rank well but are scores, not probabilities: a user cannot say "retrieve when
P(fabrication) > 0.3" with them. ``fit`` learns the map with isotonic regression (pool adjacent
violators): the non-decreasing step function of the risk closest to the 0/1 labels. Isotonic
rather than Platt scaling because the risk's relation to the label is monotone but not logistic
(it piles up at ½ where the corpus is silent, and at the values a single co-occurrence gives);
the step function keeps those plateaus as they are. Each step's value is smoothed towards the
overall rate by one pseudo-row, so a step fitted on a handful of rows cannot say 0 or 1.

A calibration is only valid for the index, extractor, quco version, stage-2 mode and window it
was fitted with: the same risk means something else on another corpus. ``check`` refuses the
others with a ``CalibrationError`` that names the difference.
"""

from __future__ import annotations

import json
import os
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from quco.errors import ConfigError
from quco.files.building import temporary_beside

SCORES = ("risk", "answer_risk")
MIN_ROWS = 20


class CalibrationError(ConfigError):
    """The calibration file is unreadable, or was fitted for another setting."""


@dataclass(frozen=True)
class Calibration:
    score: str  # which risk it maps: "risk" (check reports) or "answer_risk" (answer reports)
    breakpoints: tuple[float, ...]  # P = values[i] for breakpoints[i] <= risk < breakpoints[i + 1]
    values: tuple[float, ...]
    fitted_for: dict  # index, corpus_tokens, extractor, quco_version, mode, window
    rows: int
    positives: int
    method: str = "isotonic"
    source: str = ""
    fit_metrics: dict = field(default_factory=dict)  # ECE and Brier score on the rows it was fitted on

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise CalibrationError(f"calibration score must be one of {SCORES}, not {self.score!r}")
        if not self.breakpoints or len(self.breakpoints) != len(self.values):
            raise CalibrationError("calibration has no steps, or breakpoints and values of different lengths")
        if list(self.breakpoints) != sorted(self.breakpoints) or any(not 0 <= v <= 1 for v in self.values):
            raise CalibrationError("calibration breakpoints must be sorted and values within [0, 1]")

    def p(self, risk: float) -> float:
        """P(fabrication) for a risk: the value of the step it falls on."""
        i = max(0, bisect_right(self.breakpoints, risk) - 1)
        return round(self.values[i], 6)

    def require_score(self, score: str, owner: str, other: str) -> None:
        """Refuse a calibration of another risk than the one ``owner`` reports."""
        if self.score != score:
            raise CalibrationError(f"{self.source or 'this calibration'} maps {self.score}; "
                                   f"{owner}'s calibration maps {score} (give it to the {other})")

    def check_for(self, backend, extractor, *, mode: str, window: int) -> None:
        """``check`` against what a detector or answer scorer uses (loads the extractor's model)."""
        from quco import __version__

        self.check(index=backend.identity, corpus_tokens=backend.corpus.tokens, extractor=extractor.model_name,
                   quco_version=__version__, mode=mode, window=window)

    def check(self, *, index: str, corpus_tokens: int, extractor: str, quco_version: str, mode: str,
              window: int) -> None:
        """Refuse to apply this calibration to a setting it was not fitted for."""
        now = {"index": index, "corpus_tokens": corpus_tokens, "extractor": extractor, "quco_version": quco_version,
               "mode": mode, "window": window}
        diff = [k for k, v in now.items() if k in self.fitted_for and self.fitted_for[k] != v]
        if diff:
            shown = "; ".join(f"{k} {self.fitted_for[k]!r} (this run: {now[k]!r})" for k in diff)
            raise CalibrationError(f"{self.source or 'the calibration'} was fitted for another setting: {shown}. "
                                   "Refit it with quco calibrate on labelled rows scored with this setting")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["breakpoints"], data["values"] = list(self.breakpoints), list(self.values)
        return data

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with temporary_beside(path) as tmp:
            tmp.write_text(json.dumps({k: v for k, v in self.to_dict().items() if k != "source"}, indent=1))
            os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CalibrationError(f"{path}: calibration file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"{path}: not a calibration file ({exc})") from None
        try:
            return cls(score=data["score"], breakpoints=tuple(float(x) for x in data["breakpoints"]),
                       values=tuple(float(x) for x in data["values"]), fitted_for=dict(data["fitted_for"]),
                       rows=int(data["rows"]), positives=int(data["positives"]), method=data.get("method", "isotonic"),
                       source=str(path), fit_metrics=dict(data.get("fit_metrics") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: not a calibration file (missing or bad field {exc})") from None


def isotonic(x: Sequence[float], y: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
    """Pool adjacent violators: the increasing step function of ``x`` closest to ``y``. Returns
    (breakpoints, values, rows per step): P = values[searchsorted(breakpoints, x, 'right') - 1].
    Equal ``x`` always share a step; steps of equal value are pooled."""
    groups: dict[float, list[float]] = {}  # equal x first: they always share a step
    for xi, yi in zip(x, y):
        g = groups.setdefault(float(xi), [0.0, 0.0])
        g[0] += float(yi)
        g[1] += 1
    blocks: list[list[float]] = []  # [sum, count, first x]
    for xi in sorted(groups):
        blocks.append([groups[xi][0], groups[xi][1], xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, c, _ = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    return [b[2] for b in blocks], [b[0] / b[1] for b in blocks], [b[1] for b in blocks]


def reliability(p: Sequence[float], y: Sequence[bool], bins: int = 10) -> dict:
    """Expected calibration error (equal-width bins), Brier score and the reliability bins."""
    n = len(p)
    if n == 0:
        return {"ece": None, "brier": None, "bins": []}
    out, ece = [], 0.0
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        idx = [i for i, v in enumerate(p) if lo <= v < hi or (k == bins - 1 and v == 1.0)]
        if not idx:
            continue
        mean_p = sum(p[i] for i in idx) / len(idx)
        rate = sum(bool(y[i]) for i in idx) / len(idx)
        ece += len(idx) / n * abs(mean_p - rate)
        out.append({"from": lo, "to": hi, "rows": len(idx), "mean_p": round(mean_p, 4), "observed": round(rate, 4)})
    brier = sum((float(v) - float(bool(t))) ** 2 for v, t in zip(p, y)) / n
    return {"ece": round(ece, 4), "brier": round(brier, 4), "bins": out}


def fit(risks: Sequence[float], labels: Sequence[bool], *, score: str, fitted_for: dict, source: str = "") -> Calibration:
    """Fit the isotonic map of ``risks`` to ``labels`` (True = fabricated / needed retrieval)."""
    from quco.errors import UsageError

    if len(risks) != len(labels):
        raise UsageError("risks and labels differ in length")
    if len(risks) < MIN_ROWS:
        raise UsageError(f"{len(risks)} labelled rows; calibration needs at least {MIN_ROWS}")
    positives = sum(bool(v) for v in labels)
    if positives in (0, len(labels)):
        raise UsageError("the labels are all " + ("positive" if positives else "negative") + "; calibration needs both")
    breaks, means, counts = isotonic(risks, [float(bool(v)) for v in labels])
    base = positives / len(labels)
    values = [(m * c + base) / (c + 1) for m, c in zip(means, counts)]  # one pseudo-row at the base rate
    cal = Calibration(score=score, breakpoints=tuple(breaks), values=tuple(values), fitted_for=dict(fitted_for),
                      rows=len(risks), positives=positives, source=source)
    rel = reliability([cal.p(r) for r in risks], labels)
    return replace(cal, fit_metrics={"ece": rel["ece"], "brier": rel["brier"]})
