"""Phrase counts and window co-occurrences over positional segments, within a work budget.

Shared by every positional index: the memory-mapped index (many segments on disk) and the DuckDB
index (one segment in memory). A *segment* is a range of whole documents with its own word ids:

  ``word_ids(tokens, raws, hashes, h_list)``
                           each token's word id in the segment, or -1 (``raws``: UTF-8 bytes,
                           ``hashes``/``h_list``: their 64-bit ``word_hash`` as a uint64 array and
                           as ints, for segments that look words up by hash; a segment with
                           ``by_hash = False`` gets None for the three)
  ``cnt[w]``               occurrences of word ``w``
  ``postings(w)``          its positions, ascending (uint32)
  ``doc_bounds(pos)``      the first and the last position (int64) of the document holding
                           each of ``pos`` (int64)
  ``stream``               the forward index (the word id at each position, a non-word between
                           documents), or None: with it a phrase is verified with one read per
                           word, without it by a binary search in each word's postings

**Work budget.** Each query examines at most ``budget`` positions across all segments. Below it
every answer is exact. Above it:

* ``count`` of a phrase whose rarest word has more candidate positions than the budget is
  estimated from an evenly spaced sample of those candidates (each verified exactly):
  ``candidates × hits / sample``, flagged ``approx=True``. A single word is always exact (its
  count is stored).
* ``cooccur(a, b)`` is exact when either side can be enumerated within the budget (from ``a``'s
  occurrences, or from ``b``'s windows when ``a`` is the frequent one or merely the more frequent
  one); only when both are frequent is it estimated from a sample of ``a``'s occurrences, flagged
  ``approx=True``. A frequent phrase's candidates near the other side are verified before any
  document is looked up: most pairs asked for never co-occur, and then no document is.
* An estimate never says 0: a sample with no hit cannot tell "rare" from "absent", so the query
  is then settled exactly when that costs at most ``zero_check`` budgets (the count's candidates,
  or one side of the co-occurrence), and otherwise it raises ``WorkBudgetExceeded`` — an unknown count, which the
  detector treats as risky. A reported 0 is always exact. Two frequent phrases are first probed
  with a sample a tenth the size: with no hit they go straight to that exact check (most pairs a
  batch asks for never co-occur), so a pair the probe misses and the full sample would have
  found gets its exact count rather than an estimate, for at most the same ``zero_check`` budgets.

Positions are compared as ``uint32`` (the postings' own type), so NumPy never copies a
postings list to widen it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Count, check_window
from quco.backends.sorted_positions import ArrayCache, any_within, in_ranges, merged, one_within, spaced
from quco.errors import BackendError, QueryError
from quco.normalize import Normalizer

DEFAULT_BUDGET = 5_000
ZERO_CHECK = 20  # a count whose sample has no hit is settled exactly up to this many budgets
_MAX_PHRASE_TOKENS = 256
# Postings this short are verified position by position: about 0.3 µs a position in Python against
# about 7.5 µs for the vectorised check, whatever the length (measured on this project's machine).
_SMALL = 16
_PROBE = 10  # a pair of frequent phrases is first probed with a sample this many times smaller
_PLANS = 65_536  # phrases whose plan is kept (a few hundred bytes each)


def word_hash(word: str) -> int:
    """64-bit hash of a normalised word (the same function at build and query time)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class WorkBudgetExceeded(BackendError):
    """Too frequent to answer within the work budget, and a sample found no occurrence: unknown."""


def check_budget(budget) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 100:
        raise QueryError(f"the work budget must be at least 100 positions, not {budget!r}")
    return budget


