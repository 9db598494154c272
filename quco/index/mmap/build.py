"""Building the segmented, memory-mapped index (``quco index build --backend mmap``).

Layout (a directory; format ``quco-mmap-index`` version 2)::

  quco-index.json           format, normalisation, totals, the list of segments (written last)
  seg-000000/               one self-contained segment: a range of whole documents
    hash.npy    uint64[V]   64-bit hash of each word, sorted: word id = rank (binary search)
    words.bin, word_off.npy the words in id order, to confirm a hash match (no false hits)
    cnt.npy     uint64[V]   occurrences of each word
    off.npy     uint64[V]   first row of each word in postings
    postings.npy uint32[T]  segment-local positions, grouped by word id, ascending within a word
    stream.npy  uint32[T+D] the forward index: the word id at each position, 0xFFFFFFFF after each
                            document (so a phrase is verified with one read per word, not a search)
    doc_start.npy, doc_len.npy  uint32[D] each document's first position and length
    docs.bin, docs_off.npy  each document's [id, title] (a JSON array per document; uint64[D+1] offsets)
    title_hash.npy, title_doc.npy  uint64/uint32: the 64-bit hash of each titled document's title
                            (its normalised words, space-joined), sorted, and the document of each
                            (the documents titled so are found by binary search)
    text.bin, text_off.npy  each document's text, UTF-8 (uint64[D+1] offsets); not with --no-text

Segments written before titles and text were kept have ``ext_ids.jsonl`` instead of the documents'
records: they answer counts as before, and say that they keep no titles or text.

Documents never span segments, so every count and window co-occurrence is an exact sum over
segments; positions are local to a segment (uint32, < 4.29B tokens each), so the corpus as a
whole has no size limit. A segment is built in one worker process from at most
``segment_tokens`` tokens, so memory is bounded (~25 bytes per token of one segment per worker)
whatever the corpus size, and segments build in parallel. Documents are dealt to the workers in
batches; a document's segment is wherever its batch landed (counts do not depend on order).

After the workers finish, their segments are merged into as few as fit ``uint32`` positions
(``quco.index.mmap.merge``: a streaming merge that needs no tokenising and little memory), since
every segment costs each query a lookup: a 1B-token corpus becomes one segment.

The build writes under ``.NAME.building-PID`` and swaps the directory into place; ``add_documents``
writes new segments beside the old ones and then replaces the manifest atomically, so readers see
the old or the new index, never a half. Segments not listed in the manifest (a killed ``add``) are
removed by the next build or add.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quco.backends.engine import word_hash
from quco.errors import BuildError
from quco.files.building import (
    build_sources,
    building_dir,
    disk_full,
    fsync_dir,
    fsync_file,
    progress_bar,
    quco_version,
    write_failure,
)
from quco.files.outputs import OutputLock, check_outputs
from quco.files.sources import Reading, iter_documents
from quco.index.checksums import files_checksums, manifest_checksum
from quco.index.mmap.format import (
    ARTEFACT,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    read_manifest,
    stamp_as_verified,
)
from quco.index.mmap.merge import MAX_POSITIONS, compact_segments, remove_path, remove_unlisted
from quco.index.mmap.titles import title_key, write_title_index
from quco.index.records import RecordsWriter
from quco.normalize import Normalizer

SEGMENT_TOKENS = 96_000_000  # ~2.4 GB of build memory per worker (segments are merged afterwards)
_GAP = 0xFFFFFFFF  # the empty position between documents: no phrase spans two documents
_BATCH_CHARS = 2_000_000  # documents are sent to workers in batches of about this much text


@dataclass(frozen=True)
class MmapBuildStats:
    path: Path
    tokens: int
    documents: int
    segments: int
    seconds: float
    bytes: int


# -- one segment (in a worker process) ----------------------------------------------------------
class _SegmentWriter:
    def __init__(self, work: Path, normalizer: Normalizer, segment_tokens: int, prefix: str, store_text: bool = True):
        from array import array

        self.work, self.normalizer, self.limit, self.prefix = work, normalizer, segment_tokens, prefix
        self.store_text = store_text
        self._array = array
        self.done: list[dict] = []
        self._reset()

    def _reset(self) -> None:
        self.vocab: dict[str, int] = {}
        self.stream = self._array("I")
        self.doc_start = self._array("I")
        self.doc_len = self._array("I")
        # The documents' records and text go to files as they come (a segment's text is ~0.5 GB),
        # opened with the segment's first document.
        self.kept: RecordsWriter | None = None
        self.title_hashes = self._array("Q")  # per document; 0: untitled

    def _open_files(self) -> None:
        self.kept = RecordsWriter(self.work, f"{self.prefix}{len(self.done):04d}", self.store_text)

    def add(self, docs: list[tuple[str, str | None, str | None]]) -> None:
        tokenize = self.normalizer.tokens
        for text, ext_id, title in docs:
            toks = tokenize(text)
            if len(self.stream) + len(toks) + 1 >= min(self.limit, _GAP - 1) and len(self.doc_start):
                self.finish()
            if self.kept is None:
                self._open_files()
            assert self.kept is not None
            vocab = self.vocab
            setdefault = vocab.setdefault
            self.doc_start.append(len(self.stream))
            self.doc_len.append(len(toks))
            self.stream.extend([setdefault(t, len(vocab)) for t in toks])
            self.stream.append(_GAP)
            self.kept.add(ext_id, title, text)
            self.title_hashes.append(title_key(self.normalizer, title))

    def finish(self) -> None:
        import numpy as np

        if not len(self.doc_start):
            return
        words = list(self.vocab)
        name = f"{self.prefix}{len(self.done):04d}"
        seg = self.work / name
        seg.mkdir()
        hashes = np.fromiter((word_hash(w) for w in words), dtype=np.uint64, count=len(words))
        order = np.argsort(hashes, kind="stable")
        if len(order) > 1 and np.any(hashes[order][1:] == hashes[order][:-1]):
            raise BuildError("two words share a 64-bit hash in one segment; rebuild with smaller segments")
        rank = np.empty(len(words) + 1, dtype=np.uint32)
        rank[order] = np.arange(len(words), dtype=np.uint32)
        rank[len(words)] = _GAP
        ids = np.frombuffer(self.stream, dtype=np.uint32)
        ids = rank[np.minimum(ids, len(words))]  # the gap maps to itself and sorts last
        del self.stream
        np.save(seg / "stream.npy", ids)
        postings = np.argsort(ids, kind="stable")  # positions grouped by word, ascending within a word
        counts = np.bincount(ids[ids != _GAP], minlength=len(words)).astype(np.uint64)
        n_tokens = int(counts.sum())
        np.save(seg / "postings.npy", postings[:n_tokens].astype(np.uint32))
        del postings, ids
        np.save(seg / "hash.npy", hashes[order])
        np.save(seg / "cnt.npy", counts)
        np.save(seg / "off.npy", np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.uint64))
        encoded = [words[i].encode("utf-8") for i in order]
        np.save(seg / "word_off.npy", np.concatenate(([0], np.cumsum([len(b) for b in encoded]))).astype(np.uint64))
        (seg / "words.bin").write_bytes(b"".join(encoded))
        np.save(seg / "doc_start.npy", np.frombuffer(self.doc_start, dtype=np.uint32))
        np.save(seg / "doc_len.npy", np.frombuffer(self.doc_len, dtype=np.uint32))
        assert self.kept is not None  # opened with the first document
        self.kept.finish(seg)
        write_title_index(seg, np.frombuffer(self.title_hashes, dtype=np.uint64), np.arange(len(self.title_hashes)))
        for f in seg.iterdir():
            fsync_file(f)
        self.done.append({"name": name, "tokens": n_tokens, "documents": len(self.doc_start), "vocab": len(words),
                          "files": files_checksums(seg)})
        self._reset()


def _worker(queue, results, work: str, normalizer: dict, segment_tokens: int, prefix: str, parent: int,
            store_text: bool = True) -> None:
    import queue as queue_mod

    try:
        writer = _SegmentWriter(Path(work), Normalizer.from_dict(normalizer), segment_tokens, prefix, store_text)
        while True:
            try:
                batch = queue.get(timeout=1.0)
            except queue_mod.Empty:
                if os.getppid() != parent:  # the build was killed: do not linger as an orphan
                    os._exit(1)
                continue
            if batch is None:
                break
            writer.add(batch)
        writer.finish()
        results.put(("ok", writer.done))
    except BaseException as exc:  # reported to the parent, which removes the half-built index
        results.put(("error", f"{type(exc).__name__}: {exc}"))


# -- the build -------------------------------------------------------------------------------------
def build_mmap_index(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    reading: Reading | None = None,
    progress: bool = True,
    force: bool = False,
    workers: int | None = None,
    segment_tokens: int = SEGMENT_TOKENS,
    merge: bool = True,
    part: tuple[int, int] | None = None,
    store_text: bool = True,
) -> MmapBuildStats:
    """Build a segmented memory-mapped index of ``sources`` at ``out`` (a directory), atomically.
    ``reading``: normaliser, text split, bad lines (``quco.files.sources.Reading``; default: its defaults).
    ``part=(k, n)``: index only records ``i % n == k`` of the sources (one shard of ``n``).
    ``merge``: merge the segments the workers built into as few as fit (``quco.index.mmap.merge``).
    ``store_text``: keep each document's text (for provenance sentences, passages and reading: about
    the corpus's size again on disk); titles and ids are always kept."""
    reading = reading or Reading()
    out = Path(out)
    paths = build_sources(sources, out, ARTEFACT, force)
    t0 = time.perf_counter()
    with building_dir(out) as tmp:
        segments = _build_segments(paths, tmp, reading, progress, (workers, segment_tokens), prefix="seg-", part=part,
                                   store_text=store_text)
        if merge and len(segments) > 1:
            segments = compact_segments(tmp, segments, "seg-m-", progress=progress)
            remove_unlisted(tmp, segments)
        _write_manifest(tmp, reading.normalizer, segments, reading.text_split, paths, t0, store_text)
    if part is None:  # a shard is stamped with its set, where it ends up
        stamp_as_verified([out])
    return _stats(out, t0)


