"""Merging segments of the memory-mapped index into fewer, larger ones (``quco index compact``).

A query pays a fixed cost per segment (a word lookup and a few array operations in each), so an
index of many small segments answers slower than one of a few large ones. Segments are built
small because building holds ~25 bytes per token in memory; merging them afterwards needs none of
that: every segment's words are sorted by the same 64-bit hash, so the merged vocabulary is the
sorted union of the hashes, and each merged word's postings are its postings in each input
segment, in segment order, shifted by the segment's first position — ascending already. The
merge streams: it reads each input's postings and forward index in order and writes the output
sequentially, a bounded chunk at a time (``_CHUNK`` positions), so memory does not grow with the
corpus and the output is not held in the page cache as process memory.

A merged segment still uses ``uint32`` positions, so a merge stops at ``MAX_POSITIONS`` (~4.29B
tokens); larger corpora keep several merged segments. Two different words with the same 64-bit
hash in different segments would be merged as one: a second, independent fingerprint of every
word's bytes is compared, and on a mismatch the segments are left unmerged (slower, still exact).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from quco.errors import BuildError, IndexOpenError
from quco.files.building import fsync_file, progress_bar
from quco.index.checksums import files_checksums
from quco.index.mmap.titles import write_title_index

log = logging.getLogger("quco.index")

MAX_POSITIONS = 0xFFFFFFFF - 1  # positions and the document gap must fit uint32
_GAP = 0xFFFFFFFF
_CHUNK = 16_000_000  # positions held in memory at once (~200 MB of buffers)


class HashCollision(BuildError):
    """Two different words share a 64-bit hash across the segments: they cannot be merged."""


def plan_merges(entries: list[dict], max_positions: int = MAX_POSITIONS) -> list[list[dict]]:
    """Consecutive groups of segments whose positions (tokens + one gap per document) fit one segment."""
    groups: list[list[dict]] = []
    cur: list[dict] = []
    size = 0
    for e in entries:
        n = e["tokens"] + e["documents"]
        if cur and size + n > max_positions:
            groups.append(cur)
            cur, size = [], 0
        cur.append(e)
        size += n
    if cur:
        groups.append(cur)
    return groups


def merge_segments(root: Path, entries: list[dict], name: str, *, progress: bool = False) -> dict:
    """Write the segments ``entries`` (directories in ``root``) as one segment ``root/name``;
    return its manifest entry. Raises ``HashCollision`` (nothing is left behind) if they cannot merge."""
    import numpy as np

    segs = [_Input(root / e["name"]) for e in entries]
    out = root / name
    out.mkdir()
    try:
        glob_hash = np.unique(np.concatenate([s.hash for s in segs]))
        gids = [np.searchsorted(glob_hash, s.hash) for s in segs]
        # The first segment holding a word supplies its bytes; every other copy must match them.
        rep_seg = np.full(len(glob_hash), -1, dtype=np.int64)
        rep_local = np.zeros(len(glob_hash), dtype=np.int64)
        for k in range(len(segs) - 1, -1, -1):
            rep_seg[gids[k]] = k
            rep_local[gids[k]] = np.arange(len(gids[k]))
        fp = np.zeros(len(glob_hash), dtype=np.uint64)
        fps = [_fingerprints(s.words, s.word_off) for s in segs]
        for k, g in enumerate(gids):
            mine = rep_seg[g] == k
            fp[g[mine]] = fps[k][mine]
        for k, g in enumerate(gids):
            if not np.array_equal(fp[g], fps[k]):
                raise HashCollision(f"two different words share a 64-bit hash across segments of {root}")
        del fps, fp

        counts = np.zeros(len(glob_hash), dtype=np.uint64)
        priors = []  # per input: where its part of each word's postings starts within the word
        for s, g in zip(segs, gids):
            priors.append(counts[g].copy())
            counts[g] += s.cnt
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.uint64)
        bases, pos = [], 0
        for s in segs:
            bases.append(pos)
            pos += s.n_stream

        tokens = int(counts.sum())
        bar = progress_bar(2 * tokens, progress, desc="merging segments", unit="pos")
        _write_postings(out / "postings.npy", segs, gids, priors, bases, counts, offsets, bar)
        _write_stream(out / "stream.npy", segs, gids, pos, bar)
        bar.close()
        np.save(out / "hash.npy", glob_hash)
        np.save(out / "cnt.npy", counts)
        np.save(out / "off.npy", offsets)
        _write_words(out, segs, rep_seg, rep_local)
        np.save(out / "doc_start.npy", np.concatenate([s.doc_start.astype(np.uint64) + b for s, b in zip(segs, bases)])
                .astype(np.uint32))
        np.save(out / "doc_len.npy", np.concatenate([s.doc_len for s in segs]).astype(np.uint32))
        for kept in ("docs", "text"):  # the documents' records and text, when every input keeps them
            if all((s.path / f"{kept}.bin").is_file() for s in segs):
                _concatenate(out, [s.path for s in segs], kept)
        if all((s.path / "title_hash.npy").is_file() for s in segs):
            _merge_titles(out, segs)
        for f in out.iterdir():
            fsync_file(f)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return {"name": name, "tokens": tokens, "documents": sum(e["documents"] for e in entries),
            "vocab": int(len(glob_hash)), "files": files_checksums(out)}


def _concatenate(out: Path, inputs: list[Path], name: str) -> None:
    """``NAME.bin`` of the inputs one after the other, and their ``NAME_off.npy`` offsets shifted to match."""
    import numpy as np

    offsets, base = [], 0
    with open(out / f"{name}.bin", "wb") as dst:
        for d in inputs:
            off = np.load(d / f"{name}_off.npy")
            offsets.append(off[:-1] + np.uint64(base))
            base += int(off[-1])
            with open(d / f"{name}.bin", "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
    np.save(out / f"{name}_off.npy", np.concatenate([*offsets, np.array([base], dtype=np.uint64)]).astype(np.uint64))


def _merge_titles(out: Path, segs) -> None:
    """The inputs' title indexes as one: keys and documents (shifted past the earlier inputs'), re-sorted."""
    import numpy as np

    hashes, docs, base = [], [], 0
    for s in segs:
        hashes.append(np.load(s.path / "title_hash.npy"))
        docs.append(np.load(s.path / "title_doc.npy").astype(np.int64) + base)
        base += len(s.doc_start)
    write_title_index(out, np.concatenate(hashes), np.concatenate(docs))


class _Input:
    """One input segment: the per-word arrays in memory; postings and forward index read in
    pieces with ``pread`` (mapping them would count gigabytes of page cache as this process's RSS)."""

    def __init__(self, d: Path):
        import numpy as np

        self.path = d
        self.hash, self.cnt, self.off = np.load(d / "hash.npy"), np.load(d / "cnt.npy"), np.load(d / "off.npy")
        self.word_off = np.load(d / "word_off.npy")
        self.words = np.fromfile(d / "words.bin", dtype=np.uint8)
        self.doc_start, self.doc_len = np.load(d / "doc_start.npy"), np.load(d / "doc_len.npy")
        self._post, self.n_post = _UInt32File(d / "postings.npy"), int(self.cnt.sum())
        self._stream = _UInt32File(d / "stream.npy")
        self.n_stream = self._stream.n

    def post(self, a: int, b: int):
        return self._post.read(a, b)

    def stream(self, a: int, b: int):
        return self._stream.read(a, b)


class _UInt32File:
    def __init__(self, path: Path):
        import numpy as np

        with open(path, "rb") as fh:
            major, _minor = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read_header(fh)
            self.header = fh.tell()
        if dtype != np.dtype("<u4") or len(shape) != 1:
            raise IndexOpenError(f"{path}: expected a uint32 vector, found {dtype} {shape}; the segment is damaged")
        self.n, self.path, self._np = shape[0], path, np

    def read(self, a: int, b: int):
        np = self._np
        b = min(b, self.n)
        if b <= a:
            return np.zeros(0, dtype=np.uint32)
        buf = bytearray((b - a) * 4)
        with open(self.path, "rb", buffering=0) as fh:
            fh.seek(self.header + a * 4)
            view, got = memoryview(buf), 0
            while got < len(buf):
                n = fh.readinto(view[got:])
                if not n:
                    raise IndexOpenError(f"{self.path}: shorter than its header says; the segment is damaged")
                got += n
        return np.frombuffer(buf, dtype=np.uint32)


def _fingerprints(words, word_off):
    """A 64-bit polynomial fingerprint of each word's bytes and length, independent of ``word_hash``."""
    import numpy as np

    n = len(word_off) - 1
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    starts: Any = np.asarray(word_off[:-1], dtype=np.int64)
    lens: Any = np.diff(np.asarray(word_off, dtype=np.int64))
    out = np.zeros(n, dtype=np.uint64)
    step = 8_000_000  # bytes per piece: bounded temporaries
    first = 0
    while first < n:
        last = int(np.searchsorted(starts, starts[first] + step, side="right"))
        last = max(last, first + 1)
        a, b = int(starts[first]), int(starts[last - 1] + lens[last - 1])
        within = np.arange(b - a, dtype=np.int64) - np.repeat(starts[first:last] - a, lens[first:last])
        mult = within.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0xC2B2AE3D27D4EB4F)
        v = (words[a:b].astype(np.uint64) + np.uint64(1)) * mult
        v ^= v >> np.uint64(29)
        nz = lens[first:last] > 0
        part = np.zeros(last - first, dtype=np.uint64)
        part[nz] = np.add.reduceat(v, (starts[first:last] - a)[nz]) if nz.any() else part[nz]
        out[first:last] = part + lens[first:last].astype(np.uint64) * np.uint64(0xFF51AFD7ED558CCD)
        first = last
    return out


