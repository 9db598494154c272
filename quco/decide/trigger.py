"""The decision rules as pure functions (no I/O, no NLP): QuCo-RAG's (stage 1, pairs, lone entities)
and the default evidence-mode claim rule (``claim_decision``).

QuCo-RAG's thresholds are absolute counts on a 4.6T-token corpus (OLMo-2 pretraining data):
stage 1 retrieves when the question's entities have a mean count below 1,000; stage 2 flags a
sentence whose (head, tail) never co-occur (count < 1 within 1,000 tokens), or whose lone entity
occurs fewer than 20 times. Here they are kept as rates per token and scaled to the corpus at hand,
so the same rule means the same thing on a 2M-token index as on 4.6T tokens. Absolute overrides
exist for users who calibrated their own.

Alongside each boolean, a continuous risk in [0, 1]: ``1 / (1 + (count / threshold) ** steepness)``.
It is 1 for a zero count, 0.5 exactly at the threshold and falls smoothly with frequency, so
signals can be ranked (AUROC) and calibrated later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quco.decide.hops import check_bridges
from quco.errors import InvalidValue

if TYPE_CHECKING:
    from quco.decide.evidence import ClaimEvidence

REFERENCE_TOKENS = 4.6e12  # QuCo-RAG's corpus size
UNKNOWN_POLICIES = ("risky", "ignore", "error")
# How a report says its bridges setting (``Thresholds.bridges``).
BRIDGES_SAID = {None: "chains", True: "always", False: "never"}
AGGREGATES = ("mean", "min")
MODES = ("evidence", "quco")


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds. Rates are counts per corpus token; ``*_absolute`` override them."""

    entity_rate: float = 1e3 / REFERENCE_TOKENS
    cooccur_rate: float = 1.0 / REFERENCE_TOKENS
    lone_entity_rate: float = 20.0 / REFERENCE_TOKENS
    entity_absolute: float | None = None
    cooccur_absolute: float | None = None
    lone_entity_absolute: float | None = None
    aggregate: str | None = None  # None: "min" in mode evidence (the rarest entity decides), "mean" in mode quco
    unknown_policy: str = "risky"
    check_lone_entities: bool = True
    steepness: float = 0.5
    mode: str = "evidence"
    claim_risk: float = 0.5  # mode "evidence": flag a sentence whose least supported claim's risk exceeds this
    # Mode "evidence": a claim silent near the question's entities may be supported through a bridge
    # (multi-hop, quco.decide.bridges). None (default): only where the question describes a chain
    # (quco.decide.hops), since for a question asking one attribute of its entity a bridge vouches for
    # a fact the corpus lacks by a type-level neighbour ("Japanese" for a birthplace in Tokyo);
    # True: for every question; False: never. docs/quality.md.
    bridges: bool | None = None

    def __post_init__(self) -> None:
        for name in ("entity_rate", "cooccur_rate", "lone_entity_rate", "steepness"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidValue(f"{name} must be a positive number, not {value!r}")
        for name in ("entity_absolute", "cooccur_absolute", "lone_entity_absolute"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidValue(f"{name} must be a positive number, not {value!r}")
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise InvalidValue(f"aggregate must be one of {AGGREGATES}, not {self.aggregate!r}")
        if not (isinstance(self.claim_risk, (int, float)) and 0 < self.claim_risk < 1):
            raise InvalidValue(f"claim_risk must be a number between 0 and 1, not {self.claim_risk!r}")
        if self.mode not in MODES:
            raise InvalidValue(f"mode must be one of {MODES}, not {self.mode!r}")
        check_bridges(self.bridges)
        if self.unknown_policy not in UNKNOWN_POLICIES:
            raise InvalidValue(f"unknown_policy must be one of {UNKNOWN_POLICIES}, not {self.unknown_policy!r}")

    def resolve(self, corpus_tokens: int) -> Resolved:
        if corpus_tokens <= 0:
            raise InvalidValue("corpus size must be positive to scale thresholds")

        def pick(absolute, rate):
            return (float(absolute), "absolute") if absolute is not None else (rate * corpus_tokens, "scaled")

        entity, e_src = pick(self.entity_absolute, self.entity_rate)
        cooccur, c_src = pick(self.cooccur_absolute, self.cooccur_rate)
        lone, l_src = pick(self.lone_entity_absolute, self.lone_entity_rate)
        return Resolved(
            entity=entity,
            cooccur=cooccur,
            lone_entity=lone,
            corpus_tokens=corpus_tokens,
            sources={"entity": e_src, "cooccur": c_src, "lone_entity": l_src},
            # The paper's rule averages the entities' counts, so one well-known entity hides an
            # absent one; the evidence rule lets the rarest decide: an absent named entity retrieves.
            aggregate=self.aggregate or ("min" if self.mode == "evidence" else "mean"),
            unknown_policy=self.unknown_policy,
            check_lone_entities=self.check_lone_entities,
            steepness=self.steepness,
            mode=self.mode,
            claim_risk=self.claim_risk,
            bridges=self.bridges,
        )


@dataclass(frozen=True)
class Resolved:
    """Thresholds as absolute counts for one corpus."""

    entity: float
    cooccur: float
    lone_entity: float
    corpus_tokens: int
    sources: dict = field(default_factory=dict)
    aggregate: str = "mean"
    unknown_policy: str = "risky"
    check_lone_entities: bool = True
    steepness: float = 0.5
    mode: str = "evidence"
    claim_risk: float = 0.5
    bridges: bool | None = None

    def to_dict(self) -> dict:
        return {
            "entity": self.entity,
            "cooccur": self.cooccur,
            "lone_entity": self.lone_entity,
            "corpus_tokens": self.corpus_tokens,
            "reference_tokens": REFERENCE_TOKENS,
            "sources": dict(self.sources),
            "aggregate": self.aggregate,
            "unknown_policy": self.unknown_policy,
            "mode": self.mode,
            **({"claim_risk": self.claim_risk, "bridges": BRIDGES_SAID[self.bridges]} if self.mode == "evidence" else {}),
        }


def risk(count: float, threshold: float, steepness: float = 0.5) -> float:
    """Continuous risk: 1 at count 0, 0.5 at the threshold, towards 0 for frequent evidence."""
    if count <= 0:
        return 1.0
    return 1.0 / (1.0 + (count / threshold) ** steepness)


@dataclass(frozen=True)
class Decision:
    fired: bool
    risk: float
    reasons: tuple[str, ...]
    unknown: bool = False


def stage1(counts: Sequence[tuple[str, int | None]], th: Resolved) -> Decision:
    """Question entities (text, count or None if unknown) -> retrieve before generating?"""
    if not counts:
        return Decision(False, 0.0, ("no entities found in the question",))
    known = [(t, c) for t, c in counts if c is not None]
    unknown = [t for t, c in counts if c is None]
    reasons = []
    if unknown and th.unknown_policy == "risky":
        reasons.append(f"count unknown for {_names(unknown)}; treated as risky")
        return Decision(True, 1.0, tuple(reasons), unknown=True)
    if not known:
        return Decision(False, 0.0, (f"count unknown for {_names(unknown)}; ignored",), unknown=True)
    values = [c for _, c in known]
    agg = sum(values) / len(values) if th.aggregate == "mean" else min(values)
    r = risk(agg, th.entity, th.steepness)
    fired = agg < th.entity
    cmp = "<" if fired else ">="
    reasons.append(f"{th.aggregate} entity count {agg:,.1f} {cmp} threshold {th.entity:,.4g}")
    if fired:
        rare = [t for t, c in known if c < th.entity]
        if rare:
            reasons.append(f"rare in corpus: {_names(rare)}")
    if unknown:
        reasons.append(f"count unknown for {_names(unknown)}; ignored")
    return Decision(fired, r, tuple(reasons), unknown=bool(unknown))


def pair_decision(head: str, tail: str, cooccur: int | None, th: Resolved) -> Decision:
    if cooccur is None:
        if th.unknown_policy == "risky":
            return Decision(True, 1.0, (f"co-occurrence of {head!r} and {tail!r} unknown; treated as risky",), True)
        return Decision(False, 0.0, (f"co-occurrence of {head!r} and {tail!r} unknown; ignored",), True)
    fired = cooccur < th.cooccur
    r = risk(cooccur, th.cooccur, th.steepness)
    if fired:
        return Decision(True, r, (f"{head!r} and {tail!r} never co-occur in the corpus (count {cooccur})",))
    return Decision(False, r, ())


def lone_decision(entity: str, count: int | None, th: Resolved) -> Decision:
    if not th.check_lone_entities:
        return Decision(False, 0.0, ())
    if count is None:
        if th.unknown_policy == "risky":
            return Decision(True, 1.0, (f"count of lone entity {entity!r} unknown; treated as risky",), True)
        return Decision(False, 0.0, (), True)
    fired = count < th.lone_entity
    r = risk(count, th.lone_entity, th.steepness)
    if fired:
        return Decision(True, r, (f"lone entity {entity!r} is rare (count {count} < {th.lone_entity:,.4g})",))
    return Decision(False, r, ())


def claim_decision(ev: ClaimEvidence, th: Resolved, window: int) -> Decision:
    """Mode "evidence", the default stage-2 rule: a claim fires when its association with its best
    anchor (``quco.decide.evidence``) is no better than chance, i.e. its risk is above
    ``th.claim_risk``; the reason says whether it never occurs, never near the anchor, or no more
    often than chance."""
    if ev.risk <= th.claim_risk:
        return Decision(False, ev.risk, ())
    claim = ev.phrase
    said = f"{claim!r} (counted with {', '.join(map(repr, ev.forms))})" if ev.forms else repr(claim)
    if ev.contradicted is not None:
        why = ev.contradicted
    elif ev.count == 0:
        why = f"{claim!r} never occurs in the corpus"
    elif ev.cooccur == 0:
        why = (f"{said} is not associated with {ev.anchor!r}: never within {window:,} tokens of it "
               f"({ev.expected:.3g} times expected by chance; counts {ev.anchor_count:,} and {ev.count:,})")
    else:
        why = (f"{said} is not associated with {ev.anchor!r}: together {ev.cooccur:,} times within "
               f"{window:,} tokens, no more than the {ev.expected:.3g} expected by chance "
               f"(counts {ev.anchor_count:,} and {ev.count:,})")
    return Decision(True, ev.risk, (why,))


def _names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(t) for t in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