def add_documents(
    index: str | os.PathLike,
    sources: Sequence[str | os.PathLike],
    *,
    text_split: str = "paragraph",
    skip_bad_lines: bool = False,
    progress: bool = True,
    workers: int | None = None,
    segment_tokens: int = SEGMENT_TOKENS,
    merge: bool = True,
) -> MmapBuildStats:
    """Add the documents of ``sources`` to an existing index as new segments (nothing is rebuilt).
    ``merge``: merge the new segments among themselves (``compact_index`` merges them all)."""
    index = Path(index)
    paths = [Path(s) for s in sources]
    t0 = time.perf_counter()
    with _updating(index, paths, "index add") as (meta, prefix):
        normalizer = Normalizer.from_dict(meta["normalizer"])
        reading = Reading(normalizer, text_split, skip_bad_lines)
        store_text = meta.get("store_text", True)  # as the index was built
        added = _build_segments(paths, index, reading, progress, (workers, segment_tokens), prefix=prefix,
                                store_text=store_text)
        if merge and len(added) > 1:
            added = compact_segments(index, added, f"{prefix}m-", progress=progress)
        _write_manifest(index, normalizer, meta["segments"] + added, meta.get("text_split", text_split),
                        [Path(s["path"]) for s in meta.get("sources", [])] + paths, t0, store_text)
    stamp_as_verified([index])
    return _stats(index, t0)


