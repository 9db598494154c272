"""Frozen result types of a check, serialisable with ``to_dict()``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from quco.backends.base import Source
from quco.extract.types import Triplet


@dataclass(frozen=True)
class EntityEvidence:
    text: str
    label: str
    count: int | None  # None: unknown (the backend failed); never conflated with 0
    approx: bool = False
    error: str | None = None
    risk: float | None = None

    @property
    def known(self) -> bool:
        return self.count is not None


@dataclass(frozen=True)
class PairEvidence:
    sentence: int
    head: str
    relation: str
    tail: str
    kind: str
    cooccur: int | None
    window: int
    approx: bool = False
    error: str | None = None
    flagged: bool = False
    risk: float = 0.0
    # mode "evidence": the counts behind the association (quco.decide.evidence)
    head_count: int | None = None
    tail_count: int | None = None
    expected: float | None = None  # co-occurrence unrelated phrases of these frequencies would show
    association: float | None = None  # ln((cooccur + 1/2) / (expected + 1/2))
    sources: tuple[Source, ...] = ()  # where the corpus holds the evidence (quco.decide.provenance)
    source_note: str | None = None  # why there are no sources
    article: str | None = None  # the title of the head's own article, which states the tail (quco.decide.articles)
    alias: str | None = None  # the corpus's other name for the tail, near the head instead (quco.decide.aliases)
    alias_said: str | None = None  # where the corpus gives that other name (an article's opening, a gloss)
    path: tuple[str, ...] = ()  # the chain through which the head supports the tail (quco.decide.bridges)
    verdict: str | None = None  # "contradicted" when the head's own statements give another filler (quco.decide.slots)


@dataclass(frozen=True)
class LoneEvidence:
    sentence: int
    entity: str
    count: int | None
    approx: bool = False
    error: str | None = None
    flagged: bool = False
    risk: float = 0.0


@dataclass(frozen=True)
class FlaggedSentence:
    index: int
    text: str
    start: int  # character offset in the draft: the draft is truncated here
    triplet: Triplet | None
    lone_entity: str | None = None


@dataclass(frozen=True)
class RiskReport:
    question: str
    retrieve: bool
    risk: float
    stage: str | None  # "question" (stage 1), "draft" (stage 2) or None when nothing fired
    reasons: tuple[str, ...]
    entities: tuple[EntityEvidence, ...]
    pairs: tuple[PairEvidence, ...] = ()
    lone_entities: tuple[LoneEvidence, ...] = ()
    flagged: FlaggedSentence | None = None
    suggested_query: str | None = None
    draft_checked: bool = False
    sentences_checked: int = 0
    backend: str = ""
    index: str = ""
    corpus_tokens: int = 0
    corpus_documents: int = 0
    approx: bool = False
    unknown: bool = False
    extractor: str = ""
    thresholds: dict = field(default_factory=dict)
    stage1_risk: float = 0.0
    stage2_risk: float = 0.0
    timings_ms: dict = field(default_factory=dict)
    request_id: str | None = None  # the audit log's id for this decision (feedback refers to it)
    p_fabrication: float | None = None  # from a calibration (quco calibrate), when one is configured

    @property
    def decision(self) -> str:
        return "retrieve" if self.retrieve else "no-retrieve"

    def truncated_draft(self, draft: str) -> str:
        """The draft up to (not including) the flagged sentence, as QuCo-RAG regenerates from there."""
        return draft if self.flagged is None else draft[: self.flagged.start].rstrip()

    def to_dict(self) -> dict:
        """Plain JSON values (lists, not tuples): ``json.loads(json.dumps(d)) == d``, so a framework's
        strict serialiser (LangGraph checkpoints) and an equality check see the same thing."""
        data = asdict(self, dict_factory=_plain_dict)
        data["decision"] = self.decision
        if self.flagged is not None and self.flagged.triplet is not None:
            data["flagged"]["triplet"]["query"] = self.flagged.triplet.query
        return data


def _plain_dict(items) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in items}
