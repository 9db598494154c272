"""Sorted position arrays (NumPy): evenly spaced samples, "is one of them in this range",
merged ranges, and a cache of such arrays bounded by the positions it holds. The budgeted query
engine (``engine.py``) is built on them."""

from __future__ import annotations

from collections import OrderedDict

_CACHE = 65_536  # entries of a positions cache (``ArrayCache``) ...
_CACHE_POSITIONS = 1 << 21  # ... and the positions they hold in all: 16 MB of int64 each


def spaced(lo: int, hi: int, k: int):
    """About ``k`` distinct, evenly spaced integers in ``[lo, hi)``, ascending (int64). Sorted
    already, so duplicates are dropped by a neighbour comparison (``np.unique`` hashes: slower)."""
    import numpy as np

    idx = np.linspace(lo, hi - 1, max(1, k)).astype(np.int64)
    return idx[np.concatenate(([True], idx[1:] != idx[:-1]))]


_TOPS: dict = {}  # dtype -> its largest value


def any_within(sorted_positions, lo, hi):
    """For each [lo, hi] (int64, inclusive): does ``sorted_positions`` hold a value in it? Yes when
    the first value at or after ``lo`` is at most ``hi``: one search per range. Searched in the
    positions' own type (bounds clipped to it), so NumPy never widens a postings list."""
    import numpy as np

    n = len(sorted_positions)
    if not n:
        return np.zeros(len(lo), dtype=bool)
    dtype = sorted_positions.dtype
    top = _TOPS.get(dtype)
    if top is None:
        top = _TOPS[dtype] = int(np.iinfo(dtype).max)
    i0 = np.searchsorted(sorted_positions, np.minimum(lo, top).astype(dtype), side="left")
    np.minimum(i0, n - 1, out=i0)  # past the end: the last value, which is below lo
    first = sorted_positions[i0]
    return (first >= lo) & (first <= hi)


def one_within(sorted_positions, lo: int, hi: int) -> bool:
    """``any_within`` for one range [lo, hi] (``lo`` >= 0): a scalar search, for the many lookups
    whose rare side occurs once, where the array calls' fixed costs are most of the work. Searched
    in the positions' own type, as ``any_within``."""
    n = len(sorted_positions)
    dtype = sorted_positions.dtype
    top = _TOPS.get(dtype)
    if top is None:
        import numpy as np

        top = _TOPS[dtype] = int(np.iinfo(dtype).max)
    if not n or lo > top:
        return False
    i = int(sorted_positions.searchsorted(dtype.type(lo)))
    return i < n and int(sorted_positions[i]) <= hi


def in_ranges(starts, lengths):
    """The integers of the ranges ``[start, start + length)``, one range after another (int64):
    the indices of the postings that searches found between two bounds."""
    import numpy as np

    total = int(lengths.sum())
    return np.repeat(starts, lengths) + (np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths))


def merged(lo, hi):
    """Overlapping ranges [lo, hi] (both ends non-decreasing) merged: (lo, hi) of the merged ones."""
    import numpy as np

    run_hi = np.maximum.accumulate(hi)
    starts = np.flatnonzero(np.concatenate(([True], lo[1:] > run_hi[:-1])))
    return lo[starts], np.maximum.reduceat(hi, starts)


class ArrayCache:
    """A least-recently-used cache of NumPy arrays bounded by its entries and by the positions they
    hold in all: a batch pairs one anchor with hundreds of claims and each claim with several
    anchors, so a phrase's positions are asked for again well after a few hundred others."""

    def __init__(self, entries: int = _CACHE, positions: int = _CACHE_POSITIONS):
        self._items: OrderedDict[tuple, tuple] = OrderedDict()  # key -> (value, size)
        self._entries, self._limit, self._held = entries, positions, 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key):
        hit = self._items.get(key)
        if hit is None:
            return None
        self._items.move_to_end(key)
        return hit[0]

    def put(self, key, value, size: int) -> None:
        old = self._items.pop(key, None)
        self._held += size - (old[1] if old is not None else 0)
        self._items[key] = (value, size)
        while len(self._items) > self._entries or self._held > self._limit:
            try:
                _, (_, dropped) = self._items.popitem(last=False)
            except KeyError:  # emptied by another thread sharing the backend
                self._held = 0
                break
            self._held -= dropped

    def clear(self) -> None:
        self._items.clear()
        self._held = 0
