"""Querying the embedded n-gram index.

The DuckDB file is the storage format (self-describing, transactional, inspectable with SQL). On
open, the postings are read once into NumPy arrays: a phrase is then found by intersecting the
shifted postings of its words, starting from the rarest, so any phrase length is exact and a
typical entity costs microseconds. Co-occurrence is a binary search of one phrase's positions
around each position of the other, clipped to the enclosing document.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quco.backends.base import Corpus, Count, CountBackend, require_normalizer
from quco.backends.engine import DEFAULT_BUDGET, ZERO_CHECK, BudgetedQueries, check_budget
from quco.backends.positional import PositionalBackend
from quco.errors import IndexOpenError, QueryError
from quco.files.duckdb_conn import connect
from quco.index.duckdb.format import damaged, read_meta
from quco.normalize import Normalizer


@dataclass(frozen=True)
class IndexInfo:
    path: str
    format_version: int
    tokens: int
    documents: int
    vocab_size: int
    normalizer: dict
    text_split: str
    built_at: str
    build_seconds: float
    quco_version: str
    sources: list
    file_bytes: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)








_OPENING = threading.Lock()  # a process's document-lookup connection is opened once


class _MemorySegment:
    """The whole loaded index as one segment of the budgeted query engine (``quco.backends.engine``)."""

    by_hash = False  # words are found in a dictionary
    stream = None  # no forward index: phrases are verified by searching postings

    def __init__(self, index: DuckDBIndex):
        self.ix = index
        self.cnt, self.doc_start, self.doc_end = index._cnt, index._doc_start, index._doc_end

    def word_ids(self, tokens, raws, hs, h_list) -> list[int]:
        return [self.ix._word_id.get(t, -1) for t in tokens]

    def postings(self, w: int):
        return self.ix._postings(w)

    def doc_bounds(self, pos):
        doc = self.doc_start.searchsorted(pos, side="right") - 1
        return self.doc_start[doc], self.doc_end[doc] - 1


class DuckDBIndex(BudgetedQueries, PositionalBackend):
    """Phrase and co-occurrence counts over an index built by ``build_index``: exact below the
    work budget, flagged estimates above it (``quco.backends.engine``)."""

    name = "duckdb"
    _positions: Any  # every posting, word by word (NumPy int64)
    _reader: tuple[int, Any, Any] | None = None  # (pid, read-only connection, its lock): document lookups

    def __init__(self, path: str | os.PathLike, *, require: Normalizer | None = None, budget: int = DEFAULT_BUDGET,
                 zero_check: int = ZERO_CHECK):
        import duckdb
        import numpy as np

        self.path = Path(path)
        meta = read_meta(self.path)
        self.meta = meta
        self.normalizer = Normalizer.from_dict(meta["normalizer"])
        require_normalizer(self.path, self.normalizer, require)
        try:
            con = connect(str(self.path), read_only=True)
            try:
                vocab = con.execute("SELECT word, cnt, off FROM vocab ORDER BY w").fetchnumpy()
                self._positions = con.execute("SELECT pos FROM postings ORDER BY w, pos").fetchnumpy()["pos"]
                docs = con.execute("SELECT start, n_tokens FROM docs ORDER BY doc").fetchnumpy()
            finally:
                con.close()
        except duckdb.Error as exc:
            raise IndexOpenError(damaged(self.path, str(exc))) from None
        words = vocab["word"].tolist()
        self._word_id = dict(zip(words, range(len(words))))
        self._cnt = vocab["cnt"].astype(np.int64)
        self._off = vocab["off"].astype(np.int64)
        self._doc_start = docs["start"].astype(np.int64)
        self._doc_end = self._doc_start + docs["n_tokens"].astype(np.int64)  # exclusive
        if len(self._positions) != int(self._cnt.sum()) or len(self._doc_start) != meta["documents"]:
            raise IndexOpenError(f"{self.path}: index is corrupt (table sizes disagree with meta)")
        self._stats = Corpus(tokens=int(meta["tokens"]), documents=int(meta["documents"]))
        self.budget = check_budget(budget)
        self.zero_check = zero_check
        self.segments = [_MemorySegment(self)]
        self._init_queries()

    # -- interface ---------------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        return self._stats

    @property
    def identity(self) -> str:
        return f"duckdb:{self.path}"

    def info(self) -> IndexInfo:
        m = self.meta
        return _info(self.path, m)

    # count_many and cooccur_many come from BudgetedQueries; positions() stays exact and unbounded
    # for the leave-out view and cooccur_docs (evaluation tools, not the serving path).
    def positions(self, phrase: str):
        """Sorted global start positions of ``phrase`` (NumPy int64 array)."""
        plan = self._segment_plan(phrase).get(0)
        if plan is None:
            return self._np.empty(0, dtype=self._np.int64)
        _, ids, j0, _ = plan
        return self._phrase_starts(0, ids, j0)

    def _postings(self, w: int):
        off = self._off[w]
        return self._positions[off : off + self._cnt[w]]

    def titles(self) -> list:
        """Every document's title (None where it has none), by document number; read once."""
        if not hasattr(self, "_titles"):
            con = connect(str(self.path), read_only=True)
            try:
                self._titles = [r[0] for r in con.execute("SELECT title FROM docs ORDER BY doc").fetchall()]
            finally:
                con.close()
        return self._titles

    def document_titles(self, docs) -> dict:
        titles = self.titles()
        return {int(d): titles[int(d)] for d in docs}

    def titled_documents(self, titles) -> list[list[int]]:
        if not hasattr(self, "_titled"):
            by: dict[tuple, list[int]] = {}
            for d, t in enumerate(self.titles()):
                if t:
                    by.setdefault(tuple(self.normalizer.tokens(t)), []).append(d)
            self._titled = by
        return [list(self._titled.get(tuple(self.normalizer.tokens(t)), [])) for t in titles]

    def document_texts(self, docs) -> dict:
        """doc -> (doc_id, title, text) for provenance (text None for an index built without it)."""
        rows = self._read("SELECT doc, ext_id, title, text FROM docs WHERE doc IN (SELECT unnest(?))",
                          [[int(d) for d in docs]])
        return {int(d): (e, t, x) for d, e, t, x in rows}

    def _read(self, sql: str, params: list) -> list:
        """A query on one read-only connection kept for this process (opening one per lookup cost
        more than the lookup); a forked process opens its own, and one query runs at a time."""
        with _OPENING:
            if self._reader is None or self._reader[0] != os.getpid():
                self._reader = (os.getpid(), connect(str(self.path), read_only=True), threading.Lock())
            _, con, lock = self._reader
        with lock:
            return con.execute(sql, params).fetchall()

    def without_documents(self, ext_ids) -> CountBackend:
        """A view of this index with some documents left out (by their ids): exact leave-out
        counts for evaluations such as "the fact is absent from the corpus"."""
        return _WithoutDocuments(self, ext_ids)

    def doc_numbers(self, ext_ids):
        np = self._np
        if not hasattr(self, "_ext_ids"):
            con = connect(str(self.path), read_only=True)
            try:
                ids = [r[0] for r in con.execute("SELECT ext_id FROM docs ORDER BY doc").fetchall()]
            finally:
                con.close()
            self._ext_ids = {e: i for i, e in enumerate(ids) if e is not None}
        missing = [e for e in ext_ids if e not in self._ext_ids]
        if missing:
            raise QueryError(f"no document with id {missing[0]!r} in {self.path}")
        return np.array(sorted(self._ext_ids[e] for e in ext_ids), dtype=np.int64)

    def __reduce__(self):
        # By configuration: the receiving process opens the same file (postings are not copied).
        from functools import partial

        return partial(DuckDBIndex, str(self.path), budget=self.budget, zero_check=self.zero_check), ()

    def close(self) -> None:
        self.clear_caches()
        with _OPENING:
            reader, self._reader = self._reader, None
        if reader is not None and reader[0] == os.getpid():
            reader[1].close()


