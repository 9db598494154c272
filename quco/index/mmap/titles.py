"""The memory-mapped index's title index: each segment's titled documents by the 64-bit key of their
title (``title_hash.npy``, sorted, and ``title_doc.npy``), so the documents titled with a name — the
corpus's article on a subject (``quco.decide.articles``) — are found by binary search."""

from __future__ import annotations

from pathlib import Path

from quco.backends.engine import word_hash
from quco.normalize import Normalizer


def title_key(normalizer: Normalizer, title: str | None) -> int:
    """The 64-bit key a title is found by: its normalised words, space-joined; 0 for no title."""
    words = normalizer.tokens(title) if title else []
    return word_hash(" ".join(words)) if words else 0


def write_title_index(seg: Path, hashes, docs) -> None:
    """``title_hash.npy`` (sorted keys of the titled documents) and ``title_doc.npy`` (their documents)."""
    import numpy as np

    keep = hashes != 0
    hashes, docs = hashes[keep], docs[keep]
    order = np.argsort(hashes, kind="stable")
    np.save(seg / "title_hash.npy", hashes[order].astype(np.uint64))
    np.save(seg / "title_doc.npy", docs[order].astype(np.uint32))


def titled(arrays, key: int) -> list[int]:
    """The documents (local numbers) whose title has ``key``, from a segment's mapped
    (``title_hash``, ``title_doc``); the caller confirms the titles themselves."""
    import numpy as np

    hashes, docs = arrays
    k = np.uint64(key)  # a Python int past 2**63 would be compared as a float
    lo, hi = int(hashes.searchsorted(k, side="left")), int(hashes.searchsorted(k, side="right"))
    return docs[lo:hi].tolist()
