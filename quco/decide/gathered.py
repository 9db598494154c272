"""What a batch's extraction and lookups gathered, before any report is built.

``Detector.gather`` returns it; ``Detector.check_with_sentences`` turns it into reports, and a
caller that needs only numbers (the reward's ``__call__``) reads it directly, skipping the report
objects and their reasons.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SentencePlan:
    """Mode "evidence", one sentence: its anchors, and each claim to check with the anchors it is
    checked against."""

    anchors: tuple[str, ...]
    checks: tuple[tuple[str, tuple[str, ...]], ...]
    question: tuple[str, ...]  # the question's anchors bridges start from (none: no bridges for it)


NO_PLAN = SentencePlan((), (), ())


@dataclass(frozen=True, eq=False)
class Gathered:
    """One batch, item by item (index ``i`` of the items checked):

    ``sentences[i]``: the draft's sentences (absent for a question alone); ``counts``: phrase ->
    (count or None, approx, error); ``cooccur``: (head, tail) -> the same; ``plans[i][k]``: the
    ``SentencePlan`` of sentence ``k`` (mode "evidence" only); ``evidence``: (claim, anchors) ->
    ``ClaimEvidence`` (None: a count unknown); ``marks``: perf-counter times at the start, after
    extraction and after the lookups, and the wall clock at the start (ns)."""

    questions: list[str]
    drafts: list[str | None]
    entities: list[tuple]
    sentences: dict[int, tuple]
    counts: dict
    cooccur: dict
    plans: dict[int, dict[int, SentencePlan]]
    evidence: dict
    marks: tuple[float, float, float, int]

    def __len__(self) -> int:
        return len(self.questions)
