"""Building the embedded n-gram index: one DuckDB file with a positional inverted index.

Layout (format version 1):
  meta(key, value)                  JSON values: normalisation, corpus size, build settings
  docs(doc, ext_id, title, start, n_tokens, text)
  vocab(w, word, cnt, off)          word ids; ``off`` = first row of the word in ``postings``
  postings(w, pos)                  every token position, sorted by (w, pos)

Positions are global; documents are separated by one empty position so that no phrase can span two
documents. Any phrase length is answered exactly by intersecting shifted postings lists.
The file is written under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import signal
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quco.errors import BuildError, QucoError
from quco.files.building import (
    build_sources,
    fsync_dir,
    fsync_file,
    progress_bar,
    quco_version,
    write_failure,
)
from quco.files.duckdb_conn import connect
from quco.files.outputs import OutputLock
from quco.files.sources import iter_documents
from quco.index.duckdb.format import ARTEFACT, FORMAT_NAME, FORMAT_VERSION
from quco.normalize import Normalizer
from quco.process import install_sigterm, restore_sigterm, signalled_stop

_GAP = 0xFFFFFFFF  # marks the empty position between documents
_MAX_TOKENS = 0xFFFFFFFE
_DOC_FLUSH = 20_000


@dataclass(frozen=True)
class BuildStats:
    path: Path
    tokens: int
    documents: int
    vocab: int
    seconds: float
    bytes: int


def build_index(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    normalizer: Normalizer | None = None,
    text_split: str = "paragraph",
    skip_bad_lines: bool = False,
    progress: bool = True,
    store_text: bool = True,
    force: bool = False,
) -> BuildStats:
    """Build an index of ``sources`` at ``out`` atomically. Raises ``SourceError``/``BuildError``.

    ``out`` may replace an earlier quco index; anything else (a source, an unrelated file) is
    refused unless ``force`` (see ``quco.files.outputs``)."""
    normalizer = normalizer or Normalizer()
    out = Path(out)
    if out.exists() and out.is_dir():
        raise BuildError(f"{out}: output path is a directory")
    paths = build_sources(sources, out, ARTEFACT, force)
    with OutputLock(out, "index build"):
        return _build(paths, out, normalizer, text_split, skip_bad_lines, progress, store_text)


def _build(paths, out, normalizer, text_split, skip_bad_lines, progress, store_text) -> BuildStats:
    import duckdb

    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    t0 = time.perf_counter()
    total_bytes = sum(p.stat().st_size for p in paths if p.is_file())
    bar = progress_bar(total_bytes, progress)
    con = None
    # SIGTERM becomes an exception so the temporary file is removed like on Ctrl-C.
    previous = signal.getsignal(signal.SIGTERM)
    in_main = install_sigterm()
    try:
        con = connect(str(tmp))
        _create_schema(con)
        vocab, stream, n_docs = _read_documents(con, paths, normalizer, (text_split, skip_bad_lines, store_text), bar)
        bar.close()
        if not vocab:
            raise BuildError("the sources contain no word tokens")
        n_tokens = _write_postings(con, vocab, stream)
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "normalizer": normalizer.to_dict(),
            "tokens": n_tokens,
            "documents": n_docs,
            "vocab_size": len(vocab),
            "text_split": text_split,
            "store_text": store_text,
            "sources": [{"path": str(p), "bytes": p.stat().st_size} for p in paths],
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - t0, 3),
            "quco_version": quco_version(),
        }
        con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        con.execute("CHECKPOINT")
        con.close()
        con = None
        fsync_file(tmp)
        os.replace(tmp, out)
        fsync_dir(out.parent)
        return BuildStats(out, n_tokens, n_docs, len(vocab), time.perf_counter() - t0, out.stat().st_size)
    except QucoError:
        raise
    except Exception as exc:
        if (stop := signalled_stop()) is not None:  # a query cut short says "Query interrupted"
            raise stop from exc
        if isinstance(exc, duckdb.Error):
            raise BuildError(f"writing {tmp}: {str(exc).splitlines()[0]}") from exc
        if isinstance(exc, OSError):
            raise BuildError(write_failure(out, exc)) from exc
        raise
    finally:
        bar.close()
        if con is not None:
            con.close()
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        if in_main:
            restore_sigterm(previous)


def _read_documents(con, paths, normalizer, how: tuple[str, bool, bool], bar) -> tuple[dict[str, int], array, int]:
    """Every document of ``paths`` into ``docs`` (``how``: text split, skip bad lines, store text),
    its words into the vocabulary and the token stream (one gap position between documents)."""
    text_split, skip_bad_lines, store_text = how
    vocab: dict[str, int] = {}
    stream = array("I")
    pending: dict[str, list] = {k: [] for k in ("doc", "ext_id", "title", "start", "n_tokens", "text")}
    n_docs = 0
    tokenize = normalizer.tokens
    for path in paths:
        for doc in iter_documents(path, text_split=text_split, skip_bad_lines=skip_bad_lines, on_bytes=bar.update):
            toks = tokenize(doc.text)
            start = len(stream)
            if toks:
                setdefault = vocab.setdefault
                stream.extend([setdefault(t, len(vocab)) for t in toks])
                if len(stream) > _MAX_TOKENS:
                    raise BuildError("corpus exceeds 4,294,967,294 tokens; split it into several indexes")
            stream.append(_GAP)
            row = (n_docs, doc.id, doc.title, start, len(toks), doc.text if store_text else None)
            for key, value in zip(pending, row):
                pending[key].append(value)
            n_docs += 1
            if len(pending["doc"]) >= _DOC_FLUSH:
                _flush_docs(con, pending)
    _flush_docs(con, pending)
    return vocab, stream, n_docs


def _write_postings(con, vocab: dict[str, int], stream: array) -> int:
    """The ``vocab`` and ``postings`` tables from the token stream; returns the number of tokens."""
    import numpy as np

    ids = np.frombuffer(stream, dtype=np.uint32)
    is_token = ids != _GAP
    positions = np.flatnonzero(is_token).astype(np.uint32)
    word_ids = ids[is_token]
    order = np.argsort(word_ids, kind="stable")  # stable: positions stay ascending per word
    sorted_w = word_ids[order]
    sorted_pos = positions[order]
    counts = np.bincount(word_ids, minlength=len(vocab)).astype(np.uint64)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.uint64)
    words = np.array(list(vocab), dtype=object)
    # read by name in the SQL below (a DuckDB replacement scan)
    vocab_arr = {"w": np.arange(len(vocab), dtype=np.uint32), "word": words, "cnt": counts, "off": offsets}  # noqa: F841
    con.execute("INSERT INTO vocab SELECT w, word, cnt, off FROM vocab_arr")
    postings_arr = {"w": sorted_w, "pos": sorted_pos}  # noqa: F841 (read by name in SQL)
    con.execute("INSERT INTO postings SELECT w, pos FROM postings_arr")
    return int(is_token.sum())


def _create_schema(con) -> None:
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.execute(
        "CREATE TABLE docs (doc UINTEGER, ext_id VARCHAR, title VARCHAR, start UBIGINT, n_tokens UINTEGER, text VARCHAR)"
    )
    con.execute("CREATE TABLE vocab (w UINTEGER, word VARCHAR, cnt UBIGINT, off UBIGINT)")
    con.execute("CREATE TABLE postings (w UINTEGER, pos UINTEGER)")


def _flush_docs(con, pending: dict[str, list]) -> None:
    import numpy as np

    if not pending["doc"]:
        return
    docs_arr = {k: np.array(v, dtype=object) for k, v in pending.items()}  # noqa: F841 (read by name in SQL)
    con.execute(
        "INSERT INTO docs SELECT CAST(doc AS UINTEGER), CAST(ext_id AS VARCHAR), CAST(title AS VARCHAR), "
        "CAST(start AS UBIGINT), CAST(n_tokens AS UINTEGER), CAST(text AS VARCHAR) FROM docs_arr"
    )
    for v in pending.values():
        v.clear()