def _npy_out(path: Path, dtype, n: int):
    import numpy as np

    fh = open(path, "wb")
    np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                              "fortran_order": False, "shape": (n,)})
    return fh


def _write_postings(path, segs, gids, priors, bases, counts, offsets, bar) -> None:
    """Postings in merged word order, a chunk of words at a time; a word larger than a chunk is
    copied segment by segment (its parts are already in order)."""
    import numpy as np

    total = int(counts.sum())
    n_words = len(counts)
    ends = offsets + counts
    with _npy_out(path, np.uint32, total) as fh:
        g0 = 0
        while g0 < n_words:
            g1 = int(np.searchsorted(ends, int(offsets[g0]) + _CHUNK, side="right"))
            if g1 <= g0:  # one word over a chunk: stream its parts
                for s, g, base in zip(segs, gids, bases):
                    i = int(np.searchsorted(g, g0))
                    if i < len(g) and g[i] == g0:
                        o, c = int(s.off[i]), int(s.cnt[i])
                        for a in range(o, o + c, _CHUNK):
                            part = s.post(a, min(a + _CHUNK, o + c)) + np.uint32(base)
                            part.tofile(fh)
                            bar.update(len(part))
                g0 += 1
                continue
            start = int(offsets[g0])
            buf = np.empty(int(ends[g1 - 1]) - start, dtype=np.uint32)
            for s, g, prior, base in zip(segs, gids, priors, bases):
                l0, l1 = int(np.searchsorted(g, g0)), int(np.searchsorted(g, g1))
                if l0 == l1:
                    continue
                a = int(s.off[l0])
                b = int(s.off[l1 - 1] + s.cnt[l1 - 1])
                word_dest = (offsets[g[l0:l1]] - np.uint64(start) + prior[l0:l1]).astype(np.int64)
                shift = word_dest - (s.off[l0:l1].astype(np.int64) - a)
                dest = np.repeat(shift, s.cnt[l0:l1].astype(np.int64)) + np.arange(b - a, dtype=np.int64)
                buf[dest] = s.post(a, b) + np.uint32(base)
            buf.tofile(fh)
            bar.update(len(buf))
            g0 = g1


