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
from typing import Any

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, require_normalizer
from quco.backends.engine import DEFAULT_BUDGET, ZERO_CHECK, BudgetedQueries, WorkBudgetExceeded, check_budget
from quco.backends.positional import PositionalBackend
from quco.errors import IndexSettingsError, QueryError
from quco.index.checksums import Verification
from quco.index.mmap.format import index_checks, read_manifest
from quco.index.mmap.segment import Segment
from quco.normalize import Normalizer

__all__ = ["MmapIndex", "WorkBudgetExceeded", "DEFAULT_BUDGET"]

log = logging.getLogger("quco.index")




def _open_vocabulary(root: Path, segments, manifests):
    """The shared vocabulary at ``root``, or None (with a warning) when it cannot serve these segments."""
    from quco.index.mmap.vocab import SharedVocabulary, StaleVocabulary

    try:
        return SharedVocabulary(root, segments, manifests)
    except StaleVocabulary as exc:
        log.warning("%s: the shared vocabulary is not used: %s. Answers are the same, each new word costs "
                    "one search per shard; `quco index vocab %s` rewrites it", root, exc, root)
        return None




class MmapIndex(BudgetedQueries, PositionalBackend):
    """Exact (below the work budget) phrase and window co-occurrence counts over a segmented index;
    where a phrase occurs (provenance, the titles and passages of its documents) from the documents'
    records and text kept beside the segments (``quco.backends.positional``)."""

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
        tokens, documents = int(self.meta["tokens"]), int(self.meta["documents"])
        manifests = [(self.path.name, self.meta)]
        roots = [self.path]
        for other in map(Path, more):
            meta = read_manifest(other)
            manifests.append((other.name, meta))
            roots.append(other)
            if Normalizer.from_dict(meta["normalizer"]) != self.normalizer:
                raise IndexSettingsError(f"{other}: built with other normalisation than {self.path}; "
                                         "rebuild the shards with the same settings")
            tokens, documents = tokens + int(meta["tokens"]), documents + int(meta["documents"])
        # every segment file checked against its checksum: a damaged one is refused, never answered as exact
        self._verification = Verification(*index_checks([(root, meta) for root, (_, meta) in zip(roots, manifests)]))
        self.segments = [Segment(root, e) for root, (_, meta) in zip(roots, manifests) for e in meta["segments"]]
        self.budget = check_budget(budget)
        self.zero_check = zero_check
        self._identity = identity or f"mmap:{self.path}"
        self._config: dict[str, Any] = {"path": str(self.path), "budget": self.budget, "zero_check": zero_check,
                        "more": [str(m) for m in more], "identity": identity,
                        "vocabulary": None if vocabulary is None else str(vocabulary)}
        if vocabulary is not None:
            self.vocabulary = _open_vocabulary(Path(vocabulary), self.segments, manifests)
        self._corpus = Corpus(tokens, documents)
        self._doc_start = self._doc_end = None  # global document layout: built when first needed (_layout)
        self._init_queries()
        # the global number of each segment's first document (and one past the last one's)
        self._doc_base = self._np.cumsum([0] + [len(seg.doc_start) for seg in self.segments])

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        return self._verification.vouch(super().count_many(phrases))

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        return self._verification.vouch(super().cooccur_many(pairs, window))

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    # -- where phrases occur (quco.backends.positional) -------------------------------------------
    def _layout(self) -> None:
        """Global positions and document numbers across the segments (in manifest order), built on
        first use: two int64 per document (~0.2 GB at 1B tokens of paragraph-sized documents)."""
        if self._doc_start is not None:
            return
        np = self._np
        lengths = [len(seg.stream) for seg in self.segments]
        self._bases = [0, *np.cumsum(lengths).tolist()][: len(self.segments)]
        starts = [seg.doc_start.astype(np.int64) + b for seg, b in zip(self.segments, self._bases)]
        self._doc_start = np.concatenate(starts) if starts else np.empty(0, dtype=np.int64)
        self._doc_end = self._doc_start + np.concatenate([seg.doc_len.astype(np.int64) for seg in self.segments])

    def positions(self, phrase: str):
        """Sorted global start positions of ``phrase`` (int64; callers bound the count first)."""
        self._layout()
        np = self._np
        parts = [self._phrase_starts(s, ids, j0) + self._bases[s] for s, ids, j0, _ in self._segment_plan(phrase).values()]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def doc_of(self, positions):
        self._layout()
        return super().doc_of(positions)

    def _by_segment(self, docs):
        """(segment, local numbers, global numbers) of the documents ``docs`` (global numbers)."""
        np = self._np
        wanted = np.array(sorted({int(d) for d in docs}), dtype=np.int64)
        seg_of = np.searchsorted(self._doc_base, wanted, side="right") - 1
        for s in np.unique(seg_of).tolist():
            mine = wanted[seg_of == s]
            yield self.segments[s], (mine - int(self._doc_base[s])).tolist(), mine.tolist()

    def document_titles(self, docs) -> dict:
        out: dict = {}
        for seg, local, glob in self._by_segment(docs):
            if not seg.has_records:
                raise QueryError(f"{seg.path}: this segment keeps no document titles (built by an earlier "
                                 "quco); rebuild the index with `quco index build`")
            out.update({g: r[1] for g, r in zip(glob, seg.records(local))})
        return out

    def titled_documents(self, titles) -> list[list[int]]:
        from quco.index.mmap.titles import title_key

        out = []
        for title in titles:
            key, want = title_key(self.normalizer, title), self.normalizer.tokens(title)
            found = []
            for s, seg in enumerate(self.segments):
                if not seg.has_titles:
                    raise QueryError(f"{seg.path}: this segment keeps no title index (built by an earlier quco); "
                                     "rebuild the index with `quco index build`")
                local = seg.titled(key) if key else []
                found += [int(self._doc_base[s]) + d for d, r in zip(local, seg.records(local))
                          if r[1] and self.normalizer.tokens(r[1]) == want]
            out.append(found)
        return out

    def _locate(self, doc: int) -> tuple[int, int]:
        """(segment index, local number) of a document given by its global number."""
        s = int(self._np.searchsorted(self._doc_base, doc, side="right")) - 1
        return s, doc - int(self._doc_base[s])

    def document_tokens(self, docs) -> list[int]:
        """From each segment's document lengths (no global layout needed)."""
        return [int(self.segments[s].doc_len[local]) for s, local in map(self._locate, docs)]

    def occurrences_in(self, docs, phrase: str) -> int:
        """Read from the documents' words in the forward stream (no postings list of the phrase)."""
        np = self._np
        word_ids = self._word_ids(self._tokens(phrase))
        total = 0
        for s, local in map(self._locate, docs):
            seg, ids = self.segments[s], [entry[0][s] for entry in word_ids]
            start = int(seg.doc_start[local])
            words = np.asarray(seg.stream[start: start + int(seg.doc_len[local])])
            n = len(words) - len(ids) + 1
            if min(ids) < 0 or n <= 0:
                continue
            hit = np.ones(n, dtype=bool)
            for j, w in enumerate(ids):
                hit &= words[j: j + n] == w
            total += int(hit.sum())
        return total

    def document_texts(self, docs) -> dict:
        out: dict = {}
        for seg, local, glob in self._by_segment(docs):
            records = seg.records(local) if seg.has_records else [[None, None]] * len(local)
            texts = seg.texts(local) if seg.has_text else [None] * len(local)
            out.update({g: (r[0], r[1], t) for g, r, t in zip(glob, records, texts)})
        return out

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

