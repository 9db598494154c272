"""Trigger rules (pure) and the Detector with an injected backend, including failures."""

import json
import logging
import math

import pytest

from quco.backends.base import Cooccurrence, Corpus, Count, CountBackend
from quco.decide.detector import Detector
from quco.decide.trigger import REFERENCE_TOKENS, Thresholds, risk, stage1
from quco.errors import BackendUnavailable, RiskAbort, UpstreamError, UsageError


class FakeBackend(CountBackend):
    """Counts from dicts; phrases listed in ``fail`` are refused by the upstream (an item's own
    failure: the rest of the batch is still answered); ``down``: unreachable altogether."""

    name = "fake"

    def __init__(self, counts, cooc=None, tokens=REFERENCE_TOKENS, fail=(), approx_pairs=(), down=False):
        self.counts, self.cooc, self.fail, self.approx_pairs = counts, cooc or {}, set(fail), set(approx_pairs)
        self.down = down
        self._corpus = Corpus(int(tokens), 1000)
        self.calls = 0

    @property
    def corpus(self):
        return self._corpus

    def count_many(self, phrases):
        self.calls += 1
        if self.down:
            raise BackendUnavailable("timed out")
        if self.fail & set(phrases):
            raise UpstreamError("connection refused")
        return [Count(p, self.counts.get(p, 0)) for p in phrases]

    def cooccur_many(self, pairs, window=1000):
        self.calls += 1
        if self.down:
            raise BackendUnavailable("timed out")
        if any(a in self.fail or b in self.fail for a, b in pairs):
            raise UpstreamError("connection refused")
        return [Cooccurrence(a, b, self.cooc.get((a, b), 0), window, (a, b) in self.approx_pairs) for a, b in pairs]


def test_an_unavailable_backend_is_asked_once_per_batch_not_once_per_item(rules_extractor):
    backend = FakeBackend(counts={"Paris": 10**6, "France": 10**6}, down=True)
    r = Detector(backend, rules_extractor).check_question("Is Paris in France or in Atlantis?")
    assert backend.calls == 1 and r.unknown and r.retrieve
    assert all(e.count is None and "timed out" in e.error for e in r.entities)


def test_thresholds_scale_with_corpus_size():
    full = Thresholds().resolve(int(REFERENCE_TOKENS))
    assert full.entity == pytest.approx(1000) and full.cooccur == pytest.approx(1) and full.lone_entity == pytest.approx(20)
    small = Thresholds().resolve(2_300_000)
    assert small.entity == pytest.approx(1000 * 2_300_000 / REFERENCE_TOKENS)
    fixed = Thresholds(entity_absolute=5).resolve(2_300_000)
    assert fixed.entity == 5 and fixed.sources["entity"] == "absolute"
    with pytest.raises(ValueError):
        Thresholds(unknown_policy="maybe")


def test_risk_is_monotone_and_half_at_threshold():
    values = [risk(c, 10) for c in [0, 1, 5, 10, 20, 1000, 10**9]]
    assert values[0] == 1.0 and values[3] == pytest.approx(0.5)
    assert all(a > b for a, b in zip(values, values[1:]))
    assert all(0 <= v <= 1 for v in values)


def test_stage1_mean_and_min():
    th = Thresholds(mode="quco").resolve(int(REFERENCE_TOKENS))  # the paper's rule: the mean
    d = stage1([("a", 10), ("b", 5000)], th)  # mean 2505 >= 1000
    assert not d.fired and th.aggregate == "mean"
    th_min = Thresholds().resolve(int(REFERENCE_TOKENS))  # the evidence rule: the rarest entity decides
    assert stage1([("a", 10), ("b", 5000)], th_min).fired and th_min.aggregate == "min"
    assert not stage1([("a", 10), ("b", 5000)], Thresholds(aggregate="mean").resolve(int(REFERENCE_TOKENS))).fired
    assert not stage1([], th).fired


