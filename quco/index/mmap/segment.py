"""One segment of the memory-mapped index, mapped read-only: its word hashes, counts, postings,
forward stream and document bounds, and (mapped when first read) its documents' ids, titles and
text (``quco.index.mmap.build`` writes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quco.errors import IndexOpenError
from quco.index.records import Records, map_bytes

_BLOCK = 256  # documents per block of the two-step document search


class Segment:
    def __init__(self, root: Path, entry: dict):
        import numpy as np

        d = root / entry["name"]
        try:
            # Plain ndarray views of the maps: np.memmap's subclass hooks cost microseconds per call.
            load = lambda n: np.load(d / n, mmap_mode="r").view(np.ndarray)
            self.hash, self.cnt, self.off = load("hash.npy"), load("cnt.npy"), load("off.npy")
            self.post, self.word_off = load("postings.npy"), load("word_off.npy")
            self.stream = load("stream.npy")
            self.words = map_bytes(d / "words.bin")
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
        files = entry.get("files") or {}
        self._kept = Records(d, files)
        self.has_titles = "title_hash.npy" in files
        self._titles: tuple | None = None
        self._coarse: Any = None  # every _BLOCK-th document start (doc_bounds)

    def titled(self, key: int) -> list[int]:
        """The documents (local numbers) whose title has ``key`` (``quco.index.mmap.titles``); ``has_titles`` first."""
        from quco.index.mmap.titles import titled

        if self._titles is None:
            load = lambda n: self.np.load(self.path / n, mmap_mode="r").view(self.np.ndarray)
            self._titles = (load("title_hash.npy"), load("title_doc.npy"))
        return titled(self._titles, key)

    @property
    def has_records(self) -> bool:
        return self._kept.has_records

    @property
    def has_text(self) -> bool:
        return self._kept.has_text

    def records(self, docs) -> list:
        """[id, title] of each of the segment's documents ``docs`` (local numbers); ``has_records`` first."""
        return self._kept.records(docs)

    def texts(self, docs) -> list[str]:
        """The text of each of ``docs`` (local numbers); ``has_text`` first."""
        return self._kept.texts(docs)

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
        doc = self._doc_of(pos.astype(np.uint32))
        first = self.doc_start[doc].astype(np.int64)
        return first, first + self.doc_len[doc].astype(np.int64) - 1

    def _doc_of(self, keys):
        """The document holding each position: a search of every ``_BLOCK``-th document start (a
        small array that stays in the CPU cache), then of the block it names. A plain search of
        all the starts (13.5M at 1B tokens) touches a dozen scattered pages per position."""
        np = self.np
        starts = self.doc_start
        if self._coarse is None:
            self._coarse = np.ascontiguousarray(starts[::_BLOCK])
        lo = (self._coarse.searchsorted(keys, side="right") - 1) * _BLOCK
        hi = np.minimum(lo + _BLOCK, len(starts))
        for _ in range(_BLOCK.bit_length()):  # the last start <= key within [lo, hi)
            mid = (lo + hi) // 2
            right = starts[mid] <= keys
            lo, hi = np.where(right, mid, lo), np.where(right, hi, mid)
        return lo

    def postings(self, w: int):
        o = int(self.off[w])
        return self.post[o: o + int(self.cnt[w])]