def compact_index(index: str | os.PathLike, *, progress: bool = True, max_positions: int = MAX_POSITIONS) -> MmapBuildStats:
    """Merge the index's segments into as few as fit (after many ``add_documents``); atomic: the
    manifest switches to the merged segments in one step, and readers of the old ones keep them.
    ``max_positions`` caps a merged segment (the default is what ``uint32`` positions allow)."""
    index = Path(index)
    t0 = time.perf_counter()
    with _updating(index, [], "index compact") as (meta, prefix):
        merged = compact_segments(index, meta["segments"], f"{prefix}m-", progress=progress,
                                  max_positions=max_positions)
        if merged != meta["segments"]:
            _write_manifest(index, Normalizer.from_dict(meta["normalizer"]), merged,
                            meta.get("text_split", "paragraph"), [Path(s["path"]) for s in meta.get("sources", [])], t0,
                            meta.get("store_text", True))
    stamp_as_verified([index])
    return _stats(index, t0)


@contextlib.contextmanager
def _updating(index: Path, inputs: list[Path], what: str):
    """An in-place change of an index: under its lock, with what a killed run left removed first;
    yields (manifest, prefix for new segment names). If the block fails, everything carrying the
    prefix goes (the manifest was not replaced); if it succeeds, the segments the new manifest no
    longer lists go (readers that still have them open keep their files)."""
    check_outputs(inputs, {"INDEX": (index, ARTEFACT)})
    with OutputLock(index, what):
        meta = read_manifest(index)
        remove_unlisted(index, meta["segments"])  # written by an add or compaction killed before its manifest
        prefix = f"seg-{int(time.time() * 1000):x}-"
        try:
            yield meta, prefix
        except BaseException as exc:
            for partial in index.glob(f"{prefix}*"):
                remove_path(partial)
            if isinstance(exc, OSError):  # a full disk: the index is unchanged, say so in one line
                raise BuildError(f"{what}: {write_failure(index, exc)}; the index is unchanged") from exc
            raise
        remove_unlisted(index, read_manifest(index)["segments"])


