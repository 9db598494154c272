"""Querying the segmented, memory-mapped index (the query engine is ``quco.backends.engine``).

Opening maps the segment arrays (``np.load(mmap_mode="r")``): nothing is read until a query
touches it, open time does not grow with the corpus, and every process serving the same index
shares one copy in the OS page cache. A word is found by binary search over the segment's sorted
64-bit word hashes, confirmed against the stored word bytes. Counts and co-occurrences are exact
below the work budget and flagged estimates above it (see ``quco.backends.engine``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from quco.backends.base import Corpus, CountBackend, require_normalizer
from quco.errors import IndexOpenError, IndexSettingsError
from quco.normalize import Normalizer
from quco.backends.engine import DEFAULT_BUDGET, ZERO_CHECK, BudgetedQueries, WorkBudgetExceeded, check_budget
from quco.index.mmap.build import read_manifest

__all__ = ["MmapIndex", "WorkBudgetExceeded", "DEFAULT_BUDGET"]

log = logging.getLogger("quco.index")


class _Segment:
    def __init__(self, root: Path, entry: dict):
        import numpy as np

        d = root / entry["name"]
        try:
            # Plain ndarray views of the maps: np.memmap's subclass hooks cost microseconds per call.
            load = lambda n: np.load(d / n, mmap_mode="r").view(np.ndarray)  # noqa: E731
            self.hash, self.cnt, self.off = load("hash.npy"), load("cnt.npy"), load("off.npy")
            self.post, self.word_off = load("postings.npy"), load("word_off.npy")
            self.stream = load("stream.npy")
            self.words = _map_bytes(d / "words.bin")
            # Mapped like the rest (54 MB each at 1B tokens): reading them would cost open time and memory.
            self.doc_start, self.doc_len = load("doc_start.npy"), load("doc_len.npy")
        except (OSError, ValueError) as exc:
            raise IndexOpenError(f"{d}: a segment is missing or damaged ({exc}); rebuild with `quco index build`") from None
        if len(self.post) != entry["tokens"] or len(self.doc_start) != entry["documents"] or \
                len(self.hash) != len(self.cnt) or len(self.word_off) != len(self.hash) + 1 or \
                len(self.stream) != entry["tokens"] + entry["documents"]:
            raise IndexOpenError(f"{d}: segment sizes disagree with the manifest; rebuild with `quco index build`")
        self.path = d
        self.np = np

    def word_ids(self, tokens, raws, hs, h_list) -> list[int]:
        """Each token's word id in this segment, or -1, with one search of the sorted hashes (``hs``:
        the tokens' hashes as a uint64 array, ``h_list`` the same as ints); the stored bytes settle
        a hash collision."""
        hashes, word_off, words = self.hash, self.word_off, self.words
        n = len(hashes)
        out = []
        for i, h, raw in zip(hashes.searchsorted(hs).tolist(), h_list, raws):
            if i < n and hashes[i] == h and words[word_off[i]: word_off[i + 1]] == raw:
                out.append(i)
            else:
                out.append(-1)
        return out

    def doc_bounds(self, pos):
        """(first, last) position of the document holding each of ``pos`` (int64 arrays)."""
        np = self.np
        # Search with uint32 keys: mixed types would make NumPy convert the whole mapped array.
        doc = self.doc_start.searchsorted(pos.astype(np.uint32), side="right") - 1
        first = self.doc_start[doc].astype(np.int64)
        return first, first + self.doc_len[doc].astype(np.int64) - 1

    def postings(self, w: int):
        o = int(self.off[w])
        return self.post[o: o + int(self.cnt[w])]


def _open_vocabulary(root: Path, segments, manifests):
    """The shared vocabulary at ``root``, or None (with a warning) when it cannot serve these segments."""
    from quco.index.mmap.vocab import SharedVocabulary, StaleVocabulary

    try:
        return SharedVocabulary(root, segments, manifests)
    except StaleVocabulary as exc:
        log.warning("%s: the shared vocabulary is not used: %s. Answers are the same, each new word costs "
                    "one search per shard; `quco index vocab %s` rewrites it", root, exc, root)
        return None


def _map_bytes(path: Path):
    """The file as a read-only ``mmap`` (slices are ``bytes``), or b"" when it is empty."""
    import mmap

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        return mmap.mmap(fh.fileno(), size, prot=mmap.PROT_READ) if size else b""


class MmapIndex(BudgetedQueries, CountBackend):
    """Exact (below the work budget) phrase and window co-occurrence counts over a segmented index."""

    name = "mmap"

    def __init__(self, path: str | os.PathLike, *, require: Normalizer | None = None, budget: int = DEFAULT_BUDGET,
                 zero_check: int = ZERO_CHECK, more: Sequence[str | os.PathLike] = (), identity: str | None = None,
                 vocabulary: str | os.PathLike | None = None):
        """``more``: further indexes of the same corpus's other documents (the shards of a sharded
        index), answered together: one engine over all their segments, so a query normalises and
        hashes its words once however many shards there are. ``vocabulary``: the directory holding
        their shared vocabulary (``quco.index.mmap.vocab``), so a word is found in all of them with one
        search; when it is missing or describes other segments the index answers without it."""
        self.path = Path(path)
        self.meta = read_manifest(self.path)
        self.normalizer = Normalizer.from_dict(self.meta["normalizer"])
        require_normalizer(self.path, self.normalizer, require)
        self.segments = [_Segment(self.path, e) for e in self.meta["segments"]]
        tokens, documents = int(self.meta["tokens"]), int(self.meta["documents"])
        manifests = [(self.path.name, self.meta)]
        for other in map(Path, more):
            meta = read_manifest(other)
            manifests.append((other.name, meta))
            if Normalizer.from_dict(meta["normalizer"]) != self.normalizer:
                raise IndexSettingsError(f"{other}: built with other normalisation than {self.path}; "
                                         "rebuild the shards with the same settings")
            self.segments += [_Segment(other, e) for e in meta["segments"]]
            tokens, documents = tokens + int(meta["tokens"]), documents + int(meta["documents"])
        self.budget = check_budget(budget)
        self.zero_check = zero_check
        self._identity = identity or f"mmap:{self.path}"
        self._config = {"path": str(self.path), "budget": self.budget, "zero_check": zero_check,
                        "more": [str(m) for m in more], "identity": identity,
                        "vocabulary": None if vocabulary is None else str(vocabulary)}
        if vocabulary is not None:
            self.vocabulary = _open_vocabulary(Path(vocabulary), self.segments, manifests)
        self._corpus = Corpus(tokens, documents)
        self._init_queries()

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    @property
    def identity(self) -> str:
        return self._identity

    def warm(self) -> float:
        """Map every page of the index into this process now (one read per 4 KB page, in order),
        so the first queries do not each pay page faults; returns the seconds it took. The pages
        are the OS page cache's, shared by every process: this adds no private memory. A server
        calls it once after opening (``quco serve`` does, in the background)."""
        import time

        t = time.perf_counter()
        for seg in self.segments:
            for arr in (seg.post, seg.stream, seg.hash, seg.cnt, seg.off, seg.word_off, seg.doc_start, seg.doc_len):
                if len(arr):
                    step = max(1, 4096 // arr.itemsize)
                    int(arr[::step].sum())  # the sum only forces the reads
        return time.perf_counter() - t

    def __reduce__(self):
        # Pickled by configuration: the receiving process maps the same files (a process pool,
        # Dataset.map workers); nothing of the index itself is copied.
        from functools import partial

        c = self._config
        return partial(MmapIndex, c["path"], budget=c["budget"], zero_check=c["zero_check"], more=c["more"],
                       identity=c["identity"], vocabulary=c["vocabulary"]), ()

    def close(self) -> None:
        self.clear_caches()

