"""Reading corpus documents from JSONL, plain text and Parquet files.

Every reader yields ``Document`` objects and reports how many bytes it has consumed so the
builder can draw an honest progress bar. Bad input raises ``SourceError`` naming file and line.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from quco.errors import SourceError
from quco.files.duckdb_conn import connect
from quco.normalize import Normalizer, invalid_text

TEXT_SPLITS = ("paragraph", "line", "file")


@dataclass(frozen=True)
class Document:
    text: str
    id: str | None = None
    title: str | None = None


def source_kind(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    return "text"


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory (pass the files inside it)")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: file is empty")


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    head = raw.peek(8192)[:8192] if hasattr(raw, "peek") else b""
    if b"\x00" in head:
        raw.close()
        raise SourceError(f"{path}: looks like a binary file (NUL bytes), expected UTF-8 text")
    # surrogateescape: undecodable bytes reach ``_checked`` with their line, instead of failing
    # somewhere inside a decoding buffer with no line number.
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline=None)


def _checked(path: Path, lineno: int, text: str) -> str:
    if (bad := invalid_text(text)) is not None:
        raise SourceError(f"{path}:{lineno}: {bad} (quco accepts UTF-8 text only)")
    return text


@dataclass(frozen=True)
class Reading:
    """How sources become documents and tokens: the normaliser, how plain text is cut into documents
    (``"paragraph"``, ``"line"`` or ``"file"``) and whether malformed JSONL lines are skipped."""

    normalizer: Normalizer = field(default_factory=Normalizer)
    text_split: str = "paragraph"
    skip_bad_lines: bool = False


def iter_documents(
    path: Path, *, text_split: str = "paragraph", skip_bad_lines: bool = False, on_bytes: Callable[[int], object] | None = None,
    part: tuple[int, int] | None = None,
) -> Iterator[Document]:
    """Yield the documents of one source file. ``on_bytes(n)`` is called as input is consumed.
    ``part=(k, n)``: only records ``i`` with ``i % n == k`` (a JSONL record is a non-blank line,
    skipped unparsed; otherwise a document), so ``n`` readers partition a source between them."""
    path = Path(path)
    _check_readable(path)
    kind = source_kind(path)
    tick = on_bytes or (lambda n: None)
    count = 0
    try:
        if kind == "jsonl":
            docs = _iter_jsonl(path, skip_bad_lines, tick, part)
        elif kind == "parquet":
            docs = _iter_parquet(path, tick)
        else:
            if text_split not in TEXT_SPLITS:
                raise SourceError(f"text split must be one of {', '.join(TEXT_SPLITS)}, not {text_split!r}")
            docs = _iter_text(path, text_split, tick)
        if part is not None and kind != "jsonl":
            k, n = part
            docs = (d for i, d in enumerate(docs) if i % n == k)
        for doc in docs:
            count += 1
            yield doc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except (OSError, EOFError) as exc:  # gzip truncation, permissions, vanished file
        raise SourceError(f"{path}: cannot read: {exc}") from None
    if count == 0 and part is None:  # one part of a small source may rightly be empty
        raise SourceError(f"{path}: contains no documents with text")


def _iter_jsonl(path: Path, skip_bad_lines: bool, tick: Callable[[int], object],
                part: tuple[int, int] | None = None) -> Iterator[Document]:
    record = -1
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            tick(len(line.encode("utf-8", "surrogateescape")))
            if not line.strip():
                continue
            record += 1
            if part is not None and record % part[1] != part[0]:
                continue
            try:
                _checked(path, lineno, line)
                doc = _parse_json_doc(line)
            except SourceError as exc:
                if skip_bad_lines:
                    continue
                raise SourceError(str(exc) if str(exc).startswith(f"{path}:") else f"{path}:{lineno}: {exc}") from None
            if doc.text.strip():
                yield doc


def _parse_json_doc(line: str) -> Document:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(f"malformed JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise SourceError(f"expected a JSON object, got {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise SourceError('missing string field "text"')
    if (bad := invalid_text(text)) is not None:  # a lone surrogate written as a JSON escape
        raise SourceError(f'field "text": {bad}')
    doc_id = obj.get("id")
    title = obj.get("title")
    return Document(
        text=text,
        id=None if doc_id is None else str(doc_id),
        title=title if isinstance(title, str) else None,
    )


def _iter_text(path: Path, split: str, tick: Callable[[int], object]) -> Iterator[Document]:
    with _open_text(path) as fh:
        if split == "file":
            text = fh.read()
            tick(len(text.encode("utf-8", "surrogateescape")))
            if (bad := invalid_text(text)) is not None:
                lineno = text[: int(bad.rsplit(" ", 1)[1])].count("\n") + 1
                _checked(path, lineno, text)
            if text.strip():
                yield Document(text=text, id=path.name)
            return
        buf: list[str] = []
        n = 0
        for lineno, line in enumerate(fh, 1):
            tick(len(line.encode("utf-8", "surrogateescape")))
            _checked(path, lineno, line)
            if split == "line":
                if line.strip():
                    n += 1
                    yield Document(text=line.strip(), id=f"{path.name}:{n}")
                continue
            if line.strip():
                buf.append(line)
            elif buf:
                n += 1
                yield Document(text="".join(buf).strip(), id=f"{path.name}:{n}")
                buf = []
        if buf:
            n += 1
            yield Document(text="".join(buf).strip(), id=f"{path.name}:{n}")


# Constant SQL only (no string building): one query per combination of optional columns.
_PARQUET_QUERIES = {
    (True, True): "SELECT CAST(text AS VARCHAR), CAST(id AS VARCHAR), CAST(title AS VARCHAR) FROM read_parquet(?)",
    (True, False): "SELECT CAST(text AS VARCHAR), CAST(id AS VARCHAR), NULL FROM read_parquet(?)",
    (False, True): "SELECT CAST(text AS VARCHAR), NULL, CAST(title AS VARCHAR) FROM read_parquet(?)",
    (False, False): "SELECT CAST(text AS VARCHAR), NULL, NULL FROM read_parquet(?)",
}


def _iter_parquet(path: Path, tick: Callable[[int], object]) -> Iterator[Document]:
    import duckdb

    size = os.path.getsize(path)
    con = connect()
    try:
        try:
            cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
        except duckdb.Error as exc:
            raise SourceError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        if "text" not in cols:
            raise SourceError(f'{path}: Parquet file has no "text" column (columns: {", ".join(cols)})')
        query = _PARQUET_QUERIES["id" in cols, "title" in cols]
        total = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] or 1
        cur = con.execute(query, [str(path)])
        while rows := cur.fetchmany(4096):
            tick(size * len(rows) // total)
            for text, doc_id, title in rows:
                if text and text.strip():
                    yield Document(text=text, id=doc_id, title=title)
    finally:
        con.close()
