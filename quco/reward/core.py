"""``Reward``: a corpus-grounded reward for RL fine-tuning, callable as a TRL reward function.

One call checks a whole batch: one extraction pass over every completion (``nlp.pipe``), one
backend batch for every distinct phrase and pair, answered through a count cache that the next
step's repeated prompts hit. The reward is computed from the detector's evidence
(``quco.reward.schemes``); ``details`` returns that evidence per sentence and claim.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from quco.backends.base import DEFAULT_WINDOW, CountBackend
from quco.backends.cached import CachedBackend
from quco.decide.detector import MAX_DRAFT_CHARS, Detector
from quco.decide.report import RiskReport
from quco.decide.trigger import Thresholds
from quco.errors import InvalidValue
from quco.extract import Extractor
from quco.reward.inputs import pairs_of
from quco.reward.results import BatchStats, ClaimReward, CompletionReward, SentenceReward
from quco.reward.schemes import CorverBins, Scoring, check_scheme, claim_score, is_pronoun
from quco.reward.values import values


class Reward:
    """A reward function over a corpus index.

    ``backend``: any ``CountBackend`` (``quco.open_backend(path)``, sharded, HTTP...);
    ``scheme``: ``"evidence"`` (default) or ``"corver"``; ``unknown``: ``"neutral"`` (default) or
    ``"penalize"``; ``cache``: entries of the count cache (0: none); ``bridges``: multi-hop support
    for claims silent near the prompt's entities (``Thresholds.bridges``: unset, where the prompt
    describes a chain; True, for every prompt; False, never; docs/reward.md gives its cost and effect).

        reward = Reward(quco.open_backend("wiki.qidx"))
        GRPOTrainer(..., reward_funcs=[reward])          # TRL
        reward(prompts=[...], completions=[...])         # -> list[float], one per completion
    """

    __name__ = "quco_reward"  # trainers name a reward function by it (logs, metrics)

    def __init__(self, backend: CountBackend, extractor: Extractor | None = None, thresholds: Thresholds | None = None,
                 *, scheme: str = "evidence", unknown: str = "neutral", window: int | None = None,
                 corver_bins: CorverBins | None = None, cache: int = 200_000, workers: int = 1, bridges: bool | None = None):
        check_scheme(scheme, unknown)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidValue(f"workers must be a positive number of processes, not {workers!r}")
        if cache and not isinstance(backend, CachedBackend):
            backend = CachedBackend(backend, cache)
        thresholds = thresholds if thresholds is not None else Thresholds()
        # The evidence scheme reads the evidence model's claims; CorVer reads the paper's (head, tail) pairs.
        thresholds = replace(thresholds, mode="evidence" if scheme == "evidence" else "quco",
                             bridges=thresholds.bridges if bridges is None else bridges)
        # A runaway sample is cut at the draft's character limit, which bounds its sentences too:
        # a trainer's batch never fails on a sentence count.
        self.detector = Detector(backend, extractor, thresholds, window=DEFAULT_WINDOW if window is None else window,
                                 max_draft_sentences=MAX_DRAFT_CHARS)
        self.scoring = Scoring(scheme, unknown, corver_bins if corver_bins is not None else CorverBins())
        self.last_stats: BatchStats | None = None
        self.workers = workers
        self._pool: Any = None  # worker processes, started on the first batch large enough to share

    @property
    def scheme(self) -> str:
        return self.scoring.scheme

    @property
    def unknown(self) -> str:
        return self.scoring.unknown

    @property
    def bins(self) -> CorverBins:
        return self.scoring.bins

    def close(self) -> None:
        """Stop the worker processes (if any); the reward stays usable (in this process)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __reduce__(self):
        # A copy in one process: no workers of its own.
        return _rebuild, (self.detector.backend, self.detector.extractor, self.detector.thresholds, self.scheme,
                          self.unknown, self.detector.window, self.bins)

    # -- the trainer's entry points -----------------------------------------------------------
    def __call__(self, prompts: Sequence | None = None, completions: Sequence = (), **kwargs) -> list[float]:
        """TRL's reward-function signature: one float per completion. Extra keyword arguments
        (dataset columns, ``completion_ids``, ``trainer_state``...) are accepted and ignored, except
        ``log_metric``, which receives this batch's ``quco/*`` figures when the trainer passes it.
        The numbers are those of ``details``, computed without its per-claim records."""
        if self.detector.thresholds.unknown_policy == "error":  # the reports raise on an unknown count
            rewards = [r.reward for r in self.details(prompts, completions)]
        else:
            rewards = self._values(prompts, completions)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and self.last_stats is not None:
            for name, value in self.last_stats.metrics().items():
                log_metric(name, value)
        return rewards

    def details(self, prompts: Sequence | None, completions: Sequence) -> list[CompletionReward]:
        """Per completion: the reward, and per sentence its claims, counts and evidence."""
        t0 = time.perf_counter()
        items, status, todo = self._inputs(prompts, completions)
        out: list[CompletionReward] = [CompletionReward(0.0, self.scheme, "invalid", index=self.detector.backend.identity)
                                       for _ in items]
        for i, result in zip(todo, self._rewarded([items[i] for i in todo], [status[i] for i in todo], False)):
            out[i] = result
        self.last_stats = BatchStats(len(items), sum(len(r.sentences) for r in out), sum(r.checked for r in out),
                                     sum(r.unknown for r in out), status.count("truncated"), status.count("invalid"),
                                     time.perf_counter() - t0)
        return out

    # -- internals ----------------------------------------------------------------------------
    def _inputs(self, prompts, completions) -> tuple[list, list[str], list[int]]:
        """(question/draft pairs, their status, the indexes of those to check)."""
        det = self.detector
        _freeze_once(det.extractor)
        items, status = pairs_of(prompts, completions, max_question=det.max_question_chars, max_draft=det.max_draft_chars)
        return items, status, [i for i, item in enumerate(items) if item is not None]

    def _values(self, prompts, completions) -> list[float]:
        """``__call__``'s numbers: as ``details`` (an invalid completion: 0), without its records."""
        t0 = time.perf_counter()
        items, status, todo = self._inputs(prompts, completions)
        rewards = [0.0] * len(items)
        scored = self._rewarded([items[i] for i in todo], [status[i] for i in todo], True)
        for i, v in zip(todo, scored):
            rewards[i] = v.reward
        self.last_stats = BatchStats(len(items), sum(v.sentences for v in scored), sum(v.checked for v in scored),
                                     sum(v.unknown for v in scored), status.count("truncated"), status.count("invalid"),
                                     time.perf_counter() - t0)
        return rewards

    def _rewarded(self, items: list, status: list, lean: bool) -> list:
        """The valid items' rewards — ``CompletionReward``s, or ``Value``s when ``lean`` — in this
        process, or split across the worker processes when there are enough items to share (each
        worker checks a contiguous part as one batch)."""
        if self.workers == 1 or len(items) < MIN_SHARED * self.workers:
            if not items:
                return []
            batch = self.detector.gather(items)
            if lean:
                return values(batch, self.scoring)
            return [self._completion(r, s or (), st) for (r, s), st in zip(self.detector.reports(batch), status)]
        if self._pool is None:
            import multiprocessing
            import pickle
            from concurrent.futures import ProcessPoolExecutor

            # Forked (a trainer's script need not guard its main module), but the reward is sent as
            # its configuration: each worker reopens the index and loads the pipeline once, sharing
            # no connection or thread with this process.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_init_worker, initargs=(pickle.dumps(self),))
        size = -(-len(items) // self.workers)
        parts = [(items[k:k + size], status[k:k + size], lean) for k in range(0, len(items), size)]
        return [r for part in self._pool.map(_in_worker, parts) for r in part]

    def _completion(self, report: RiskReport, sentences: Sequence, status: str) -> CompletionReward:
        by_sentence: dict[int, list] = {}
        for p in report.pairs:
            by_sentence.setdefault(p.sentence, []).append(p)
        rows = [self._sentence(s, by_sentence.get(s.index, [])) for s in sentences]
        value = self.scoring.completion([r.reward for r in rows], [r.text for r in rows])
        return CompletionReward(
            reward=round(value, 6), scheme=self.scheme, status=status, sentences=tuple(rows),
            checked=sum(r.reward is not None for r in rows), unknown=sum(r.unknown for r in rows),
            approx=report.approx, index=report.index, corpus_tokens=report.corpus_tokens, question=report.question,
        )

    def _sentence(self, sentence, pairs: list) -> SentenceReward:
        if self.scheme == "corver":  # the first pair whose ends are not pronouns, as CorVer's reward takes it
            pairs = [p for p in pairs if not (is_pronoun(p.head) or is_pronoun(p.tail))][:1]
        else:  # a sentence with no anchor the corpus knows is about what it cannot vouch for: neutral
            pairs = [p for p in pairs if p.head_count is not None or p.error is not None]
        claims = tuple(self._claim(p) for p in pairs)
        unknown = sum(c.error is not None for c in claims)
        scores = [c.score for c in claims]
        if self.scheme == "corver":
            value = scores[0] if scores else None
        else:
            value = min(scores) if scores else None
        return SentenceReward(sentence.index, sentence.text, sentence.start, value, claims, unknown)

    def _claim(self, p) -> ClaimReward:
        unknown = p.error is not None or p.cooccur is None and self.scheme == "corver"
        if unknown:
            score = self.scoring.unknown_score()
        elif self.scheme == "corver":
            score = self.bins(p.cooccur)
        else:
            score = claim_score(p.risk)
        return ClaimReward(p.head, p.relation, p.tail, p.cooccur, p.window, p.head_count, p.tail_count, p.expected,
                           p.association, None if unknown else p.risk, round(score, 6), p.approx,
                           p.error or ("unknown" if unknown else None))


_FROZEN: list[bool] = []


def _freeze_once(extractor: Extractor) -> None:
    """Once per process, after the pipeline is loaded: move every object alive then (the pipeline's
    vocabulary and tables, the trainer's model) out of the cyclic collector's generations, so the
    collections a batch's short-lived objects trigger stop re-scanning them (~10-20% of a rule
    extractor batch). Only cycles among those objects are never collected; refcounting still
    frees everything else. Python's ``gc.freeze`` is meant for exactly such long-lived state."""
    if not _FROZEN:
        import gc

        extractor.nlp  # noqa: B018 - loaded first, so its objects are among the frozen
        gc.freeze()
        _FROZEN.append(True)


MIN_SHARED = 64  # items per worker below which a batch is checked in this process
_WORKER: dict = {}


def _init_worker(blob: bytes) -> None:
    import pickle

    _WORKER["reward"] = pickle.loads(blob)


def _in_worker(part: tuple[list, list, bool]) -> list:
    return _WORKER["reward"]._rewarded(*part)


def _rebuild(backend, extractor, thresholds, scheme, unknown, window, bins):
    return Reward(backend, extractor, thresholds, scheme=scheme, unknown=unknown, window=window, corver_bins=bins)
