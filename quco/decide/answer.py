"""The answer-level signal: is an answer supported by the question's entities in the corpus?

For a (question, answer) pair:

1. The answer's *claims* are its entities and noun phrases (``Extractor.claims_many``), found the
   same way whether the answer is a two-word span or a long sentence. Claims that restate a
   question entity carry no new information and are dropped.
2. Each new claim is tested against the question's most specific entities (the ``anchors``
   rarest ones present in the corpus) with the association of ``quco.decide.evidence``: co-occurrence
   above what chance predicts from the two frequencies.
3. The answer's risk is that of its least supported claim (the maximum), so it does not grow with
   the number of claims as such.
4. An answer that picks one of two options the question offers ("…, A or B?") also asserts that
   this option, not the other, goes with the rest of the question: ``quco.decide.question_form``
   weighs the two options' associations with it. An answer with neither a new claim nor such a
   choice has nothing to check: it gets ½ (no evidence either way) and says so
   (``checkable=False``).

Anchors: one, the question's rarest known entity. A second, more frequent one ("Swiss", "2011")
can only add support under "the strongest anchor speaks for the claim", and it vouches for
whatever is near it, wrong answers included.

Unknown counts fail closed: a claim whose count or co-occurrence is unknown has risk 1, and so has
the whole answer when a question entity's count is unknown (it might have been the anchor); the
report says ``unknown=True``. ``unknown_policy="ignore"`` scores from what is known (still
flagged unknown), ``"error"`` raises ``RiskAbort``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from quco.backends.base import DEFAULT_WINDOW, CountBackend
from quco.decide.aliases import AliasMemo, by_alias
from quco.decide.amounts import AmountEvidence, amount_evidence, amount_rank_of, asserted_amount
from quco.decide.articles import article_lookups, article_pairs, in_article
from quco.decide.bridges import NO_BRIDGES, BridgeLookups, NamesMemo, bridged, lookup_bridges, silent
from quco.decide.compare import TimeRankEvidence, asserted, rank_evidence, time_rank_of
from quco.decide.evidence import (
    NEUTRAL,
    ClaimEvidence,
    backoff_forms,
    canonical_of,
    claim_evidence,
    claim_pairs,
    least_supported,
    new_claims,
    overlaps,
    with_forms,
)
from quco.decide.hops import bridges_for, check_bridges
from quco.decide.lookups import cooccurrences_of, counts_of
from quco.decide.premise import denial, restatement
from quco.decide.question_form import ChoiceEvidence, choice_evidence, choice_of, offers_choice, pairs_needed, phrases_needed, picked
from quco.decide.reading import CONTRADICTED, SUPPORTED, UNSUPPORTED, VERDICT_RISK, statements_with_variants
from quco.decide.slots import SlotEvidence, slot_evidence, slot_of, unseen
from quco.decide.unchecked import nothing_checked
from quco.decide.yes_no import PolarEvidence, polar_evidence, polar_of, polarity, sentences_to_read
from quco.errors import RiskAbort, UsageError
from quco.extract import Extractor
from quco.normalize import invalid_text

__all__ = ["AnswerReport", "AnswerScorer", "ClaimEvidence"]

@dataclass(frozen=True)
class AnswerReport:
    question: str
    answer: str
    risk: float
    claims: tuple[ClaimEvidence, ...]
    restated: tuple[str, ...]  # answer phrases that only restate question entities
    anchors: tuple[str, ...]
    unknown: bool = False
    p_fabrication: float | None = None  # from a calibration, when one is configured
    choice: ChoiceEvidence | None = None  # when the answer picks one of the question's two options
    # when it says which of two options came first (or later), or has more (or fewer) of something
    rank: TimeRankEvidence | AmountEvidence | None = None
    denial: str | None = None  # the negation by which it denies the question's premise ("never")
    polar: PolarEvidence | None = None  # when it answers yes or no about two subjects
    # A statement restating the question's names, naming nothing it asks for: the words it says
    # instead ("owns" in "Anthony Precourt owns the team."; ``quco.decide.premise.restatement``)
    evasion: tuple[str, ...] | None = None
    unchecked: str | None = None  # why nothing could be checked, when no reading says (quco.decide.unchecked)
    slot: SlotEvidence | None = None  # a one-filler relation the subject's statements give another filler for

    @property
    def checkable(self) -> bool:
        """False when the answer made no claim the corpus could speak to (risk is then ½)."""
        return bool(self.claims) or self.denial is not None or self.evasion is not None or any(
            x is not None and x.checked for x in (self.choice, self.rank, self.polar))

    @property
    def verdict(self) -> str | None:
        """What reading decided, the gravest first: "contradicted", "unsupported" (a denial),
        "supported"; None when nothing was read (the claims' association alone decides)."""
        found = {x.verdict for x in (self.rank, self.polar, self.slot) if x is not None and x.checked}
        if self.denial is not None or self.evasion is not None:
            found.add(UNSUPPORTED)
        return next((v for v in (CONTRADICTED, UNSUPPORTED, SUPPORTED) if v in found), None)

    @property
    def readings(self) -> tuple[str, ...]:
        """What reading the corpus (or the answer's own words) decided, beyond the claims' counts."""
        out = [x.reason for x in (self.choice, self.rank, self.polar, self.slot) if x is not None]
        if self.denial is not None:
            denies = ("says what an option is not instead of naming the one asked for" if offers_choice(self.question)
                      else "denies what the question presupposes")
            out.append(f"{UNSUPPORTED}: the answer {denies} ({self.denial!r}); corpus statistics cannot vouch for an absence")
        if self.evasion is not None:
            names = ", ".join(map(repr, self.restated)) or "its words"
            out.append(f"{UNSUPPORTED}: the answer restates the question ({names}) and names nothing it asks for "
                       f"(it says {' '.join(self.evasion)!r} instead)")
        if self.unchecked is not None:
            out.append(self.unchecked)
        return tuple(out)

    def to_dict(self) -> dict:
        """The report as plain data, with what reading decided (``verdict``, ``readings``)."""
        return {**asdict(self), "checkable": self.checkable, "verdict": self.verdict, "readings": list(self.readings)}


@dataclass(frozen=True)
class _Batch:
    """What one ``score_many`` batch looked up, per item (lists) and shared (counts, co-occurrences)."""

    q_phrases: list
    anchors: list
    claims_new: list
    direct: list  # per item, each new claim's evidence against the anchors (None: a count unknown)
    restated: list
    picks: dict
    ranks: dict  # item -> TimeRankEvidence, for answers saying which of two options came first
    polars: dict  # item -> PolarEvidence, for yes/no questions about two subjects
    counts: dict
    cooccur: dict
    canon: Callable[[str], str]
    bridges: BridgeLookups
    known: list  # per item, the question's phrases the corpus holds (articles start from them)
    starts: list  # per item, those bridges start from (none where the question describes no chain)
    articles: dict  # (anchor, claim form) -> InArticle or None (quco.decide.articles)
    statements: set  # items whose answer, with no new claim, is a statement (quco.decide.premise.restatement)
    slots: dict  # item -> the one-filler relation its question asks (quco.decide.slots), where a claim is unseen
    subjects: dict  # those items' anchors -> their statements


class AnswerScorer:
    def __init__(self, backend: CountBackend, extractor: Extractor | None = None, *, window: int = DEFAULT_WINDOW,
                 anchors: int = 1, unknown_policy: str = "risky", empty_risk: float = NEUTRAL, calibration=None,
                 bridges: bool | None = None):
        """``calibration``: a ``quco.decide.calibration.Calibration`` of ``answer_risk``; reports then carry
        ``p_fabrication``. Refused when fitted for another index, extractor or window. ``bridges``: a
        silent claim supported through multi-hop bridges where the question describes a chain (None,
        ``quco.decide.hops``), for every question (True) or never (False), as ``Thresholds.bridges``."""
        if unknown_policy not in ("risky", "ignore", "error"):
            raise UsageError(f"unknown_policy must be risky, ignore or error, not {unknown_policy!r}")
        check_bridges(bridges)
        self.bridges = bridges
        self.backend = backend
        self.extractor = extractor if extractor is not None else Extractor()
        self._passage_names = NamesMemo()  # the names in corpus passages, kept across batches
        self._aliases = AliasMemo()  # each claim's aliases (quco.decide.aliases), kept across batches
        self.window = window
        self.anchors = anchors
        self.unknown_policy = unknown_policy
        self.empty_risk = empty_risk  # an answer with no new claim: no evidence either way
        if calibration is not None:
            calibration.require_score("answer_risk", "an AnswerScorer", "Detector")
        self.calibration = calibration
        self._calibration_checked = False

    def score(self, question: str, answer: str) -> AnswerReport:
        return self.score_many([(question, answer)])[0]

    async def ascore(self, question: str, answer: str) -> AnswerReport:
        return (await self.ascore_many([(question, answer)]))[0]

    async def ascore_many(self, items: Sequence[tuple[str, str]]) -> list[AnswerReport]:
        """``score_many`` for async code: run in the event loop's default thread pool."""
        import asyncio

        return await asyncio.to_thread(self.score_many, list(items))

    def score_many(self, items: Sequence[tuple[str, str]], question_entities=None, claims=None,
                   question_claims=None) -> list[AnswerReport]:
        """Score many (question, answer) pairs in one extraction pass and one count batch each.
        ``question_entities`` (objects with ``.text``), ``claims`` and ``question_claims`` (from
        ``Extractor.claims_many`` over answers and questions) may pass extraction results computed
        earlier."""
        if self.calibration is not None and not self._calibration_checked:
            self.calibration.check_for(self.backend, self.extractor, mode="evidence", window=self.window)
            self._calibration_checked = True
        questions = [q for q, _ in items]
        answers = [a for _, a in items]
        for text in questions + answers:
            if not isinstance(text, str):
                raise UsageError(f"questions and answers must be text, not {type(text).__name__}")
            if (bad := invalid_text(text)) is not None:
                raise UsageError(f"questions and answers must be valid text: {bad}")
        if question_entities is None:
            question_entities = self.extractor.entities_many(questions)
        if claims is None:
            claims = self.extractor.claims_many(answers)
        batch = self._evidence(questions, answers, question_entities, claims, question_claims)
        return [self._answer_report(i, question, answer, batch) for i, (question, answer) in enumerate(items)]

    def _evidence(self, questions: list[str], answers: list[str], question_entities, claims,
                  question_claims) -> _Batch:
        """Everything the batch's reports read: each answer's new claims, each question's anchors
        and choice, and every count and co-occurrence they need (one backend batch each)."""
        canon = canonical_of(self.backend)
        q_entities = [tuple(dict.fromkeys(e.text for e in ents)) for ents in question_entities]
        claims_new, restated = [], []
        for question, q_entities_i, cs in zip(questions, q_entities, claims):
            new, same = new_claims(cs, q_entities_i, canon, context=canon(question))
            claims_new.append(new)
            restated.append(tuple(same))

        def phrases_of(which):  # the phrases of these questions: given, else parsed (only these)
            return dict(zip(which, [question_claims[i] for i in which] if question_claims is not None
                            else self.extractor.claims_many([questions[i] for i in which])))

        # Choice questions: only those naming "or" are parsed for their phrases (the properties).
        maybe = [i for i, q in enumerate(questions) if offers_choice(q)]
        q_claims = phrases_of(maybe)
        choices = {i: choice_of(questions[i], question_entities[i], q_claims[i], canon) for i in maybe}
        picks = {i: (ch, pick) for i, ch in choices.items() if ch is not None
                 and (pick := picked(ch, answers[i], canon)) is not None}
        ranks, polars = self._readings(questions, answers, question_entities, choices, canon)
        counts = counts_of(self.backend, sorted({p for qs in q_entities for p in qs if canon(p)}
                                                | with_forms(c for cs in claims_new for c in cs)
                                                | {p for ch, _ in picks.values() for p in phrases_needed(ch)}))
        names = q_entities  # as the question writes them (a one-filler relation is read only for these)
        q_entities = self._stand_ins(question_entities, q_entities, counts, canon)
        # Anchors: the question's rarest known entities. A question naming no entity the corpus
        # knows is anchored by its noun phrases ("script", "autographs") instead; only those
        # questions are parsed for them. The noun phrases of a question that has entities would
        # vouch for anything ("occupation" is near every job title).
        bare = [i for i, es in enumerate(q_entities) if claims_new[i] and not any((counts[q][0] or 0) > 0 for q in es)]
        q_phrases = list(q_entities)
        if bare:
            q_claims.update(phrases_of([i for i in bare if i not in q_claims]))
            for i in bare:
                q_phrases[i] = tuple(dict.fromkeys(q_entities[i] + tuple(q_claims[i])))
            counts.update(counts_of(self.backend, sorted({p for i in bare for p in q_phrases[i] if canon(p)} - set(counts))))
        anchors = []
        for qs in q_phrases:
            known = [q for q in qs if canon(q) and (counts[q][0] or 0) > 0]
            anchors.append(tuple(sorted(known, key=lambda q: counts[q][0])[: self.anchors]))
        pairs = sorted({pair for an, cs in zip(anchors, claims_new) for q in an for c in cs
                        if not overlaps(q, c, canon) for pair in claim_pairs(q, c, counts)}
                       | {pair for ch, _ in picks.values() for pair in pairs_needed(ch, counts)})
        cooccur = cooccurrences_of(self.backend, pairs, self.window)
        # Multi-hop support: from any known question entity, through a bridge, to a silent claim.
        corpus = self.backend.corpus
        known = [tuple(q for q in qs if (counts.get(q, (None,))[0] or 0) > 0) for qs in q_entities]
        direct = [[claim_evidence(c, an, counts, cooccur, corpus, self.window) for c in cs]
                  for an, cs in zip(anchors, claims_new)]
        named = by_alias(self.backend, {(ev.phrase, an): ev for an, evs in zip(anchors, direct) for ev in evs
                                        if ev is not None and silent(ev)}, self.window, self._aliases)
        direct = [[named.get((ev.phrase, an), ev) if ev is not None else None for ev in evs]
                  for an, evs in zip(anchors, direct)]
        quiet = [[ev.phrase for ev in evs if ev is not None and silent(ev)] for evs in direct]
        starts = [k if bridges_for(self.bridges, q, es) else ()
                  for k, q, es in zip(known, questions, q_entities)]  # the anchors bridges start from
        bridges = lookup_bridges(self.backend, self._passage_names, [(k, q) for k, q in zip(starts, quiet) if k and q],
                                 self.window, canon) if self.bridges is not False else NO_BRIDGES
        articles = article_lookups(self.backend, [p for k, q in zip(known, quiet) for c in q
                                                  for p in article_pairs(k, c, counts)])
        # A one-filler relation asked ("where was X born?") with a claim never near X: X's statements.
        slots = {i: rel for i, q in enumerate(questions) if anchors[i] and anchors[i][0] in names[i]
                 and (rel := slot_of(q, names[i])) is not None
                 and any(ev is not None and ev.count and not ev.cooccur for ev in direct[i])}
        subjects = statements_with_variants(self.backend, sorted({anchors[i][0] for i in slots})) if slots else {}
        # Answers with no new claim to a question that is no choice: is each a statement (tags only)?
        bare_answers = [i for i, cs in enumerate(claims_new) if not cs and i not in choices and i not in polars]
        told = self.extractor.statements_many([answers[i] for i in bare_answers]) if bare_answers else []
        statements = {i for i, yes in zip(bare_answers, told) if yes}
        return _Batch(q_phrases, anchors, claims_new, direct, restated, picks, ranks, polars, counts, cooccur, canon, bridges,
                      known, starts, articles, statements, slots, subjects)

    def _stand_ins(self, question_entities, q_entities: list, counts: dict, canon) -> list:
        """Each question's entity names; where the corpus holds none of them as written, a name it
        never writes in full is replaced by the shorter one it does ("Belleau" for "Narcisse-Fortunat
        Belleau": ``evidence.backoff_forms``, as drafts are anchored). Only there: beside a name the
        corpus holds, a surname standing in is the less specific anchor (namesakes). ``counts``
        gains the shorter names'."""
        lone = [i for i, qs in enumerate(q_entities) if not any((counts[q][0] or 0) > 0 for q in qs if canon(q))]
        short = {e.text: backoff_forms(e.text, e.label) for i in lone for e in question_entities[i]
                 if canon(e.text) and counts.get(e.text, (None,))[0] == 0}
        if not any(short.values()):
            return q_entities
        counts.update(counts_of(self.backend, sorted({f for fs in short.values() for f in fs} - set(counts))))
        held = {t: next((f for f in fs if (counts[f][0] or 0) > 0), t) for t, fs in short.items()}
        return [tuple(dict.fromkeys(held.get(t, t) for t in qs)) if i in lone else qs for i, qs in enumerate(q_entities)]

    def _readings(self, questions: list[str], answers: list[str], question_entities, choices: dict,
                  canon) -> tuple[dict, dict]:
        """item -> the reading of its answer: which of two options came first (``TimeRankEvidence``) or
        has more (``AmountEvidence``), and yes or no about two subjects (``PolarEvidence``). Their statements are read in one batch,
        the yes/no subjects' sentences parsed in one extractor pass."""
        ranks = {i: r for i, ch in choices.items() if ch is None
                 and (r := time_rank_of(questions[i], question_entities[i])) is not None}
        amounts = {i: a for i, ch in choices.items() if ch is None and i not in ranks
                   and (a := amount_rank_of(questions[i], question_entities[i])) is not None}
        picks = {i: (r, pick) for i, r in ranks.items() if (pick := asserted(r, answers[i], canon)) is not None}
        counted = {i: (a, pick) for i, a in amounts.items() if (pick := asserted_amount(a, answers[i], canon)) is not None}
        polars = {i: p for i, q in enumerate(questions) if (p := polar_of(q, question_entities[i])) is not None}
        options = {o for r, _ in picks.values() for o in r.options} | {o for a, _ in counted.values() for o in a.options}
        statements = statements_with_variants(self.backend,
                                              sorted(options | {s for p in polars.values() for s in p.subjects}))
        subjects = sorted({s for p in polars.values() for s in p.subjects if statements.get(s) is not None})
        sentences = {s: sentences_to_read(statements[s]) for s in subjects}
        flat = [t for s in subjects for t in sentences[s]]
        parsed = iter(self.extractor.names_many(flat) if flat else [])
        read = {s: [(t, next(parsed)) for t in sentences[s]] for s in subjects}
        return ({**{i: rank_evidence(r, chosen, other, statements) for i, (r, (chosen, other)) in picks.items()},
                 **{i: amount_evidence(r, chosen, other, statements) for i, (r, (chosen, other)) in counted.items()}},
                {i: polar_evidence(p, polarity(answers[i], p, canon), read, canon) for i, p in polars.items()})

    @staticmethod
    def _slot(i: int, anchors: tuple, worst: ClaimEvidence | None, b: _Batch) -> SlotEvidence | None:
        """The reading of a one-filler relation (``quco.decide.slots``) for item ``i``'s least supported
        claim, when its question asks one and nothing (co-occurrence, bridge, article, alias) saw the
        claim near the subject."""
        if worst is None or i not in b.slots or not unseen(worst):
            return None
        return slot_evidence(b.slots[i], anchors[0], worst.phrase, b.subjects.get(anchors[0]), b.canon)

    def _answer_report(self, i: int, question: str, answer: str, b: _Batch) -> AnswerReport:
        """Item ``i`` of a batch: its least supported claim, its choice, unknowns by the policy."""
        qs, an, cs, same = b.q_phrases[i], b.anchors[i], b.claims_new[i], b.restated[i]
        counts, cooccur, canon = b.counts, b.cooccur, b.canon
        corpus, window = self.backend.corpus, self.window
        choice = None
        if i in b.picks:
            ch, (chosen, other) = b.picks[i]
            choice = choice_evidence(ch, chosen, other, counts, cooccur, corpus, window)
            if choice.unknown and self.unknown_policy == "error":
                raise RiskAbort(f"a count is unknown for the choice of {chosen!r} over {other!r}")
        # An anchor whose count is unknown might have been the rarest one: the evidence
        # against the others is then not the evidence the method asks for. Fail closed.
        lost = [q for q in qs if canon(q) and counts[q][0] is None]
        if lost and cs:
            if self.unknown_policy == "error":
                raise RiskAbort(f"count for question entity {lost[0]!r} is unknown")
            if self.unknown_policy == "risky":
                claims_ev = tuple(ClaimEvidence(c, counts[c][0], None, None, None, 1.0) for c in cs)
                p = self.calibration.p(1.0) if self.calibration is not None else None
                return AnswerReport(question, answer, 1.0, claims_ev, same, an, True, p, choice)
        evidence, unknown = [], bool(lost and cs) or bool(choice is not None and choice.unknown)
        for c, ev in zip(cs, b.direct[i]):
            if ev is None:
                unknown = True
                if self.unknown_policy == "error":
                    raise RiskAbort(f"count for {c!r} is unknown")
                if self.unknown_policy == "ignore":
                    continue
                ev = ClaimEvidence(c, None, None, None, None, 1.0)
            elif ev.count:
                if silent(ev):
                    ev = in_article(ev, b.known[i], counts, b.articles, corpus)
                ev = bridged(ev, qs if b.starts[i] else (), counts, b.bridges, corpus, window, canon)
            evidence.append(ev)
        worst = least_supported(evidence)
        risks = [worst.risk] if worst is not None else []
        slot = self._slot(i, an, worst, b)
        if slot is not None:
            risks.append(slot.risk)
        if choice is not None and (choice.checked or choice.unknown and self.unknown_policy == "risky"):
            risks.append(choice.risk)
        rank, polar = b.ranks.get(i), b.polars.get(i)
        risks += [x.risk for x in (rank, polar) if x is not None and x.checked]
        denied = denial(question, answer)
        evaded = restatement(question, answer, same, i in b.statements) if not risks and denied is None else None
        if denied is not None or evaded is not None:
            risks.append(VERDICT_RISK[UNSUPPORTED])
        why = (nothing_checked(question, answer, same, canon)
               if not risks and not cs and all(x is None for x in (choice, rank, polar)) else None)
        risk = max(risks) if risks else self.empty_risk
        p = self.calibration.p(risk) if self.calibration is not None else None
        return AnswerReport(question, answer, round(risk, 6), tuple(evidence), same, an, unknown, p, choice, rank, denied,
                            polar, evaded, why, slot)