def _stats(path: Path, t0: float) -> MmapBuildStats:
    meta = read_manifest(path)
    return MmapBuildStats(path, meta["tokens"], meta["documents"], len(meta["segments"]), time.perf_counter() - t0,
                          _size(path))


def _build_segments(paths, work: Path, reading: Reading, progress: bool, sizes: tuple[int | None, int], prefix: str,
                    part: tuple[int, int] | None = None, store_text: bool = True) -> list[dict]:
    """Segments of ``paths`` written under ``work`` by worker processes (``sizes``: how many workers,
    at most, and tokens per segment) fed in turn with batches of documents."""
    workers, segment_tokens = sizes
    normalizer, text_split, skip_bad_lines = reading.normalizer, reading.text_split, reading.skip_bad_lines
    total = sum(p.stat().st_size for p in paths if p.is_file())
    # Each worker writes at least one segment: a small corpus is not split into slow pieces.
    enough = max(1, total // (part[1] if part else 1) // (64 << 20))
    workers = max(1, min(workers or min(os.cpu_count() or 1, 8), enough))
    ctx = multiprocessing.get_context("fork")  # like quco score: workers start at once, from any __main__
    results = ctx.Queue()
    queues = [ctx.Queue(maxsize=4) for _ in range(workers)]  # bounded: the reader cannot run ahead
    procs = [ctx.Process(target=_worker, args=(q, results, str(work), normalizer.to_dict(), segment_tokens,
                                               f"{prefix}{i:02d}-", os.getpid(), store_text), daemon=True)
             for i, q in enumerate(queues)]
    for p in procs:
        p.start()
    bar = progress_bar(total, progress)
    try:
        batch, chars, turn = [], 0, 0
        for path in paths:
            for doc in iter_documents(path, text_split=text_split, skip_bad_lines=skip_bad_lines, on_bytes=bar.update,
                                      part=part):
                batch.append((doc.text, doc.id, doc.title))
                chars += len(doc.text)
                if chars >= _BATCH_CHARS:
                    _put(queues[turn % workers], batch, procs)
                    batch, chars, turn = [], 0, turn + 1
        if batch:
            _put(queues[turn % workers], batch, procs)
        for q in queues:
            _put(q, None, procs)
        segments: list[dict] = []
        errors: list[str] = []
        for _ in procs:
            status, value = _get(results, procs)
            (segments.extend if status == "ok" else errors.append)(value)
        if errors:
            if disk_full(errors[0]):
                raise BuildError(f"a build worker failed {write_failure(work, errors[0])}")
            raise BuildError(f"a build worker failed: {errors[0]}")
    finally:
        bar.close()
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
    if not any(s["tokens"] for s in segments):
        raise BuildError("the sources contain no word tokens")
    return sorted(segments, key=lambda s: s["name"])


def _put(queue, item, procs) -> None:
    import queue as queue_mod

    while True:
        try:
            queue.put(item, timeout=1.0)
            return
        except queue_mod.Full:
            if not all(p.is_alive() for p in procs):  # a worker died (e.g. out of memory): stop reading
                raise BuildError("a build worker died; see the message above") from None


def _get(results, procs) -> tuple:
    """The next worker's result; ``BuildError`` if a worker died without one (killed, or crashed
    in native code) instead of waiting for it forever."""
    import queue as queue_mod

    while True:
        try:
            return results.get(timeout=1.0)
        except queue_mod.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise BuildError("a build worker died; see the message above") from None


def _write_manifest(root: Path, normalizer, segments: list[dict], text_split, paths, t0, store_text: bool) -> None:
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "normalizer": normalizer.to_dict(),
        "tokens": sum(s["tokens"] for s in segments),
        "documents": sum(s["documents"] for s in segments),
        "segments": segments,
        "text_split": text_split,
        "store_text": store_text,
        "sources": [{"path": str(p), "bytes": p.stat().st_size if p.exists() else None} for p in paths],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - t0, 3),
        "quco_version": quco_version(),
    }
    meta["checksum"] = manifest_checksum(meta)
    tmp = root / f".{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=1))
    fsync_file(tmp)
    os.replace(tmp, root / MANIFEST)
    fsync_dir(root)




def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
