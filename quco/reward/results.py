"""The frozen result types of a reward: per completion, per sentence, per claim."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ClaimReward:
    """One checked (anchor, claim) pair of a sentence and what it contributed."""

    anchor: str
    relation: str
    claim: str
    cooccur: int | None  # None: unknown (the backend failed), never 0
    window: int
    anchor_count: int | None = None
    claim_count: int | None = None
    expected: float | None = None
    association: float | None = None
    risk: float | None = None
    score: float = 0.0  # what the claim contributes (an unknown count: scored by the unknown policy)
    approx: bool = False
    error: str | None = None


@dataclass(frozen=True)
class SentenceReward:
    index: int
    text: str
    start: int
    reward: float | None  # None: nothing checkable in the sentence (neutral)
    claims: tuple[ClaimReward, ...] = ()
    unknown: int = 0  # claims whose counts are unknown


@dataclass(frozen=True)
class CompletionReward:
    reward: float
    scheme: str
    status: str  # "ok", "truncated" (checked up to the detector's limits) or "invalid" (not checked)
    sentences: tuple[SentenceReward, ...] = ()
    checked: int = 0  # sentences with a claim checked
    unknown: int = 0  # claims whose counts are unknown
    approx: bool = False
    index: str = ""
    corpus_tokens: int = 0
    question: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BatchStats:
    """What one call saw, for a trainer's metrics."""

    completions: int
    sentences: int
    checked: int
    unknown: int
    truncated: int
    invalid: int
    seconds: float

    def metrics(self, prefix: str = "quco/") -> dict[str, float]:
        n = max(1, self.completions)
        return {
            f"{prefix}checked_sentences": self.checked / n,
            f"{prefix}unknown_claims": self.unknown / n,
            f"{prefix}truncated": self.truncated / n,
            f"{prefix}invalid": self.invalid / n,
            f"{prefix}completions_per_s": self.completions / self.seconds if self.seconds > 0 else 0.0,
        }