def test_fake_extractor_detector_flags_unsupported_pair(rules_extractor):
    """QuCo-RAG's own rule (mode "quco"): a pair that never co-occurs is flagged with risk 1."""
    backend = FakeBackend(
        counts={"Hamlet": 50_000, "William Shakespeare": 90_000, "Charles Dickens": 80_000},
        cooc={("Hamlet", "William Shakespeare"): 3000},
    )
    det = Detector(backend, rules_extractor, Thresholds(mode="quco"))
    good = det.check_draft("Who wrote Hamlet?", "Hamlet was written by William Shakespeare.")
    assert not good.retrieve and good.stage is None
    bad = det.check_draft("Who wrote Hamlet?", "Hamlet was written by William Shakespeare. Hamlet was staged by Charles Dickens.")
    assert bad.retrieve and bad.stage == "draft"
    assert bad.flagged.index == 1 and bad.flagged.triplet.tail == "Charles Dickens"
    assert bad.suggested_query == "Hamlet was staged by"
    assert bad.truncated_draft("Hamlet was written by William Shakespeare. Hamlet was staged by Charles Dickens.") == (
        "Hamlet was written by William Shakespeare."
    )
    assert bad.risk == 1.0 and good.risk < 0.5
    json.dumps(bad.to_dict())  # serialisable


def test_evidence_mode_explains_association(rules_extractor):
    """Mode "evidence" (the default): a claim is flagged when it is seen with its anchor less often
    than chance predicts; the pair says its counts, the expected co-occurrence and the association."""
    backend = FakeBackend(
        counts={"Hamlet": 50_000, "William Shakespeare": 90_000, "Charles Dickens": 80_000},
        cooc={("Hamlet", "William Shakespeare"): 3000},
    )  # 4.6T tokens in 1,000 documents: a window sees 2,001 tokens
    det = Detector(backend, rules_extractor)
    assert det.thresholds.mode == "evidence"
    good = det.check_draft("Who wrote Hamlet?", "Hamlet was written by William Shakespeare.")
    bad = det.check_draft("Who wrote Hamlet?", "Hamlet was written by William Shakespeare. Hamlet was staged by Charles Dickens.")
    assert not good.retrieve and good.stage2_risk < 0.5
    assert bad.retrieve and bad.stage == "draft" and bad.flagged.index == 1
    pair = next(p for p in bad.pairs if p.tail == "Charles Dickens")
    assert (pair.head, pair.cooccur, pair.head_count, pair.tail_count) == ("Hamlet", 0, 50_000, 80_000)
    assert pair.expected == pytest.approx(50_000 * 80_000 * 2001 / REFERENCE_TOKENS, rel=1e-3)
    assert pair.association == pytest.approx(math.log(0.5 / (pair.expected + 0.5)), abs=1e-3)
    assert pair.risk > 0.8 and pair.flagged
    assert "not associated with 'Hamlet'" in bad.reasons[-1]
    supported = next(p for p in good.pairs if p.tail == "William Shakespeare")
    assert supported.association > 0 and not supported.flagged


def test_backend_failure_is_unknown_never_zero(rules_extractor):
    backend = FakeBackend(counts={"Paris": 10**6, "France": 10**6}, fail={"Atlantis"})
    det = Detector(backend, rules_extractor)
    r = det.check_question("Is Paris in France or in Atlantis?")
    by_text = {e.text: e for e in r.entities}
    assert by_text["Atlantis"].count is None and "connection refused" in by_text["Atlantis"].error
    assert by_text["Paris"].count == 10**6  # the healthy items of the batch still got counted
    assert r.retrieve and r.unknown and r.risk == 1.0  # default policy: unknown is risky
    ignore = Detector(backend, rules_extractor, Thresholds(unknown_policy="ignore")).check_question("Is Paris in France or in Atlantis?")
    assert not ignore.retrieve and ignore.unknown
    with pytest.raises(RiskAbort):
        Detector(backend, rules_extractor, Thresholds(unknown_policy="error")).check_question("Is Paris in France or in Atlantis?")


def test_approximate_zero_cooccurrence_is_unknown(rules_extractor):
    backend = FakeBackend(counts={"Paris": 10**6, "France": 10**6}, approx_pairs={("Paris", "France")})
    r = Detector(backend, rules_extractor).check_draft("Where is Paris?", "Paris is the capital of France.")
    pair = r.pairs[0]
    assert pair.cooccur is None and pair.approx and "approximate zero" in pair.error
    assert r.approx and r.unknown and r.retrieve  # risky by default, never silently "supported"