class BudgetedQueries:
    """Mixin: ``count_many``/``cooccur_many`` over ``self.segments`` (see the module docstring).
    The host sets ``segments``, ``normalizer``, ``budget``, ``zero_check`` (and ``vocabulary``, when
    its segments share one) and calls ``_init_queries``."""

    vocabulary: Any = None  # a quco.index.mmap.vocab.SharedVocabulary over ``segments``, or None
    segments: Sequence[Any]  # set by the host: objects with the segment interface (see the module docstring)
    normalizer: Normalizer
    budget: int
    zero_check: int

    def _init_queries(self) -> None:
        import numpy as np

        self._np = np
        self._by_hash = any(getattr(seg, "by_hash", True) for seg in self.segments)
        self._hashes: OrderedDict[str, tuple] = OrderedDict()
        self._phrases = ArrayCache()  # (segment, word ids) -> the phrase's start positions
        self._bounds = ArrayCache()  # (segment, word ids[, sample size]) -> its positions' document bounds
        self._by_phrase: OrderedDict[str, dict] = OrderedDict()  # phrase -> its plan by segment (``_segment_plan``)
        self._batch: dict = {}  # the last batch's answers (``_answered``)
        self.cache_hits = self.cache_misses = 0

    # -- lookups ------------------------------------------------------------------------------------
    def _tokens(self, phrase: str) -> tuple[str, ...]:
        if not isinstance(phrase, str):
            raise QueryError(f"phrase must be a string, not {type(phrase).__name__}")
        toks = tuple(self.normalizer.tokens(phrase))
        if not toks:
            raise QueryError(f"phrase {phrase!r} has no word tokens after normalisation")
        if len(toks) > _MAX_PHRASE_TOKENS:
            raise QueryError(f"phrase has {len(toks)} tokens; at most {_MAX_PHRASE_TOKENS} are supported")
        return toks

    def _word_ids(self, toks) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Each token's (word id, count) in every segment (-1 and 0 where absent); cached. The
        tokens not yet cached are looked up together: one search of the shared vocabulary when the
        host has one (``self.vocabulary``, see ``quco.index.mmap.vocab``), else one search per segment.
        That per-segment cost is what a sharded index pays once per shard."""
        cache = self._hashes
        missing = [t for t in dict.fromkeys(toks) if t not in cache]
        if missing:
            raws = hs = h_list = None  # segments with a word dictionary (the DuckDB index) need no hash
            if self._by_hash:
                raws = [t.encode("utf-8") for t in missing]
                h_list = [word_hash(t) for t in missing]
                hs = self._np.array(h_list, dtype=self._np.uint64)
            if self.vocabulary is not None:
                found = self.vocabulary.lookup(missing, raws, hs, h_list)
            else:
                per_seg = [seg.word_ids(missing, raws, hs, h_list) for seg in self.segments]
                cnts = [[int(seg.cnt[w]) if w >= 0 else 0 for w in ids] for seg, ids in zip(self.segments, per_seg)]
                found = zip(zip(*per_seg), zip(*cnts))
            for t, entry in zip(missing, found):
                cache[t] = entry
            while len(cache) > 65_536:
                cache.popitem(last=False)
        return [cache[t] for t in toks]

    def _plan(self, toks) -> list[tuple]:
        """Per segment holding every word: (segment index, word ids, offset of the rarest word, its count)."""
        per_token = self._word_ids(toks)
        if len(per_token) == 1:
            ids, cnts = per_token[0]
            return [(s, (w,), 0, cnts[s]) for s, w in enumerate(ids) if w >= 0]
        plan = []
        for s, (ids, cnts) in enumerate(zip(zip(*[p[0] for p in per_token]), zip(*[p[1] for p in per_token]))):
            if min(ids) >= 0:
                n = min(cnts)
                plan.append((s, ids, cnts.index(n), n))
        return plan

    def _segment_plan(self, phrase: str) -> dict[int, tuple]:
        """``_plan`` of the phrase's tokens keyed by segment; cached by phrase (a co-occurrence
        batch pairs one anchor with many claims, and each claim with several anchors)."""
        found = self._by_phrase.get(phrase)
        if found is None:
            found = self._by_phrase[phrase] = {p[0]: p for p in self._plan(self._tokens(phrase))}
            if len(self._by_phrase) > _PLANS:
                self._by_phrase.popitem(last=False)
        return found

    # -- phrase positions ---------------------------------------------------------------------------
    def _verify(self, seg, ids, starts, skip: int | None = None):
        """Mask of ``starts`` (int64 phrase start positions) at which the whole phrase occurs;
        word ``skip`` is known to be in place already (the candidates came from its postings)."""
        np = self._np
        ok = starts >= 0
        base = np.where(ok, starts, 0)
        stream = seg.stream
        if stream is not None:
            last = len(stream) - 1  # the gap after the last document: never a word
            for j, w in enumerate(ids):
                if j != skip:
                    ok &= stream[np.minimum(base + j, last)] == w
            return ok
        for j, w in enumerate(ids):
            if j == skip:
                continue
            post = seg.postings(w)
            if not len(post):
                return np.zeros(len(starts), dtype=bool)
            target = (base + j).astype(np.uint32)
            idx = post.searchsorted(target)
            np.minimum(idx, len(post) - 1, out=idx)
            ok &= post[idx] == target
        return ok

    def _phrase_starts(self, s: int, ids, j0: int):
        """All start positions of the phrase in segment ``s`` (int64); call only within budget."""
        key = (s, ids)
        hit = self._phrases.get(key)
        if hit is not None:
            self.cache_hits += 1
            return hit
        self.cache_misses += 1
        seg = self.segments[s]
        post = seg.postings(ids[j0])
        if len(post) <= _SMALL and seg.stream is not None:
            # A rare word (most entities): reading a few positions' words costs less than the dozen
            # NumPy calls of the vectorised check, and that per-segment cost is what a sharded
            # index pays once per shard.
            stream, n, want = seg.stream, len(ids), list(ids)
            found = [p - j0 for p in post.tolist() if p >= j0 and stream[p - j0: p - j0 + n].tolist() == want]
            starts = self._np.array(found, dtype=self._np.int64)
        else:
            starts = post.astype(self._np.int64) - j0
            if len(ids) > 1:
                starts = starts[self._verify(seg, ids, starts, skip=j0)]
        if len(starts) <= self.budget:  # bounded memory: at most a budget each, and in all (``ArrayCache``)
            self._phrases.put(key, starts, len(starts))
        return starts

    def _sample(self, s: int, ids, j0: int, k: int):
        """``k`` evenly spaced candidates of the rarest word, verified: (true starts, candidates examined)."""
        np = self._np
        seg = self.segments[s]
        post = seg.postings(ids[j0])
        k = max(1, min(k, len(post)))
        idx = spaced(0, len(post), k)
        starts = post[idx].astype(np.int64) - j0
        return (starts[self._verify(seg, ids, starts, skip=j0)] if len(ids) > 1 else starts), len(idx)

    # -- counts -------------------------------------------------------------------------------------
    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        return self._answered([(p,) for p in phrases], self._count)

    def _answered(self, items: list, answer: Callable) -> list:
        """``answer(*item)`` for each item. A batch with one item beyond the work budget fails as a
        whole, and its caller asks again item by item (``answer_each``) for the others' answers: the
        answers of the last batch of several items (and its verdicts of "beyond the budget") are kept
        for those single-item calls, which then cost a lookup instead of the batch's work again."""
        if len(items) > 1:
            self._batch = batch = {}
        else:
            batch = self._batch
        out = []
        for item in items:
            key = (answer.__name__, *item)
            hit = batch.get(key)
            if hit is None:
                try:
                    hit = answer(*item)
                except WorkBudgetExceeded as exc:
                    hit = exc
                batch[key] = hit
            if isinstance(hit, WorkBudgetExceeded):
                raise WorkBudgetExceeded(str(hit))
            out.append(hit)
        return out

    def _count(self, phrase: str) -> Count:
        toks = self._tokens(phrase)
        plan = self._plan(toks)
        if len(toks) == 1:
            return Count(phrase, sum(n for *_, n in plan), False)
        total = sum(n for *_, n in plan)
        if total <= self.budget:
            return Count(phrase, sum(len(self._phrase_starts(s, ids, j0)) for s, ids, j0, _ in plan), False)
        estimate, hits = 0.0, 0
        for s, ids, j0, n in plan:
            found, examined = self._sample(s, ids, j0, round(self.budget * n / total))
            hits += len(found)
            estimate += n * len(found) / examined
        if not hits and total <= self.zero_check * self.budget:
            # No hit in the sample: the phrase is rare or absent, and that difference matters most.
            # Settle it exactly when that costs at most ``zero_check`` budgets.
            return Count(phrase, sum(len(self._phrase_starts(s, ids, j0)) for s, ids, j0, _ in plan), False)
        if not hits:
            raise WorkBudgetExceeded(f"{phrase!r}: {total:,} candidate positions exceed the work budget "
                                     f"({self.budget:,}) and a sample found no occurrence")
        return Count(phrase, max(1, round(estimate)), True)

    # -- co-occurrence ------------------------------------------------------------------------------
    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        window = check_window(window)
        return self._answered([(a, b, window) for a, b in pairs], self._cooccur)

    def _cooccur(self, a: str, b: str, window: int, budget: int | None = None) -> Cooccurrence:
        budget = budget or self.budget
        plan_a, plan_b = self._segment_plan(a), self._segment_plan(b)
        shared = sorted(set(plan_a) & set(plan_b))  # both must occur in a segment to co-occur there
        n_a = sum(plan_a[s][3] for s in shared)
        n_b = sum(plan_b[s][3] for s in shared)
        if (budget == self.budget and min(n_a, n_b) > budget and min(n_a, n_b) <= self.zero_check * budget
                and not self._probe(plan_a, plan_b, shared, n_a, n_b, window, budget)):
            # Both frequent and a probe finds them apart: most such pairs never co-occur (a batch's claims
            # against its anchors), and the full sample would only lead to the exact check.
            return self._cooccur(a, b, window, self.zero_check * budget)
        total, approx, hits = 0.0, False, 0
        for s in shared:
            _, ids_a, j0a, ca = plan_a[s]
            _, ids_b, j0b, cb = plan_b[s]
            if n_a <= budget and (cb >= ca or n_b > budget):  # each occurrence of a tested for b nearby
                pa = self._phrase_starts(s, ids_a, j0a)
                mask, scale, exact = self._b_near(s, ids_b, j0b, cb, n_b, pa, window, budget, key=(s, ids_a))
            elif n_b <= budget:  # a is the frequent (or the more frequent) one: count it inside b's windows
                pa = self._phrase_starts(s, ids_a, j0a) if n_a <= budget else None
                found, exact, scale = self._a_in_b_windows(s, ids_a, j0a, ids_b, j0b, window, budget, pa)
                total += found * scale
                hits += found
                approx |= not exact
                continue
            else:  # both frequent: a sample of a's occurrences (the same sample for the same size)
                mask, scale, examined = self._sample_near(s, ids_a, j0a, ids_b, j0b, cb, n_b, round(budget * ca / n_a),
                                                          window, budget)
                scale *= ca / examined
                exact = False
            found = int(self._np.count_nonzero(mask))
            hits += found
            total += found * scale
            approx |= not exact
        if approx and not hits:
            if budget == self.budget and min(n_a, n_b) <= self.zero_check * budget:
                # No hit in the sample: rare or absent, the difference that matters. Settle it
                # exactly when one side can be enumerated within zero_check budgets.
                return self._cooccur(a, b, window, self.zero_check * budget)
            raise WorkBudgetExceeded(f"{a!r} near {b!r}: both are too frequent for the work budget "
                                     f"({budget:,}) and a sample found no co-occurrence")
        return Cooccurrence(a, b, max(1, round(total)) if approx else int(total), window, approx)

    def _probe(self, plan_a, plan_b, shared, n_a, n_b, window, budget) -> bool:
        """Does a sample of a's occurrences a tenth the size of the full one find b nearby?"""
        for s in shared:
            _, ids_a, j0a, ca = plan_a[s]
            _, ids_b, j0b, cb = plan_b[s]
            k = max(1, round(budget * ca / n_a / _PROBE))
            if self._sample_near(s, ids_a, j0a, ids_b, j0b, cb, n_b, k, window, budget)[0].any():
                return True
        return False

    def _sample_near(self, s, ids_a, j0a, ids_b, j0b, cb, n_b, k, window, budget):
        """``k`` evenly spaced occurrences of a, each tested for b nearby: (mask, scale within the
        sample, a's candidates examined)."""
        pa, examined = self._sample(s, ids_a, j0a, k)
        mask, scale, _ = self._b_near(s, ids_b, j0b, cb, n_b, pa, window, budget, key=(s, ids_a, k))
        return mask, scale, examined

    def _windows(self, seg, pos, window: int, key: tuple | None = None):
        """Each position's window, clipped to its document. ``key`` names the positions — a phrase's
        (segment, word ids), and its sample's size for a sample — whose document bounds are then
        kept: one anchor is paired with many claims, and finding a position's document is a
        search of every document's start (at 1B tokens, 13.5M of them)."""
        np = self._np
        bounds = None
        if key is not None:
            bounds = self._bounds.get(key)
        if bounds is None:
            bounds = seg.doc_bounds(pos)
            if key is not None and len(pos) <= self.budget:  # bounded memory, as the phrases' cache
                self._bounds.put(key, bounds, 2 * len(pos))
        first, last = bounds
        return np.maximum(pos - window, first), np.minimum(pos + window, last)

    def _b_near(self, s, ids_b, j0b, cb, n_b, pa, window, budget, key=None):
        """(mask over ``pa``: is there a b within the window, scale, exact); ``key``: see ``_windows``."""
        np = self._np
        seg = self.segments[s]
        if not len(pa):
            return np.zeros(0, dtype=bool), 1.0, True
        if len(ids_b) == 1 or n_b <= budget:
            pb = seg.postings(ids_b[0]) if len(ids_b) == 1 else self._phrase_starts(s, ids_b, j0b)
            return self._near(seg, pb, pa, window), 1.0, True
        # b is a frequent phrase: its candidates near a, verified, when they are few enough.
        post = seg.postings(ids_b[j0b])
        pb = self._verified_in(seg, ids_b, j0b, post, np.maximum(pa - window, 0), pa + window, budget)
        if pb is not None:
            return self._near(seg, pb, pa, window), 1.0, True
        # Too many: verify the candidates inside each window, for a subset of the windows.
        lo, hi = self._windows(seg, pa, window, key)
        i0 = np.searchsorted(post, (lo + j0b).astype(np.uint32), side="left")
        i1 = np.searchsorted(post, (hi + j0b).astype(np.uint32), side="right")
        c = i1 - i0
        keep = np.arange(len(pa))
        exact = True
        if c.sum() > 4 * budget:  # too many to verify: an evenly spaced subset of the windows
            k = max(1, int(len(pa) * 4 * budget / c.sum()))
            keep = spaced(0, len(pa), k)
            i0, c, exact = i0[keep], c[keep], False
        mask = np.zeros(len(keep), dtype=bool)
        nz = c > 0
        if nz.any():
            cc = c[nz]
            first = in_ranges(i0[nz], cc)
            ok = self._verify(seg, ids_b, post[first].astype(np.int64) - j0b, skip=j0b)
            mask[np.flatnonzero(nz)] = np.maximum.reduceat(ok, np.concatenate(([0], np.cumsum(cc)[:-1])))
        return mask, len(pa) / len(keep), exact

    def _near(self, seg, pb, pa, window):
        """For each of ``pa`` (sorted): is one of ``pb`` (sorted) within its window, in its document?
        Tested ignoring documents first: only the positions with one nearby need their document found
        (a search of every document's start), and most pairs asked for never co-occur."""
        np = self._np
        if len(pa) == 1:  # most anchors of a batch's pairs (a rare name): scalar searches
            p = int(pa[0])
            found = one_within(pb, max(p - window, 0), p + window)
            if found:
                lo, hi = self._windows(seg, pa, window)
                found = one_within(pb, int(lo[0]), int(hi[0]))
            return np.array([found])
        near = any_within(pb, np.maximum(pa - window, 0), pa + window)
        sub = np.flatnonzero(near)
        if len(sub):
            lo, hi = self._windows(seg, pa[sub], window)
            near[sub] = any_within(pb, lo, hi)
        return near

    def _verified_in(self, seg, ids, j0, post, lo, hi, budget):
        """The phrase's starts inside any of the ranges [lo, hi] (both ends non-decreasing), each
        once, ascending, verified; ``post``: its ``j0``-th word's postings. None when more than ``4 *
        budget`` candidates would need verifying."""
        np = self._np
        i0 = np.searchsorted(post, (lo + j0).astype(np.uint32), side="left")
        i1 = np.searchsorted(post, (hi + j0).astype(np.uint32), side="right")
        i0 = np.maximum(i0, np.concatenate(([0], i1[:-1])))  # each range starts where the last one ended
        c = np.maximum(i1 - i0, 0)
        total = int(c.sum())
        if total > 4 * budget:
            return None
        starts = post[in_ranges(i0, c)].astype(np.int64) - j0
        return starts[self._verify(seg, ids, starts, skip=j0)] if total else starts

    def _a_in_b_windows(self, s, ids_a, j0a, ids_b, j0b, window, budget, pa=None):
        """Occurrences of a within ``window`` of some b (enumerable): (found, exact, scale). ``pa``: a's
        starts when they are enumerable; else a's candidates near b are verified, or a sample of them."""
        np = self._np
        seg = self.segments[s]
        pb = self._phrase_starts(s, ids_b, j0b)
        if not len(pb):
            return 0, True, 1.0
        post = seg.postings(ids_a[j0a])
        if pa is None:
            pa = post if len(ids_a) == 1 else self._verified_in(
                seg, ids_a, j0a, post, np.maximum(pb - window, 0), pb + window, budget)
        if pa is not None:
            return self._count_near(seg, pa, pb, window), True, 1.0
        # Too many of a's candidates near b, documents ignored: those inside b's documents, every one
        # verified if they are few enough, else an evenly spaced sample of them.
        pb = pb[any_within(post, np.maximum(pb - window, 0) + j0a, pb + window + j0a)]
        if not len(pb):
            return 0, True, 1.0
        lo, hi = merged(*self._windows(seg, pb, window))
        i0 = np.searchsorted(post, (lo + j0a).astype(np.uint32), side="left")
        c = np.searchsorted(post, (hi + j0a).astype(np.uint32), side="right") - i0
        cand = in_ranges(i0, c)
        if not len(cand):
            return 0, True, 1.0
        exact = len(cand) <= 4 * budget
        sample = cand if exact else cand[spaced(0, len(cand), 4 * budget)]
        ok = self._verify(seg, ids_a, post[sample].astype(np.int64) - j0a, skip=j0a)
        return int(ok.sum()), exact, len(cand) / len(sample)

    def _count_near(self, seg, pa, pb, window) -> int:
        """How many of ``pa`` (sorted) have one of ``pb`` (sorted) within the window, in their document:
        only b's occurrences with an a nearby, documents ignored, have their documents found."""
        np = self._np
        if len(pb) == 1:  # most claims of a batch's pairs (a rare name): a scalar search
            q = int(pb[0])
            if not one_within(pa, max(q - window, 0), q + window):
                return 0
        else:
            pb = pb[any_within(pa, np.maximum(pb - window, 0), pb + window)]
            if not len(pb):
                return 0
        lo, hi = merged(*self._windows(seg, pb, window))  # b's windows stay inside documents
        dtype = pa.dtype  # searched in a's own type: NumPy would otherwise widen a whole postings list
        return int((pa.searchsorted(hi.astype(dtype), side="right") - pa.searchsorted(lo.astype(dtype))).sum())

    def clear_caches(self) -> None:
        self._batch = {}
        self._by_phrase.clear()
        self._phrases.clear()
        self._bounds.clear()
        self._hashes.clear()