def _write_stream(path, segs, gids, n_positions: int, bar) -> None:
    """The forward indexes, concatenated, with each segment's word ids replaced by merged ones."""
    import numpy as np

    with _npy_out(path, np.uint32, n_positions) as fh:
        for s, g in zip(segs, gids):
            remap = np.append(g.astype(np.uint32), np.uint32(_GAP))
            v = len(g)
            for a in range(0, s.n_stream, _CHUNK):
                part = s.stream(a, a + _CHUNK)
                remap[np.minimum(part, v)].tofile(fh)  # the gap (0xFFFFFFFF) maps to itself
                bar.update(len(part))


def _write_words(out: Path, segs, rep_seg, rep_local) -> None:
    """Each merged word's bytes, taken from the first segment holding it, in merged order."""
    import numpy as np

    lens = np.zeros(len(rep_seg), dtype=np.int64)
    for k, s in enumerate(segs):
        mine = np.flatnonzero(rep_seg == k)
        wo = s.word_off.astype(np.int64)
        lens[mine] = wo[rep_local[mine] + 1] - wo[rep_local[mine]]
    word_off = np.concatenate(([0], np.cumsum(lens))).astype(np.uint64)
    buf = np.empty(int(word_off[-1]), dtype=np.uint8)
    for k, s in enumerate(segs):
        mine = np.flatnonzero(rep_seg == k)
        if not len(mine):
            continue
        wo = s.word_off.astype(np.int64)
        src0, n = wo[rep_local[mine]], lens[mine]
        inner = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        buf[np.repeat(word_off[mine].astype(np.int64), n) + inner] = s.words[np.repeat(src0, n) + inner]
    np.save(out / "word_off.npy", word_off)
    buf.tofile(out / "words.bin")


def compact_segments(root: Path, entries: list[dict], prefix: str, *, progress: bool = False,
                     max_positions: int = MAX_POSITIONS) -> list[dict]:
    """Merge ``entries`` (in order) into as few segments as fit; return the new list of entries.
    The inputs stay on disk (the caller removes them once the new manifest is in place)."""
    result = []
    for i, group in enumerate(plan_merges(entries, max_positions)):
        if len(group) == 1:
            result.append(group[0])
            continue
        try:
            result.append(merge_segments(root, group, f"{prefix}{i:04d}", progress=progress))
        except HashCollision as exc:
            log.warning("%s; keeping %d segments unmerged (queries stay exact, only slower)", exc, len(group))
            result.extend(group)
    return result


def remove_unlisted(root: Path, entries: list[dict]) -> None:
    """Delete segment directories the manifest does not list (merged away, or left by a killed run),
    and the partial files of segments a killed run was writing."""
    listed = {e["name"] for e in entries}
    for d in root.glob("seg-*"):
        if d.name not in listed:
            remove_path(d)


def remove_path(path: Path) -> None:
    """A directory with its contents, or a file; nothing if it is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["MAX_POSITIONS", "HashCollision", "compact_segments", "merge_segments", "plan_merges", "remove_path",
           "remove_unlisted"]