def test_check_many_batches_backend_calls(rules_extractor):
    backend = FakeBackend(counts={"Paris": 10**6, "Rome": 5, "Italy": 100})
    det = Detector(backend, rules_extractor)
    reports = det.check_many(["Where is Paris?", "Where is Rome?", ("Where is Rome?", "Rome is in Italy.")] * 20)
    assert len(reports) == 60
    assert backend.calls == 2  # one count batch, one co-occurrence batch for the whole input
    assert [r.retrieve for r in reports[:2]] == [False, True]


def test_detector_input_validation(rules_extractor):
    det = Detector(FakeBackend({}), rules_extractor, max_draft_chars=100)
    with pytest.raises(UsageError, match="empty"):
        det.check_question("  ")
    with pytest.raises(UsageError, match="limit"):
        det.check_draft("q?", "x" * 101)
    with pytest.raises(UsageError):
        det.check_many("a single string")
    with pytest.raises(UsageError):
        Detector(FakeBackend({}), rules_extractor, window=-1)


def test_model_load_falls_back_to_rules(monkeypatch, caplog):
    import spacy

    from quco.extract import Extractor

    def refuse(name, **kw):
        raise OSError(f"[E050] Can't find model '{name}'")

    monkeypatch.setattr(spacy, "load", refuse)
    with caplog.at_level(logging.WARNING, logger="quco.extract"):
        ex = Extractor()
        assert ex.model_name == "rules"
    assert "falling back to rule-based" in caplog.text
    assert [e.text for e in ex.entities("Who founded the Bank of England in 1694?")] == ["Bank of England", "1694"]


def test_evidence_mode_unknown_counts_follow_the_policy(rules_extractor):
    backend = FakeBackend(counts={"Hamlet": 50_000, "Charles Dickens": 80_000}, fail={"Charles Dickens"})
    draft = "Hamlet was staged by Charles Dickens."
    risky = Detector(backend, rules_extractor).check_draft("Who wrote Hamlet?", draft)
    assert risky.retrieve and risky.unknown and risky.pairs[0].cooccur is None and "connection refused" in risky.pairs[0].error
    ignore = Detector(backend, rules_extractor, Thresholds(unknown_policy="ignore")).check_draft("Who wrote Hamlet?", draft)
    assert not ignore.retrieve and ignore.unknown
    with pytest.raises(RiskAbort, match="Charles Dickens"):
        Detector(backend, rules_extractor, Thresholds(unknown_policy="error")).check_draft("Who wrote Hamlet?", draft)


def test_async_calls_match_sync_and_leave_the_loop_free(tiny_index):
    import asyncio
    import time

    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.open import open_backend

    det = Detector(open_backend(tiny_index), Extractor("rules"))
    scorer = AnswerScorer(det.backend, det.extractor)
    items = [("Who wrote Hamlet?", "Hamlet was written by Charles Dickens."), ("Who wrote Hamlet?", None)] * 50

    async def main():
        ticks = []

        async def ticker():  # the loop keeps running while the checks work in a thread
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.001)

        t = asyncio.create_task(ticker())
        many, one, draft, answers = await asyncio.gather(
            det.acheck_many(items), det.acheck_question("Who wrote Hamlet?"),
            det.acheck_draft("Who wrote Hamlet?", "Hamlet was written by Charles Dickens."),
            scorer.ascore_many([("Who wrote Hamlet?", "Charles Dickens")]))
        t.cancel()
        return many, one, draft, answers, ticks

    many, one, draft, answers, ticks = asyncio.run(main())
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "timings_ms"}
    assert [strip(r) for r in many] == [strip(r) for r in det.check_many(items)]
    assert strip(one) == strip(det.check_question("Who wrote Hamlet?")) and draft.retrieve
    assert answers[0].risk == scorer.score_many([("Who wrote Hamlet?", "Charles Dickens")])[0].risk
    assert len(ticks) > 1
