"""The sorted-position helpers the query engine is built on, against plain Python."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quco.backends.sorted_positions import any_within, one_within


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(0, 2**32 - 1), max_size=30),
    lo=st.integers(0, 2**33),
    width=st.integers(0, 2**20),
    dtype=st.sampled_from([np.uint32, np.int64]),
)
def test_one_range_agrees_with_the_array_search(values, lo, width, dtype):
    positions = np.array(sorted(values), dtype=dtype)
    hi = lo + width
    expected = any(lo <= v <= hi for v in values)
    assert one_within(positions, lo, hi) is expected
    wide = any_within(positions, np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64))
    assert bool(wide[0]) is expected


def test_one_range_keeps_the_positions_type():
    positions = np.array([5, 10, 4_000_000_000], dtype=np.uint32)
    assert one_within(positions, 11, 3_999_999_999) is False
    assert one_within(positions, 3_999_999_999, 5_000_000_000) is True
    assert one_within(positions, 5_000_000_000, 6_000_000_000) is False  # beyond the type: nothing there
    assert one_within(np.array([], dtype=np.uint32), 0, 10) is False
