"""Each document's record — its id and title — and its text, kept beside an index for provenance,
titles and passages: byte records with their offsets.

    docs.bin, docs_off.npy   each document's [id, title] (a JSON array per document; uint64[D+1] offsets)
    text.bin, text_off.npy   each document's text, UTF-8 (uint64[D+1] offsets); not with --no-text

Written by the memory-mapped segments (``quco.index.mmap``) and the infini-gram index
(``quco.index.infinigram``), read the same way by both.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORDS = ("docs.bin", "docs_off.npy")
TEXT = ("text.bin", "text_off.npy")


class Appender:
    """Byte records appended to a file as they come, with their offsets; ``finish`` moves the file
    into place and writes the offsets (uint64, one more than the records)."""

    def __init__(self, path: Path):
        from array import array

        self.path = path
        self.fh = open(path, "wb")  # closed by finish; removed with the work directory if the build fails
        self.off = array("Q", [0])

    def add(self, data: bytes) -> None:
        self.fh.write(data)
        self.off.append(self.off[-1] + len(data))

    def finish(self, path: Path, off_path: Path) -> None:
        import numpy as np

        self.fh.close()
        os.replace(self.path, path)
        np.save(off_path, np.frombuffer(self.off, dtype=np.uint64))


class RecordsWriter:
    """A directory's records and (``store_text``) texts, written as documents come."""

    def __init__(self, work: Path, stem: str, store_text: bool = True):
        self.records = Appender(work / f"{stem}.docs.partial")
        self.texts = Appender(work / f"{stem}.text.partial") if store_text else None

    def add(self, ext_id: str | None, title: str | None, text: str) -> None:
        self.records.add(json.dumps([ext_id, title], ensure_ascii=False).encode("utf-8"))
        if self.texts is not None:
            self.texts.add(text.encode("utf-8", "surrogatepass"))

    def finish(self, into: Path) -> None:
        self.records.finish(into / RECORDS[0], into / RECORDS[1])
        if self.texts is not None:
            self.texts.finish(into / TEXT[0], into / TEXT[1])


class Records:
    """The records and texts kept in a directory, mapped on first use."""

    def __init__(self, path: Path, files):
        self.path = path
        self.has_records, self.has_text = RECORDS[0] in files, TEXT[0] in files
        self._records: tuple | None = None
        self._text: tuple | None = None

    def records(self, docs) -> list:
        """[id, title] of each of ``docs`` (numbers in this directory); ``has_records`` first."""
        import numpy as np

        if self._records is None:
            self._records = (map_bytes(self.path / RECORDS[0]), np.load(self.path / RECORDS[1], mmap_mode="r"))
        data, off = self._records
        return [json.loads(data[int(off[d]): int(off[d + 1])]) for d in docs]

    def texts(self, docs) -> list[str]:
        """The text of each of ``docs``; ``has_text`` first."""
        import numpy as np

        if self._text is None:
            self._text = (map_bytes(self.path / TEXT[0]), np.load(self.path / TEXT[1], mmap_mode="r"))
        data, off = self._text
        return [bytes(data[int(off[d]): int(off[d + 1])]).decode("utf-8", "surrogatepass") for d in docs]


def map_bytes(path: Path):
    """The file as a read-only ``mmap`` (slices are ``bytes``), or b"" when it is empty."""
    import mmap

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        return mmap.mmap(fh.fileno(), size, prot=mmap.PROT_READ) if size else b""