class _WithoutDocuments(PositionalBackend):
    name = "duckdb-without-documents"

    def __init__(self, base: DuckDBIndex, ext_ids):
        self.base = base
        self.normalizer = base.normalizer
        self._np = base._np
        self._doc_start, self._doc_end = base._doc_start, base._doc_end
        self._excluded = base.doc_numbers(list(ext_ids))
        removed = int((base._doc_end[self._excluded] - base._doc_start[self._excluded]).sum())
        self._stats = Corpus(base.corpus.tokens - removed, base.corpus.documents - len(self._excluded))

    @property
    def corpus(self) -> Corpus:
        return self._stats

    @property
    def identity(self) -> str:
        return f"{self.base.identity} without {len(self._excluded)} document(s)"

    def positions(self, phrase: str):
        pos = self.base.positions(phrase)
        if not len(pos):
            return pos
        return pos[~self._np.isin(self.doc_of(pos), self._excluded)]

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        return [Count(p, int(len(self.positions(p))), False) for p in phrases]

    def document_titles(self, docs) -> dict:
        return self.base.document_titles(docs)

    def document_texts(self, docs) -> dict:
        return self.base.document_texts(docs)


def _info(path: Path, m: dict) -> IndexInfo:
    return IndexInfo(
        path=str(path),
        format_version=m["format_version"],
        tokens=m["tokens"],
        documents=m["documents"],
        vocab_size=m["vocab_size"],
        normalizer=m["normalizer"],
        text_split=m.get("text_split", ""),
        built_at=m.get("built_at", ""),
        build_seconds=m.get("build_seconds", 0.0),
        quco_version=m.get("quco_version", ""),
        sources=m.get("sources", []),
        file_bytes=path.stat().st_size,
    )


def index_info(path: str | os.PathLike) -> IndexInfo:
    """Describe an index from its meta table only (cheap: no postings are loaded)."""
    path = Path(path)
    return _info(path, read_meta(path))
