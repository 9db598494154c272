"""Passages and the built-in retriever: BM25 over the documents stored in a DuckDB index.

The index already holds what BM25 needs: the postings give term frequencies per document (an
ASOF join maps each position to the document whose range contains it), ``docs.n_tokens`` the
document lengths and ``meta`` the corpus size. So retrieval is one parameterised SQL query over
the same file the counts come from: no second index, no DuckDB extension.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from quco.errors import IndexOpenError, QueryError
from quco.files.duckdb_conn import connect


@dataclass(frozen=True)
class Passage:
    text: str
    title: str | None = None
    doc_id: str | None = None
    score: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class Retriever(Protocol):
    """Any callable ``retrieve(query, k) -> list[Passage]``."""

    def __call__(self, query: str, k: int) -> list[Passage]: ...


# Function words carry no evidence and have the longest postings lists: leave them out of BM25.
STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i in into is it its "
    "of on or she that the their them there these they this to was were what when where which who whom whose "
    "why will with you".split()
)

_BM25_SQL = """
WITH q AS (SELECT w, cnt AS df_tokens FROM vocab WHERE list_contains(?, word)),
hits AS (
    SELECT d.doc, p.w
    FROM (SELECT postings.w, postings.pos FROM postings SEMI JOIN q ON postings.w = q.w) p
    ASOF JOIN docs d ON p.pos >= d.start
),
tf AS (SELECT doc, w, count(*) AS tf FROM hits GROUP BY doc, w),
df AS (SELECT w, count(*) AS df FROM tf GROUP BY w),
scored AS (
    SELECT tf.doc,
           sum(ln(1 + (? - df.df + 0.5) / (df.df + 0.5))
               * tf.tf * (? + 1) / (tf.tf + ? * (1 - ? + ? * d.n_tokens / ?))) AS score
    FROM tf JOIN df USING (w) JOIN docs d ON d.doc = tf.doc
    GROUP BY tf.doc
)
SELECT d.ext_id, d.title, d.text, s.score
FROM scored s JOIN docs d ON d.doc = s.doc
ORDER BY s.score DESC, d.doc
LIMIT ?
"""


class BM25Retriever:
    """``retrieve(query, k)`` over the passages (documents) stored in a quco DuckDB index."""

    def __init__(self, index: str | os.PathLike, *, k1: float = 1.2, b: float = 0.75,
                 stopwords: frozenset[str] = STOPWORDS):
        from quco.index.duckdb.format import read_meta
        from quco.normalize import Normalizer

        self.path = Path(getattr(index, "path", index))
        meta = read_meta(self.path)
        if not meta.get("store_text", True):
            raise IndexOpenError(f"{self.path}: built with --no-text, so it has no passages to retrieve")
        self.normalizer = Normalizer.from_dict(meta["normalizer"])
        self.k1, self.b = float(k1), float(b)
        self.stopwords = stopwords
        self._documents = int(meta["documents"])
        self._avgdl = max(1.0, int(meta["tokens"]) / max(1, self._documents))
        self._con = connect(str(self.path), read_only=True)
        self._local = threading.local()

    def __call__(self, query: str, k: int = 3) -> list[Passage]:
        return self.retrieve(query, k)

    def retrieve(self, query: str, k: int = 3) -> list[Passage]:
        if not isinstance(query, str):
            raise QueryError(f"query must be a string, not {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive integer, not {k!r}")
        words = [w for w in dict.fromkeys(self.normalizer.tokens(query)) if w not in self.stopwords]
        if not words:
            return []
        params = [words, self._documents, self.k1, self.k1, self.b, self.b, self._avgdl, k]
        rows = self._cursor().execute(_BM25_SQL, params).fetchall()
        return [Passage(text=text or "", title=title, doc_id=ext_id, score=round(float(score), 4))
                for ext_id, title, text, score in rows]

    def _cursor(self):
        # One cursor per thread: DuckDB connections are not shared across threads.
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._con.cursor()
        return cur

    def close(self) -> None:
        self._con.close()


def as_retriever(retrieve: Callable) -> Callable[[str, int], list[Passage]]:
    """Accept a plain callable returning Passages, dicts or strings; always give Passages."""

    def call(query: str, k: int) -> list[Passage]:
        return as_passages(retrieve(query, k))

    return call


def as_passages(items) -> list[Passage]:
    """A retriever's answer (Passages, dicts with "text", or strings; None for nothing) as Passages."""
    out = []
    for item in items or []:
        if isinstance(item, Passage):
            out.append(item)
        elif isinstance(item, str):
            out.append(Passage(text=item))
        elif isinstance(item, dict) and "text" in item:
            out.append(Passage(**{f: item[f] for f in ("text", "title", "doc_id", "score") if f in item}))
        else:
            raise QueryError(f"retriever returned {type(item).__name__}; expected Passage, dict with 'text' or str")
    return out
