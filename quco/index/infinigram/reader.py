"""Counts from a local infini-gram suffix-array index.

Two kinds of index directory are accepted:

* built by quco (``quco index build --backend infinigram``): byte-level, over normalised words
  padded with spaces, so counts equal the DuckDB index's; ``positions.0.npy`` maps engine
  pointers to word positions;
* built elsewhere at token level (e.g. with infini-gram's own indexer and a Llama tokenizer):
  pass ``encode`` (text -> token ids) and ``token_dtype``; windows are then in those tokens.

Co-occurrence has two modes. ``exact`` (default) reads the suffix-array pointers of both phrases
and counts occurrences of ``a`` with ``b`` within ``window`` words in the same document — the
DuckDB index's definition — within a work budget (counts come from the suffix array, so they
cost the same for any phrase): when both phrases together have at most ``budget`` occurrences,
both are enumerated (exact); when ``a`` has at most ``budget / 10``, each of its windows is
searched in the text for ``b`` (exact); when ``b`` has, ``a`` is counted in the text of ``b``'s
windows (exact); otherwise ``budget / 10`` evenly spaced occurrences of ``a`` (spread over the
suffix array, so over the corpus) are searched that way and the answer is the flagged estimate
``count(a) × hits / sample`` — never 0: when the sample has no hit, both are enumerated if that
costs at most ``zero_check`` budgets (exact), and otherwise the answer is ``WorkBudgetExceeded``,
an unknown count. ``cnf`` asks the engine's ``count_cnf`` for ``a AND b`` as QuCo-RAG
does: the engine picks which clause it counts, measures the window in its own units (bytes here;
a word window is mapped with the index's mean bytes per word), rejects a window that reaches into
a neighbouring document, and samples clauses above ``max_clause_freq`` (``approx``).
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, check_window, require_normalizer
from quco.backends.engine import DEFAULT_BUDGET, ZERO_CHECK, WorkBudgetExceeded, check_budget
from quco.backends.positional import PositionalBackend
from quco.backends.sorted_positions import spaced
from quco.errors import IndexOpenError, QueryError
from quco.index.checksums import Verification
from quco.index.infinigram.format import index_files, read_infinigram_meta
from quco.index.records import RECORDS, Records
from quco.normalize import Normalizer

_DTYPES = {"u8": 1, "u16": 2, "u32": 4}
_MAX_PHRASE_TOKENS = 256
_CACHE_SIZE = 2048
COOCCUR_MODES = ("exact", "cnf")




class InfiniGramLocal(PositionalBackend):
    """Exact counts from the infini-gram engine; co-occurrence exact or via ``count_cnf``."""

    name = "infinigram-local"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        require: Normalizer | None = None,
        cooccur: str = "exact",
        max_clause_freq: int = 50_000,
        encode: Callable[[str], list[int]] | None = None,
        token_dtype: str | None = None,
        budget: int = DEFAULT_BUDGET,
        zero_check: int = ZERO_CHECK,
    ):
        import numpy as np

        self.budget = check_budget(budget)
        self.zero_check = zero_check
        if cooccur not in COOCCUR_MODES:
            raise QueryError(f"cooccur mode must be one of {COOCCUR_MODES}, not {cooccur!r}")
        if isinstance(max_clause_freq, bool) or not isinstance(max_clause_freq, int) or max_clause_freq < 1:
            raise QueryError(f"max_clause_freq must be a positive integer, not {max_clause_freq!r}")
        self.path = Path(path)
        self.cooccur_mode = cooccur
        self.max_clause_freq = max_clause_freq
        self._np = np
        self._cache: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self.meta = read_infinigram_meta(self.path)
        # a quco-built index's files checked against their checksums: damaged is refused, never exact
        self._verification = Verification(index_files(self.path, self.meta or {}),
                                          str((self.meta or {}).get("checksum", "")))
        self.normalizer: Normalizer | None
        self._encode: Callable[[str], list[int]]
        if self.meta is not None:
            self.normalizer = Normalizer.from_dict(self.meta["normalizer"])
            require_normalizer(self.path, self.normalizer, require)
            self.token_dtype = "u8"
            self._encode = self._encode_words
        else:
            if encode is None or token_dtype not in _DTYPES:
                raise IndexOpenError(
                    f"{self.path}: not built by quco; a token-level index needs a tokenizer and token_dtype "
                    "(u8, u16 or u32) in the configuration"
                )
            self.normalizer = None  # token ids from an outside tokenizer: no normalisation of ours
            self.token_dtype = token_dtype
            self._encode = encode
        self._width = _DTYPES[self.token_dtype]
        self._engine = self._open_engine()
        self._shards = self._open_shards()
        files = (self.meta or {}).get("files") or {}
        self._kept = Records(self.path, files) if RECORDS[0] in files else None
        self._by_title: dict | None = None
        if self.meta is not None:
            self._stats = Corpus(tokens=int(self.meta["tokens"]), documents=int(self.meta["documents"]))
            self._bytes_per_token = float(self.meta["bytes_per_token"])
        else:
            docs = int(self._engine.get_total_doc_cnt())
            units = sum(int(self._engine.get_tok_cnt(s)) for s in range(len(self._shards)))
            self._stats = Corpus(tokens=units - docs, documents=docs)  # minus one separator per document
            self._bytes_per_token = 1.0

    # -- interface ---------------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        return self._stats

    @property
    def identity(self) -> str:
        return f"infinigram-local:{self.path}"

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        out = []
        for phrase in phrases:
            result = self._engine.count(self._ids(phrase))
            out.append(Count(phrase, int(result.count), bool(result.approx)))
        return self._verification.vouch(out)

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        if self.cooccur_mode == "cnf":
            return self.cooccur_cnf_many(pairs, window)
        window = check_window(window)
        return self._verification.vouch([self._cooccur_bounded(a, b, window) for a, b in pairs])

    def _cooccur_bounded(self, a: str, b: str, window: int) -> Cooccurrence:
        found_a, found_b = self._engine.find(self._ids(a)), self._engine.find(self._ids(b))
        n_a = sum(hi - lo for lo, hi in found_a.segment_by_shard)
        n_b = sum(hi - lo for lo, hi in found_b.segment_by_shard)
        if not n_a or not n_b:
            return Cooccurrence(a, b, 0, window, False)
        enumerate_both = lambda: Cooccurrence(a, b, self.near(self.positions(a), self.positions(b), window),
                                              window, False)
        if n_a + n_b <= self.budget:  # both cheap to enumerate: exact from positions
            return enumerate_both()
        scan = max(100, self.budget // 10)  # windows searched in the text
        if self.meta is None:
            if n_a + n_b <= self.zero_check * self.budget:
                return enumerate_both()
            raise WorkBudgetExceeded(f"{a!r} near {b!r}: {n_a + n_b:,} occurrences exceed the work budget of a "
                                     "token-level index (its text cannot be searched by window)")
        pattern = (" " + " ".join(self._own_normalizer().tokens(b)) + " ").encode("utf-8")
        if n_a <= scan:  # few a: search every one of its windows (exact)
            hits = self._windows_with(self.positions(a), pattern, window)
            return Cooccurrence(a, b, hits, window, False)
        if n_b <= scan:  # few b: count a inside b's windows (exact)
            pattern_a = (" " + " ".join(self._own_normalizer().tokens(a)) + " ").encode("utf-8")
            return Cooccurrence(a, b, self._count_in_windows(self.positions(b), pattern_a, window), window, False)
        sample = self._sample_positions(found_a.segment_by_shard, n_a, scan)
        hits = self._windows_with(sample, pattern, window)
        if not hits:
            # No hit in the sample: rare or absent, the difference that matters. Settle it exactly
            # when both sides can be enumerated within zero_check budgets.
            if n_a + n_b <= self.zero_check * self.budget:
                return enumerate_both()
            raise WorkBudgetExceeded(f"{a!r} near {b!r}: both are too frequent for the work budget "
                                     f"({self.budget:,}) and a sample found no co-occurrence")
        return Cooccurrence(a, b, max(1, round(n_a * hits / len(sample))), window, True)

    def _sample_positions(self, ranges, n: int, k: int):
        """About ``k`` occurrences at evenly spaced suffix-array ranks (word positions, int64)."""
        np = self._np
        out = []
        for shard, (lo, hi) in zip(self._shards, ranges):
            if hi > lo:
                m = max(1, round(k * (hi - lo) / n))
                out.append(shard.positions_at(spaced(lo, hi, m)))
        return np.concatenate(out)  # each shard's come out sorted, and shards are in corpus order

    def _count_in_windows(self, positions, pattern: bytes, window: int) -> int:
        """Occurrences of ``pattern`` starting inside the union of the windows around ``positions``."""
        np = self._np
        lo, hi = self._window_bounds(positions, window)
        run_hi = np.maximum.accumulate(hi)
        first = np.flatnonzero(np.concatenate(([True], lo[1:] > run_hi[:-1])))
        total = 0
        for w_lo, w_hi in zip(lo[first].tolist(), np.maximum.reduceat(hi, first).tolist()):
            shard = self._shards[int(np.searchsorted(self._shard_base, w_lo, side="right") - 1)]
            total += shard.text_count(w_lo, w_hi, pattern)
        return total

    def _window_bounds(self, positions, window: int):
        np = self._np
        doc = np.searchsorted(self._doc_start, positions, side="right") - 1
        return np.maximum(positions - window, self._doc_start[doc]), np.minimum(positions + window, self._doc_end[doc] - 1)

    def _windows_with(self, positions, pattern: bytes, window: int) -> int:
        """How many of ``positions`` have ``pattern`` (a phrase's bytes) starting within ``window`` words."""
        np = self._np
        lo, hi = self._window_bounds(positions, window)
        hits = 0
        for p_lo, p_hi in zip(lo.tolist(), hi.tolist()):
            shard = self._shards[int(np.searchsorted(self._shard_base, p_lo, side="right") - 1)]
            hits += shard.text_has(p_lo, p_hi, pattern)
        return hits

    def cooccur_cnf_many(
        self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW, max_clause_freq: int | None = None
    ) -> list[Cooccurrence]:
        """QuCo-RAG's ``a AND b`` query through the engine's ``count_cnf`` (see module docstring)."""
        window = check_window(window)
        units = self.engine_window(window)
        freq = self.max_clause_freq if max_clause_freq is None else max_clause_freq
        if isinstance(freq, bool) or not isinstance(freq, int) or freq < 1:
            raise QueryError(f"max_clause_freq must be a positive integer, not {freq!r}")
        out = []
        for a, b in pairs:
            result = self._engine.count_cnf([[self._ids(a)], [self._ids(b)]], freq, units)
            out.append(Cooccurrence(a, b, int(result.count), window, bool(result.approx)))
        return self._verification.vouch(out)

    def engine_window(self, window: int) -> int:
        """A window in words as the engine's max_diff_tokens (bytes for a byte-level index)."""
        return max(1, math.ceil(window * self._bytes_per_token))

    def positions(self, phrase: str):
        """Sorted global word positions of ``phrase``, read from the suffix array."""
        np = self._np
        ids = self._ids(phrase)
        key = tuple(ids)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        found = self._engine.find(ids)
        chunks = [shard.positions(lo, hi) for shard, (lo, hi) in zip(self._shards, found.segment_by_shard) if hi > lo]
        # Each shard's positions come out sorted and shards are in corpus order: no sort needed.
        result = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
        self._cache[key] = result
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    # -- the documents' ids, titles and text (provenance, titles, passages) ------------------------
    def document_texts(self, docs) -> dict:
        """doc -> (doc_id, title, text) from the records a quco build keeps (``quco.index.records``;
        text None when built with ``--no-text``); {} for an index that keeps none."""
        kept = self._kept
        if kept is None:
            return {}
        docs = [int(d) for d in docs]
        texts = kept.texts(docs) if kept.has_text else [None] * len(docs)
        return {d: (r[0], r[1], t) for d, r, t in zip(docs, kept.records(docs), texts)}

    def document_titles(self, docs) -> dict:
        return {int(d): r[1] for d, r in zip(docs, self._titled_records().records([int(d) for d in docs]))}

    def titled_documents(self, titles) -> list[list[int]]:
        """The documents titled each of ``titles`` (normalised words), from every record once per process."""
        if self._by_title is None:
            kept = self._titled_records()
            by: dict[tuple, list[int]] = {}
            for d, (_, title) in enumerate(kept.records(range(self._stats.documents))):
                if title:
                    by.setdefault(tuple(self._own_normalizer().tokens(title)), []).append(d)
            self._by_title = by
        return [list(self._by_title.get(tuple(self._own_normalizer().tokens(t)), [])) for t in titles]

    def _titled_records(self) -> Records:
        if self._kept is None:
            raise QueryError(f"{self.path}: this infini-gram index keeps no document titles (built elsewhere or by an "
                             "earlier quco); rebuild it with `quco index build --backend infinigram`")
        return self._kept

    def clear_caches(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        self._cache.clear()
        self._engine = None
        for shard in self._shards:
            shard.close()
        self._shards = []

    # -- internals ---------------------------------------------------------------------------
    def _own_normalizer(self) -> Normalizer:
        """The normaliser of an index quco built (word encoding and window searches need it)."""
        if self.normalizer is None:
            raise QueryError(f"{self.path}: a token-level index built elsewhere has no normaliser of quco's")
        return self.normalizer

    def _encode_words(self, phrase: str) -> list[int]:
        words = self._own_normalizer().tokens(phrase)
        if not words:
            raise QueryError(f"phrase {phrase!r} has no word tokens after normalisation")
        if len(words) > _MAX_PHRASE_TOKENS:
            raise QueryError(f"phrase has {len(words)} tokens; at most {_MAX_PHRASE_TOKENS} are supported")
        return list((" " + " ".join(words) + " ").encode("utf-8"))

    def _ids(self, phrase: str) -> list[int]:
        if not isinstance(phrase, str):
            raise QueryError(f"phrase must be a string, not {type(phrase).__name__}")
        ids = self._encode(phrase)
        if not ids:
            raise QueryError(f"phrase {phrase!r} encodes to no tokens")
        return ids

    def _open_engine(self):
        try:
            from infini_gram import cpp_engine  # type: ignore[attr-defined]  # a compiled module, no stubs
        except ImportError:
            raise IndexOpenError("the infini-gram backend needs the `infini-gram` package: pip install 'quco[infinigram]'") from None
        top = (1 << (8 * self._width)) - 1
        cls = {1: cpp_engine.Engine_U8, 2: cpp_engine.Engine_U16, 4: cpp_engine.Engine_U32}[self._width]
        try:
            # (dirs, eos id, vocab size, version 4, load_to_ram, ds/sa/od prefetch, bow ids, attribution block,
            #  unigram logprobs, previous shards). The Python wrapper rejects vocab 256 for u8; the engine does not.
            return cls([str(self.path)], top, top, 4, False, 1, 3, 3, set(), 512, False, {})
        except Exception as exc:  # the engine raises plain runtime errors on missing or corrupt files
            raise IndexOpenError(f"{self.path}: infini-gram engine cannot open the index ({exc})") from None

    def _open_shards(self) -> list[_Shard]:
        shards, base_pos, base_doc = [], 0, 0
        s = 0
        while (self.path / f"table.{s}").exists():
            try:
                shard = _Shard(self.path, s, self._width, self.meta is not None, base_pos, base_doc)
            except (OSError, ValueError) as exc:  # a missing or unreadable array of shard s
                raise IndexOpenError(f"{self.path}: shard {s} cannot be read ({exc}); rebuild the index") from None
            shards.append(shard)
            base_pos += shard.span
            base_doc += shard.documents
            s += 1
        if not shards:
            raise IndexOpenError(f"{self.path}: no suffix array (table.0) found")
        np = self._np
        self._doc_start = np.concatenate([sh.doc_start for sh in shards])
        self._doc_end = np.concatenate([sh.doc_end for sh in shards])
        self._shard_base = np.array([sh.base for sh in shards], dtype=np.int64)
        return shards


class _Shard:
    """One shard's suffix array, read directly to turn engine ranks into word positions."""

    def __init__(self, path: Path, s: int, width: int, words: bool, base_pos: int, base_doc: int):
        import numpy as np

        self._np = np
        data_bytes = (path / f"tokenized.{s}").stat().st_size
        n = data_bytes // width
        table_bytes = (path / f"table.{s}").stat().st_size
        self.ratio, rest = divmod(table_bytes, max(n, 1))
        if rest or not 1 <= self.ratio <= 8:
            raise IndexOpenError(f"{path}: table.{s} does not match tokenized.{s} (corrupt or incomplete index)")
        self._table: Any = np.memmap(path / f"table.{s}", dtype=np.uint8, mode="r")
        doc_bytes = np.fromfile(path / f"offset.{s}", dtype=np.uint64).astype(np.int64)
        self.documents = len(doc_bytes)
        self._words = words
        if words:  # quco byte-level index: positions are word numbers
            self._starts = np.load(path / f"positions.{s}.npy", mmap_mode="r")
            first = np.searchsorted(self._starts, doc_bytes, side="left")
            self.doc_start = first + base_pos
            self.doc_end = np.append(first[1:], len(self._starts)) + base_pos
            self.span = len(self._starts)
        else:  # token-level index: positions are token numbers (separators included)
            first = doc_bytes // width
            self.doc_start = first + base_pos
            self.doc_end = np.append(first[1:], n) + base_pos
            self.span = n
        self._base = base_pos
        self._width = width
        self._data_path = path / f"tokenized.{s}"
        self._data: Any = None  # the text, mapped on first use (window searches)

    @property
    def base(self) -> int:
        return self._base

    def positions_at(self, ranks):
        """Word positions of the suffixes at the given suffix-array ranks."""
        np = self._np
        raw = np.asarray(self._table)[ranks[:, None] * self.ratio + np.arange(self.ratio)]
        return self._to_positions(raw)

    def _span(self, lo: int, hi: int, pattern: bytes) -> tuple[int, int]:
        """Bytes where ``pattern`` may start at a word between global positions ``lo`` and ``hi``."""
        if self._data is None:
            import mmap

            with open(self._data_path, "rb") as fh:
                self._data = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
        return int(self._starts[lo - self._base]), int(self._starts[hi - self._base]) + len(pattern)

    def text_has(self, lo: int, hi: int, pattern: bytes) -> bool:
        start, end = self._span(lo, hi, pattern)
        return self._data.find(pattern, start, end) >= 0

    def text_count(self, lo: int, hi: int, pattern: bytes) -> int:
        """Occurrences (overlapping ones too: "the the" in "the the the") starting between lo and hi."""
        import re

        start, end = self._span(lo, hi, pattern)
        return len(re.findall(b"(?=" + re.escape(pattern) + b")", self._data[start:end]))

    def positions(self, lo: int, hi: int):
        np = self._np
        raw = np.asarray(self._table[lo * self.ratio : hi * self.ratio]).reshape(-1, self.ratio)
        return self._to_positions(raw)

    def _to_positions(self, raw):
        np = self._np
        wide = np.zeros((len(raw), 8), dtype=np.uint8)
        wide[:, : self.ratio] = raw
        # Sorted first: suffix-array order is random over the text, and NumPy's binary search is
        # several times faster on sorted keys (each search starts where the previous one ended).
        ptrs = np.sort(wide.view("<u8").ravel().astype(np.int64))
        if self._words:
            return np.searchsorted(self._starts, ptrs, side="left") + self._base
        return ptrs // self._width + self._base

    def close(self) -> None:
        self._table = None
        self._starts = None
        if self._data is not None:
            self._data.close()
            self._data = None
