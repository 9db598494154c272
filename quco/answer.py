"""The answer-level signal: is an answer supported by the question's entities in the corpus?

For a (question, answer) pair:

1. The answer's *claims* are its entities and noun phrases (``Extractor.claims_many``), found the
   same way whether the answer is a two-word span or a long sentence. Claims that restate a
   question entity carry no new information and are dropped.
2. Each new claim ``a`` is tested against the question's most specific entities (the ``anchors``
   rarest ones present in the corpus): how much more often does ``a`` occur within the window of
   an anchor ``q`` than chance predicts? With ``obs`` = occurrences of ``q`` with ``a`` nearby and
   ``expected`` = c(q) · min(1, c(a)·(2W+1)/N), the association is the smoothed pointwise mutual
   information ``pmi = ln((obs + ½) / (expected + ½))``, and the claim's risk is
   ``1 / (1 + e^pmi)``: ½ when the corpus is silent, → 1 when a frequent pair is never seen
   together, → 0 for a strong association. A claim absent from the corpus (c(a) = 0) has risk 1.
3. The answer's risk combines its claims as independent chances of error: ``1 − Π(1 − risk)``
   (noisy-OR). A phrase nested in a longer claim is not counted again. An answer that only
   restates question entities gets ½ (no evidence either way).

Unknown counts fail closed: a claim whose count or co-occurrence is unknown has risk 1, and so has
the whole answer when a question entity's count is unknown (it might have been the anchor); the
report says ``unknown=True``. ``unknown_policy="ignore"`` scores from what is known (still
flagged unknown), ``"error"`` raises ``RiskAbort``.

Raw co-occurrence alone favours frequent phrases (they co-occur with everything); the PMI
normalises by frequency, and the rarest anchors are where a fact is stated specifically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .backends.base import DEFAULT_WINDOW, CountBackend
from .detector import _cooc_value, _isolating_failures
from .errors import RiskAbort, UsageError
from .extract import Extractor
from .normalize import invalid_text

NEUTRAL = 0.5


@dataclass(frozen=True)
class ClaimEvidence:
    phrase: str
    count: int | None
    anchor: str | None  # the question entity giving the strongest association
    cooccur: int | None
    pmi: float | None
    risk: float


@dataclass(frozen=True)
class AnswerReport:
    question: str
    answer: str
    risk: float
    claims: tuple[ClaimEvidence, ...]
    restated: tuple[str, ...]  # answer phrases that only restate question entities
    anchors: tuple[str, ...]
    unknown: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class AnswerScorer:
    def __init__(self, backend: CountBackend, extractor: Extractor | None = None, *, window: int = DEFAULT_WINDOW,
                 anchors: int = 2, unknown_policy: str = "risky", empty_risk: float = NEUTRAL):
        if unknown_policy not in ("risky", "ignore", "error"):
            raise UsageError(f"unknown_policy must be risky, ignore or error, not {unknown_policy!r}")
        self.backend = backend
        self.extractor = extractor if extractor is not None else Extractor()
        self.window = window
        self.anchors = anchors
        self.unknown_policy = unknown_policy
        self.empty_risk = empty_risk  # an answer with no new claim: no evidence either way

    def score(self, question: str, answer: str) -> AnswerReport:
        return self.score_many([(question, answer)])[0]

    def score_many(self, items: Sequence[tuple[str, str]], question_entities=None, claims=None) -> list[AnswerReport]:
        """Score many (question, answer) pairs in one extraction pass and one count batch each.
        ``question_entities`` (objects with ``.text``) and ``claims`` (from
        ``Extractor.claims_many``) may pass extraction results computed earlier."""
        questions = [q for q, _ in items]
        answers = [a for _, a in items]
        for text in questions + answers:
            if not isinstance(text, str):
                raise UsageError(f"questions and answers must be text, not {type(text).__name__}")
            if (bad := invalid_text(text)) is not None:
                raise UsageError(f"questions and answers must be valid text: {bad}")
        if question_entities is None:
            question_entities = self.extractor.entities_many(questions)
        q_phrases = [tuple(dict.fromkeys(e.text for e in ents)) for ents in question_entities]
        if claims is None:
            claims = self.extractor.claims_many(answers)
        canon = self.backend_normalizer()
        new_claims = []
        restated = []
        for qs, cs in zip(q_phrases, claims):
            qc = [canon(q) for q in qs]
            new, same = [], []
            for c in cs:
                cc = canon(c)
                if not cc:
                    continue
                (same if any(cc == x or cc in x or x in cc for x in qc) else new).append(c)
            # A phrase inside a longer claim ("State" in "Enemy of the State") is not a claim of its own.
            new = [c for c in new if not any(c != o and canon(c) in canon(o) for o in new)]
            new_claims.append(new)
            restated.append(tuple(same))
        phrases = sorted({p for qs in q_phrases for p in qs if canon(p)} | {c for cs in new_claims for c in cs})
        counts = _isolating_failures(self.backend.count_many, phrases, lambda c: (c.count, c.approx, None))
        anchors = []
        for qs in q_phrases:
            known = [q for q in qs if canon(q) and (counts[q][0] or 0) > 0]
            anchors.append(tuple(sorted(known, key=lambda q: counts[q][0])[: self.anchors]))
        pairs = sorted({(q, c) for an, cs in zip(anchors, new_claims) for q in an for c in cs
                        if (counts[c][0] or 0) > 0})
        window = self.window
        cooccur = _isolating_failures(lambda b: self.backend.cooccur_many(b, window), pairs, _cooc_value)
        n = max(1, self.backend.corpus.tokens)
        reports = []
        for (question, answer), qs, an, cs, same in zip(items, q_phrases, anchors, new_claims, restated):
            # An anchor whose count is unknown might have been the rarest one: the evidence
            # against the others is then not the evidence the method asks for. Fail closed.
            lost = [q for q in qs if canon(q) and counts[q][0] is None]
            if lost and cs:
                if self.unknown_policy == "error":
                    raise RiskAbort(f"count for question entity {lost[0]!r} is unknown")
                if self.unknown_policy == "risky":
                    claims_ev = tuple(ClaimEvidence(c, counts[c][0], None, None, None, 1.0) for c in cs)
                    reports.append(AnswerReport(question, answer, 1.0, claims_ev, same, an, True))
                    continue
            evidence, unknown = [], bool(lost and cs)
            for c in cs:
                ev = self._claim(c, an, counts, cooccur, n)
                if ev is None:
                    unknown = True
                    if self.unknown_policy == "error":
                        raise RiskAbort(f"count for {c!r} is unknown")
                    if self.unknown_policy == "ignore":
                        continue
                    ev = ClaimEvidence(c, None, None, None, None, 1.0)
                evidence.append(ev)
            risk = 1.0 - math.prod(1.0 - e.risk for e in evidence) if evidence else self.empty_risk
            reports.append(AnswerReport(question, answer, round(risk, 6), tuple(evidence), same, an, unknown))
        return reports

    def backend_normalizer(self):
        norm = getattr(self.backend, "normalizer", None)
        if norm is not None:
            return norm.canonical
        from .normalize import Normalizer

        return Normalizer().canonical

    def _claim(self, c, anchors, counts, cooccur, n) -> ClaimEvidence | None:
        ca = counts.get(c, (None,))[0]
        if ca is None:
            return None
        if ca == 0:
            return ClaimEvidence(c, 0, None, 0, None, 1.0)
        if not anchors:
            return ClaimEvidence(c, ca, None, None, None, NEUTRAL)
        best = None
        for q in anchors:
            obs = cooccur.get((q, c), (None,))[0]
            if obs is None:
                return None
            expected = counts[q][0] * min(1.0, ca * (2 * self.window + 1) / n)
            pmi = math.log((obs + 0.5) / (expected + 0.5))
            if best is None or pmi > best[2]:
                best = (q, obs, pmi)
        q, obs, pmi = best
        return ClaimEvidence(c, ca, q, obs, round(pmi, 4), round(1.0 / (1.0 + math.exp(pmi)), 6))
