"""How a checked sentence becomes a reward, and sentences a completion's reward: pure functions.

Two schemes:

* ``"evidence"`` (the default): quco's evidence model. Each claim of a sentence is scored
  ``1 - 2·risk`` — +1 for a claim the corpus ties to its anchor far more often than chance, 0 for a
  claim it is silent about, -1 for one it never holds — the sentence takes its least supported claim
  (one wrong claim makes a sentence wrong), and the completion the mean of its *checked* sentences:
  sentences with nothing to check are neutral and neither dilute nor pad the reward. Bounded to
  [-1, 1].
* ``"corver"``: CorVer's sentence reward (Fan et al., "Verifiable Rewards Beyond Math and Code",
  arXiv 2605.29648; github.com/shichengf/CorVer, ``sentence_corver_penalty``): the first
  (head, tail) pair of a sentence whose ends are not pronouns, its co-occurrence count ``c`` within
  1,000 tokens binned as ``c = 0 → -0.3``, ``c < 5 → -0.1``, ``c < 20 → 0``, ``c ≥ 20 → +0.1``; no
  pair → 0. (The authors' later revision lowers the zero bin to -0.2: ``CorverBins(zero=-0.2)``.)
  CorVer gives each token its sentence's reward; as one number per completion that is the mean over
  tokens, i.e. the sentences' rewards weighted by their length — in words here, the tokenizer's
  tokens being unknown to a reward function.

Unknown counts (a backend that failed) are neutral (0) by default and counted, never a silent
reward; ``unknown="penalize"`` scores them as unsupported (-1 for "evidence", the zero bin for
"corver").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quco.errors import InvalidValue

SCHEMES = ("evidence", "corver")
UNKNOWN = ("neutral", "penalize")
PRONOUNS = frozenset(
    "he him his she her hers it its they them their theirs we us our ours i me my mine you your yours this that these "
    "those who whom which himself herself itself themselves myself yourself there here someone something anyone "
    "anything everyone everything nobody nothing".split()
)


@dataclass(frozen=True)
class CorverBins:
    """CorVer's four bins of a sentence's co-occurrence count."""

    zero: float = -0.3
    rare: float = -0.1  # 1 <= c < 5
    borderline: float = 0.0  # 5 <= c < 20
    supported: float = 0.1  # c >= 20

    def __call__(self, count: int | None) -> float:
        if count is None:
            return 0.0
        if count == 0:
            return self.zero
        if count < 5:
            return self.rare
        if count < 20:
            return self.borderline
        return self.supported


@dataclass(frozen=True)
class Scoring:
    """How claims become numbers: the scheme, the unknown-count policy and CorVer's bins. Read by
    both ``Reward.details`` (from reports) and ``quco.reward.values`` (from a gathered batch)."""

    scheme: str
    unknown: str
    bins: CorverBins

    def unknown_score(self) -> float:
        """What a claim whose counts are unknown scores."""
        if self.unknown == "neutral":
            return 0.0
        return self.bins.zero if self.scheme == "corver" else -1.0

    def completion(self, sentence_rewards: Sequence[float | None], texts: Sequence[str]) -> float:
        """A completion's reward from its sentences' (``None``: nothing checked) and their texts."""
        if self.scheme == "evidence":
            return evidence_completion(sentence_rewards)
        return corver_completion([r or 0.0 for r in sentence_rewards], [len(t.split()) for t in texts])


def check_scheme(scheme: str, unknown: str) -> None:
    if scheme not in SCHEMES:
        raise InvalidValue(f"reward scheme must be one of {SCHEMES}, not {scheme!r}")
    if unknown not in UNKNOWN:
        raise InvalidValue(f"unknown must be one of {UNKNOWN}, not {unknown!r}")


def claim_score(risk: float) -> float:
    """Mode "evidence": a claim's risk (0 supported .. ½ silent .. 1 never seen) as a score in [-1, 1]."""
    return max(-1.0, min(1.0, 1.0 - 2.0 * risk))


def is_pronoun(phrase: str) -> bool:
    return phrase.strip().lower() in PRONOUNS


def evidence_completion(sentence_rewards: Sequence[float | None]) -> float:
    """The mean of the checked sentences' rewards (``None``: nothing checked); 0 when none is."""
    checked = [r for r in sentence_rewards if r is not None]
    return sum(checked) / len(checked) if checked else 0.0


def corver_completion(sentence_rewards: Sequence[float], words: Sequence[int]) -> float:
    """CorVer's per-token rewards averaged over the completion: sentence rewards weighted by length."""
    total = sum(words)
    if not total:
        return 0.0
    return sum(r * w for r, w in zip(sentence_rewards, words)) / total
