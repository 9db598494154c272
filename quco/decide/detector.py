"""The ``Detector``: extractor + count backend + trigger -> ``RiskReport``.

Batches are first-class: ``check_many`` runs extraction once over all texts (``nlp.pipe``) and asks
the backend once for every distinct phrase and pair. A backend failure never becomes a count of 0:
the batch is retried item by item so that only the failing items are reported as unknown, and the
unknown-count policy of the thresholds decides what unknown means.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from quco.backends.base import DEFAULT_WINDOW, CountBackend
from quco.decide import trigger
from quco.decide.aliases import AliasMemo, by_alias
from quco.decide.articles import article_lookups, article_pairs, in_article
from quco.decide.bridges import NO_BRIDGES, NamesMemo, bridged, lookup_bridges, silent, unbridged
from quco.decide.evidence import (
    ClaimEvidence,
    anchor_keys,
    backoff_forms,
    canonical_of,
    claim_evidence,
    claim_pairs,
    held_forms,
    overlaps,
    split_claims,
    with_forms,
    word_forms,
)
from quco.decide.gathered import NO_PLAN, Gathered, SentencePlan
from quco.decide.hops import bridges_for
from quco.decide.lookups import cooccurrences_of, counts_of
from quco.decide.reading import CONTRADICTED
from quco.decide.report import EntityEvidence, FlaggedSentence, LoneEvidence, PairEvidence, RiskReport
from quco.decide.slots import contradict_unseen, slot_of
from quco.errors import RiskAbort, UsageError
from quco.extract import Extractor, Triplet
from quco.extract.triplets import claim_relation
from quco.normalize import invalid_text

MAX_QUESTION_CHARS = 4_000
MAX_DRAFT_CHARS = 100_000
MAX_DRAFT_SENTENCES = 1_000


class Detector:
    anchors = 2  # mode "evidence": how many of the question's rarest known entities anchor claims

    def __init__(
        self,
        backend: CountBackend,
        extractor: Extractor | None = None,
        thresholds: trigger.Thresholds | None = None,
        *,
        window: int = DEFAULT_WINDOW,
        max_question_chars: int = MAX_QUESTION_CHARS,
        max_draft_chars: int = MAX_DRAFT_CHARS,
        max_draft_sentences: int = MAX_DRAFT_SENTENCES,
        calibration=None,
        audit=None,
        tracing: bool | None = None,
    ):
        """``audit``: an ``AuditLog`` (``quco.audit.log``) that records every decision; each
        report then carries its ``request_id`` for feedback. ``tracing``: OpenTelemetry spans per
        batch (``quco.decide.tracing``; default: the ``QUCO_OTEL`` variable)."""
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise UsageError(f"window must be a non-negative number of tokens, not {window!r}")
        self.backend = backend
        self.extractor = extractor if extractor is not None else Extractor()
        self._passage_names, self._aliases = NamesMemo(), AliasMemo()  # passages' names, claims' aliases: kept
        self.thresholds = thresholds if thresholds is not None else trigger.Thresholds()
        self.window = window
        self.max_question_chars = max_question_chars
        self.max_draft_chars = max_draft_chars
        self.max_draft_sentences = max_draft_sentences
        if calibration is not None:
            calibration.require_score("risk", "a Detector", "AnswerScorer")
        self.calibration = calibration
        self._calibration_checked = False
        self.audit = audit
        from quco.decide import tracing as _tracing

        self._tracing = _tracing.enabled(tracing)
        self._resolved = self.thresholds.resolve(backend.corpus.tokens)

    def __reduce__(self):
        """Pickled by configuration (backend and extractor reopen in the receiving process); an
        audit log stays with the process that opened it."""
        return _rebuild, (self.backend, self.extractor, self.thresholds, self.window, self.max_question_chars,
                          self.max_draft_chars, self.max_draft_sentences, self.calibration)

    # -- public API ---------------------------------------------------------------------------
    def check_question(self, question: str) -> RiskReport:
        """Stage 1: should we retrieve before generating an answer to ``question``?"""
        return self.check_many([question])[0]

    def check_draft(self, question: str, draft: str) -> RiskReport:
        """Stages 1 and 2: is ``draft`` (an answer being generated) likely to contain a fabrication?"""
        return self.check_many([(question, draft)])[0]

    def check_many(self, items: Sequence[str | tuple[str, str | None]]) -> list[RiskReport]:
        """Check many questions, or (question, draft) pairs, in one batch."""
        return [report for report, _ in self.check_with_sentences(items)]

    # -- async: the same calls, their CPU work in a worker thread (never on the event loop) --------
    async def acheck_question(self, question: str) -> RiskReport:
        return (await self.acheck_many([question]))[0]

    async def acheck_draft(self, question: str, draft: str) -> RiskReport:
        return (await self.acheck_many([(question, draft)]))[0]

    async def acheck_many(self, items: Sequence[str | tuple[str, str | None]]) -> list[RiskReport]:
        """``check_many`` for async code (LangChain, LlamaIndex, OpenAI clients), in the event loop's
        default thread pool, which bounds how many run at once (a Detector is safe to share)."""
        import asyncio

        return await asyncio.to_thread(self.check_many, list(items))

    def check_with_sentences(self, items: Sequence[str | tuple[str, str | None]]) -> list[tuple[RiskReport, tuple | None]]:
        """``check_many``, each report with its draft's sentences as extracted (None: a question alone)."""
        return self.reports(self.gather(items))

    def gather(self, items: Sequence[str | tuple[str, str | None]]) -> Gathered:
        """A batch's extraction and lookups, before any report: every entity, sentence, count,
        co-occurrence and claim's evidence the reports are built from (``reports``)."""
        questions, drafts = self._validate(items)
        if not questions:
            return Gathered([], [], [], {}, {}, {}, {}, {}, (0.0, 0.0, 0.0, 0))
        self.extractor.nlp  # noqa: B018 - load the pipeline outside the timed region
        if self.calibration is not None and not self._calibration_checked:
            self.calibration.check_for(self.backend, self.extractor, mode=self._resolved.mode, window=self.window)
            self._calibration_checked = True
        t0, wall0 = time.perf_counter(), time.time_ns()
        entities = self.extractor.entities_many(questions)
        draft_idx = [i for i, d in enumerate(drafts) if d is not None]
        sentences = dict(zip(draft_idx, self.extractor.sentences_many([d for d in drafts if d is not None])))
        for i, sents in sentences.items():
            if len(sents) > self.max_draft_sentences:  # bound the counting work before it starts
                raise UsageError(f"draft {i + 1} has {len(sents):,} sentences; the limit is "
                                 f"{self.max_draft_sentences:,} (check it in parts, or raise max_draft_sentences)")
        t1 = time.perf_counter()
        counts, plans, pairs = self._phrases_and_plans(questions, entities, sentences)
        cooccur = self._cooccur(sorted(pairs))
        evidence = self._evidence(plans, counts, cooccur) if plans else {}
        names = [tuple(e.text for e in ents) for ents in entities]
        asked = {key: (rel, names[i]) for i, plan in plans.items() if (rel := slot_of(questions[i], names[i]))
                 for sp in plan.values() for key in sp.checks}
        evidence = contradict_unseen(self.backend, evidence, asked, canonical_of(self.backend)) if asked else evidence
        return Gathered(questions, drafts, entities, sentences, counts, cooccur, plans, evidence,
                        (t0, t1, time.perf_counter(), wall0))

    def _phrases_and_plans(self, questions, entities, sentences: dict) -> tuple[dict, dict, set]:
        """Every phrase's count, each draft's claim plan (mode "evidence") and the pairs to look up."""
        phrases = {e.text for ents in entities for e in ents}
        pairs: set[tuple[str, str]] = set()
        evidence_mode = self._resolved.mode == "evidence"
        for sents in sentences.values():
            for s in sents:
                if evidence_mode:
                    phrases.update(with_forms(s.claims))
                    phrases.update(with_forms(s.subjects))
                    phrases.update(t.head for t in s.triplets)
                else:
                    pairs.update((t.head, t.tail) for t in s.triplets)
                if self._resolved.check_lone_entities and len(s.entities) == 1 and not s.triplets:
                    phrases.add(s.entities[0].text)
        if evidence_mode:  # an anchor the corpus never writes in full stands in by a shorter name
            phrases.update(f for i in sentences for e in entities[i] for f in backoff_forms(e.text, e.label))
        counts = self._counts(sorted(phrases))
        plans: dict = {}
        if evidence_mode:
            bare = self._bare_anchors(questions, entities, list(sentences), counts)
            sides: dict = {}  # a question's side, once for all the drafts that answer it
            for i, sents in sentences.items():
                if questions[i] not in sides:
                    sides[questions[i]] = self._question_side(questions[i], entities[i], counts, bare.get(i, ()))
                plans[i] = self._claim_plan(sides[questions[i]], sents, counts)
            pairs = set()
            for c, anchors in {key for plan in plans.values() for sp in plan.values() for key in sp.checks}:
                pairs.update((a, f) for f in held_forms(c, counts) for a in anchors)  # as ``claim_pairs``
            # A sentence with no known anchor has no association to measure: QuCo-RAG's rule
            # (its triplets must co-occur at all) still applies to it.
            pairs |= {(t.head, t.tail) for i, sents in sentences.items() for s in sents if not plans[i][s.index].anchors
                      for t in s.triplets}
        return counts, plans, pairs

    def reports(self, batch: Gathered) -> list[tuple[RiskReport, tuple | None]]:
        """The reports of a gathered batch (``gather``), each with its draft's sentences."""
        n = len(batch)
        if n == 0:
            return []
        questions, drafts, sentences = batch.questions, batch.drafts, batch.sentences
        t0, t1, t2, wall0 = batch.marks
        shared = {
            "extract_ms": (t1 - t0) * 1000 / n,
            "count_ms": (t2 - t1) * 1000 / n,
            "batch_size": n,
        }
        reports = []
        for i in range(n):
            start = time.perf_counter()
            reports.append(self._report(questions[i], batch.entities[i], sentences.get(i), batch.counts, batch.cooccur,
                                        shared, start, batch.plans.get(i), batch.evidence))
        if self._tracing:
            from quco.decide.tracing import emit

            t3 = time.perf_counter()
            emit(wall0, [("quco.check", t0, t3), ("quco.extract", t0, t1), ("quco.count", t1, t2), ("quco.decide", t2, t3)],
                 {"quco.batch_size": n, "quco.backend": self.backend.identity, "quco.corpus_tokens": self.backend.corpus.tokens,
                  "quco.rag.retrieve": sum(r.retrieve for r in reports), "quco.unknown": sum(r.unknown for r in reports)})
        if self.calibration is not None:
            reports = [replace(r, p_fabrication=self.calibration.p(r.risk)) for r in reports]
        if self.audit is not None:
            reports = [replace(r, request_id=self.audit.record_report(
                r, source="library", latency_ms=r.timings_ms.get("total_ms"), question=q, draft=d))
                for r, q, d in zip(reports, questions, drafts)]
        return [(r, sentences.get(i)) for i, r in enumerate(reports)]

    # -- internals ----------------------------------------------------------------------------
    def _validate(self, items) -> tuple[list[str], list[str | None]]:
        if isinstance(items, (str, bytes)):
            raise UsageError("check_many takes a list of questions or (question, draft) pairs, not one string")
        questions, drafts = [], []
        for item in items:
            q, d = (item, None) if isinstance(item, str) else _pair(item)
            if not isinstance(q, str) or not q.strip():
                raise UsageError("the question is empty")
            if len(q) > self.max_question_chars:
                raise UsageError(f"the question has {len(q):,} characters; the limit is {self.max_question_chars:,}")
            if (bad := invalid_text(q)) is not None:
                raise UsageError(f"the question is not valid text: {bad}")
            if d is not None:
                if not isinstance(d, str):
                    raise UsageError(f"the draft must be text, not {type(d).__name__}")
                if len(d) > self.max_draft_chars:
                    raise UsageError(
                        f"the draft has {len(d):,} characters; the limit is {self.max_draft_chars:,} "
                        "(check it in parts, or raise max_draft_chars)"
                    )
                if "\x00" in d:
                    raise UsageError("the draft contains NUL bytes; expected text")
                if (bad := invalid_text(d)) is not None:
                    raise UsageError(f"the draft is not valid text: {bad}")
            questions.append(q)
            drafts.append(d)
        return questions, drafts

    def _counts(self, phrases: list[str]) -> dict:
        """phrase -> (count or None, approx, error)."""
        return counts_of(self.backend, phrases)

    def _cooccur(self, pairs: list[tuple[str, str]]) -> dict:
        """(head, tail) -> (co-occurrence or None, approx, error)."""
        return cooccurrences_of(self.backend, pairs, self.window)

    def _known(self, entities, counts) -> tuple[str, ...]:
        """The question's entities the corpus holds (by a shorter name where only that is written)."""
        canon = canonical_of(self.backend)
        named = [e.text if counts[e.text][0] != 0 else next(
            (f for f in backoff_forms(e.text, e.label) if (counts[f][0] or 0) > 0), e.text) for e in entities]
        return tuple(dict.fromkeys(t for t in named if canon(t) and (counts[t][0] or 0) > 0))

    def _bare_anchors(self, questions, entities, drafted: list[int], counts: dict) -> dict:
        """item -> the noun phrases of its question, for drafted questions naming no entity the
        corpus holds ("the continent with the lowest average temperature"): they anchor the
        draft's claims instead (only these questions are parsed for them; ``counts`` gains theirs)."""
        bare = [i for i in drafted if not self._known(entities[i], counts)]
        if not bare:
            return {}
        found = dict(zip(bare, self.extractor.claims_many([questions[i] for i in bare])))
        counts.update(self._counts(sorted({p for ps in found.values() for p in ps} - set(counts))))
        return found

    def _question_side(self, question, entities, counts, bare=()) -> tuple[list[str], list[str], str, tuple[str, ...]]:
        """A question's part of its drafts' plans: (its anchors, its names, its canonical text, the
        anchors bridges start from: none unless ``bridges`` allows them for this question)."""
        canon = canonical_of(self.backend)
        known = self._known(entities, counts) or tuple(p for p in bare if canon(p) and (counts[p][0] or 0) > 0)
        q_anchors = sorted(known, key=lambda t: counts[t][0])[: self.anchors]
        names = [e.text for e in entities] + list(bare)
        return q_anchors, names, canon(question), tuple(q_anchors) if bridges_for(self._resolved.bridges, question, names) else ()

    def _claim_plan(self, side, sentences, counts) -> dict:
        """Mode "evidence": per sentence, its ``SentencePlan``. Anchors are the question's rarest
        known entities (the most specific; an entity the corpus never writes in full by its
        shorter name, ``backoff_forms``) and the sentence's own subjects (triplet heads); a claim
        restating an anchor or repeating the question's words is not checked; a question naming
        no known entity is anchored by its noun phrases (``bare``). A subject the
        question does not name ("Avery County shares a border with ...") is the draft's answer:
        it anchors the sentence's other claims and is itself checked against the question's anchors.
        A draft stating its hops in turn ("X is published by Y. Its first president was Z.") is
        checked hop by hop: a sentence naming no subject of its own is anchored by the previous
        sentence's rarest new claims too."""
        canon = canonical_of(self.backend)
        q_anchors, q_texts, context, bridge_from = side
        # The question's part, the same for all its drafts' sentences (its anchors are distinct already).
        q_tuple, q_keys = tuple(q_anchors), anchor_keys(q_texts, canon)
        plan = {}
        hop: list[str] = []
        for s in sentences:
            about = list(dict.fromkeys([*s.subjects, *(t.head for t in s.triplets)])) if s.subjects or s.triplets else []
            heads = [h for h in about if canon(h) and (counts[h][0] or 0) > 0]
            hop = [] if s.subjects else hop  # the previous hop stands in for a subject the sentence does not name
            anchors = tuple(dict.fromkeys(q_anchors + heads + hop)) if heads or hop else q_tuple
            keys = q_keys + anchor_keys(about + hop, canon) if about or hop else q_keys
            new, _ = split_claims(s.claims, keys, canon, context=context)
            answered, _ = split_claims(about, q_keys, canon, context=context) if q_anchors else ([], [])
            checks = [(c, anchors) for c in new]
            checks += [(h, mine) for h in answered if h not in new
                       and (mine := tuple(a for a in anchors if not overlaps(a, h, canon)))]
            plan[s.index] = SentencePlan(anchors, tuple(checks), bridge_from)
            hop = sorted((c for c in new if canon(c) and (counts[c][0] or 0) > 0),
                         key=lambda c: counts[c][0])[: self.anchors] if new else []
        return plan

    def _evidence(self, plans: dict, counts: dict, cooccur: dict) -> dict:
        """Mode "evidence": (claim, anchors) -> ``ClaimEvidence`` (None: a count unknown). A silent
        claim is supported under the corpus's own alias for it (``quco.decide.aliases``), by its anchor's
        article (``articles``) or through a bridge from the question's anchors (``bridges``; not from a
        sentence's own subjects), whichever supports it best; the lookups in one batch each."""
        corpus, canon = self.backend.corpus, canonical_of(self.backend)
        evidence, start = {}, {}
        for plan in plans.values():
            for sp in plan.values():
                for c, anchors in sp.checks:
                    if (c, anchors) not in evidence:  # a claim checked against the same anchors again
                        evidence[(c, anchors)] = claim_evidence(c, anchors, counts, cooccur, corpus, self.window)
                    start[(c, anchors)] = tuple(a for a in sp.question if a in anchors)
        quiet = {key: ev for key, ev in evidence.items() if ev is not None and silent(ev)}
        if not quiet:
            return evidence
        found = article_lookups(self.backend, [p for (c, anchors) in quiet for p in article_pairs(anchors, c, counts)])
        named = by_alias(self.backend, quiet, self.window, self._aliases)
        bridges = lookup_bridges(self.backend, self._passage_names, [(start[key], [key[0]]) for key in quiet if start[key]],
                                 self.window, canon) if self._resolved.bridges is not False else NO_BRIDGES
        for (c, anchors), ev in quiet.items():
            ev = named.get((c, anchors), ev)
            if found:
                ev = in_article(ev, anchors, counts, found, corpus)
            evidence[(c, anchors)] = bridged(ev, start[(c, anchors)], counts, bridges, corpus, self.window, canon)
        return evidence

    def _claim_decision(self, claim, anchors, counts, cooccur, evidence: dict):
        """Mode "evidence": (evidence, decision, error): a claim's association with its best
        anchor (or its anchor's own article, for a silent claim: ``_evidence``), whether it
        fires, and the backend error when a count it needs is unknown."""
        th = self._resolved
        ev = evidence[(claim, anchors)]
        if ev is None:  # a count or co-occurrence is unknown: say which, and why
            missing = [counts[f] for f in word_forms(claim)] + [cooccur[p] for a in anchors for p in claim_pairs(a, claim, counts)
                                                                  if p in cooccur]
            _, approx, error = next(m for m in missing if m[0] is None)
            if th.unknown_policy == "error":
                raise RiskAbort(f"count or co-occurrence unknown for {claim!r}: {error}")
            d = trigger.pair_decision(anchors[0], claim, None, th)
            d = replace(d, reasons=(f"{d.reasons[0]} ({error})",) if error else d.reasons)
            return ClaimEvidence(claim, counts[claim][0], anchors[0], None, None, d.risk, approx=approx), d, error
        return ev, trigger.claim_decision(ev, th, self.window), None

    def _report(self, question, entities, sentences, counts, cooccur, shared, start, plan=None,
                evidence=None) -> RiskReport:
        th = self._resolved
        ent_ev = []
        for e in entities:
            value, approx, error = counts[e.text]
            r = None if value is None else trigger.risk(value, th.entity, th.steepness)
            ent_ev.append(EntityEvidence(e.text, e.label, value, approx, error, r))
        if th.unknown_policy == "error":
            bad = [e for e in ent_ev if e.count is None]
            if bad:
                raise RiskAbort(f"count unknown for {bad[0].text!r}: {bad[0].error}")
        s1 = trigger.stage1([(e.text, e.count) for e in ent_ev], th)
        draft = _Draft()
        if sentences is not None:
            for s in sentences:
                self._check_sentence(s, plan, counts, cooccur, draft, evidence or {})
            if draft.flagged is None:
                draft.reasons.append(f"draft: {len(draft.pairs)} pair(s) and {len(draft.lones)} lone entit(y/ies) "
                                     "checked, none flagged")
            elif (why := unbridged(self._resolved.bridges, question, entities, draft.flagged, draft.pairs)) is not None:
                draft.reasons.append(why)
        s2_fired = draft.flagged is not None
        stage = "question" if s1.fired else "draft" if s2_fired else None
        suggested = None
        if draft.flagged is not None:
            flagged = draft.flagged
            suggested = flagged.triplet.query if flagged.triplet is not None else flagged.lone_entity
        elif s1.fired:
            suggested = question
        pairs, lones = draft.pairs, draft.lones
        any_approx = any(e.approx for e in ent_ev) or any(p.approx for p in pairs) or any(x.approx for x in lones)
        any_unknown = s1.unknown or any(p.cooccur is None for p in pairs) or any(x.count is None for x in lones)
        corpus = self.backend.corpus
        timings = dict(shared)
        timings["decide_ms"] = (time.perf_counter() - start) * 1000
        timings["total_ms"] = timings["extract_ms"] + timings["count_ms"] + timings["decide_ms"]
        return RiskReport(
            question=question,
            retrieve=s1.fired or s2_fired,
            risk=max(s1.risk, draft.risk),
            stage=stage,
            reasons=tuple(list(s1.reasons) + draft.reasons),
            entities=tuple(ent_ev),
            pairs=tuple(pairs),
            lone_entities=tuple(lones),
            flagged=draft.flagged,
            suggested_query=suggested,
            draft_checked=sentences is not None,
            sentences_checked=len(sentences) if sentences is not None else 0,
            backend=self.backend.name,
            index=self.backend.identity,
            corpus_tokens=corpus.tokens,
            corpus_documents=corpus.documents,
            approx=any_approx,
            unknown=any_unknown,
            extractor=self.extractor.model_name,
            thresholds=th.to_dict(),
            stage1_risk=s1.risk,
            stage2_risk=draft.risk,
            timings_ms={k: round(v, 3) if isinstance(v, float) else v for k, v in timings.items()},
        )

    def _check_sentence(self, s, plan, counts, cooccur, draft: _Draft, evidence: dict) -> None:
        """Stage 2 on one sentence: its claims against their anchors (mode "evidence"), else its
        (head, tail) pairs and lone entity (the paper's rule); the first flagged sentence decides."""
        th = self._resolved
        sentence_flag = None
        sp = plan[s.index] if plan is not None else NO_PLAN
        anchors = sp.anchors
        if plan is not None and anchors:
            for c, mine in sp.checks:
                ev, d, error = self._claim_decision(c, mine, counts, cooccur, evidence)
                head = ev.anchor or mine[0]
                t = Triplet(head, claim_relation(s, c, head), c, "claim")
                draft.pairs.append(PairEvidence(s.index, t.head, t.relation, t.tail, t.kind, ev.cooccur, self.window,
                                                ev.approx, error, d.fired, d.risk,
                                                ev.anchor_count, ev.count, ev.expected, ev.pmi,
                                                article=ev.article.title if ev.article is not None else None,
                                                alias=ev.alias, alias_said=ev.alias_said,
                                                path=ev.bridge.path if ev.bridge is not None else (),
                                                verdict=CONTRADICTED if ev.contradicted else None))
                draft.risk = max(draft.risk, d.risk)
                if d.fired and (sentence_flag is None or d.risk > sentence_flag[1].risk):
                    sentence_flag = (FlaggedSentence(s.index, s.text, s.start, t, None), d)
        for t in s.triplets if plan is None or not anchors else ():
            value, approx, error = cooccur[(t.head, t.tail)]
            if value is None and th.unknown_policy == "error":
                raise RiskAbort(f"co-occurrence unknown for {t.head!r} and {t.tail!r}: {error}")
            d = trigger.pair_decision(t.head, t.tail, value, th)
            draft.pairs.append(PairEvidence(s.index, t.head, t.relation, t.tail, t.kind, value, self.window, approx,
                                            error, d.fired, d.risk))
            draft.risk = max(draft.risk, d.risk)
            if d.fired and sentence_flag is None:
                sentence_flag = (FlaggedSentence(s.index, s.text, s.start, t, None), d)
        if th.check_lone_entities and len(s.entities) == 1 and not s.triplets and not (plan is not None and anchors):
            ent = s.entities[0].text
            value, approx, error = counts[ent]
            if value is None and th.unknown_policy == "error":
                raise RiskAbort(f"count unknown for {ent!r}: {error}")
            d = trigger.lone_decision(ent, value, th)
            draft.lones.append(LoneEvidence(s.index, ent, value, approx, error, d.fired, d.risk))
            draft.risk = max(draft.risk, d.risk)
            if d.fired and sentence_flag is None:
                sentence_flag = (FlaggedSentence(s.index, s.text, s.start, None, ent), d)
        if sentence_flag is not None and draft.flagged is None:
            draft.flagged = sentence_flag[0]
            draft.reasons.append(f"sentence {s.index + 1}: " + "; ".join(sentence_flag[1].reasons))


@dataclass
class _Draft:
    """Stage 2's evidence while a draft's sentences are checked in order."""

    pairs: list = field(default_factory=list)
    lones: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    flagged: FlaggedSentence | None = None
    risk: float = 0.0


def _pair(item) -> tuple:
    try:
        q, d = item
    except (TypeError, ValueError):
        raise UsageError(f"expected a question or a (question, draft) pair, got {type(item).__name__}") from None
    return q, d


def _rebuild(backend, extractor, thresholds, window, max_question_chars, max_draft_chars, max_draft_sentences,
             calibration=None):
    return Detector(backend, extractor, thresholds, window=window, max_question_chars=max_question_chars,
                    max_draft_chars=max_draft_chars, max_draft_sentences=max_draft_sentences, calibration=calibration)
