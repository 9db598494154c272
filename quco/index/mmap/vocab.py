"""One vocabulary for a set of segments: the shards of a sharded index, looked up with one search.

Each segment finds a word by a binary search of its own sorted word hashes. Over N shards that is
N searches per new word, a fixed cost per shard that a single index does not pay. The shared
vocabulary is the union of the segments' hashes, sorted, with each word's id and count in every
segment: one search finds a word in all of them.

Layout (``ROOT/vocab/``, written by ``quco index build --shards`` and ``quco index vocab``):

  hash.npy    uint64 [V]       the union of the segments' word hashes, sorted
  ids.npy     int32  [V, S]    the word's id in segment s; -1: absent; -2: segment s holds another
                               word with the same 64-bit hash (looked up in that segment itself)
  cnt.npy     uint32 [V, S]    its count in segment s (0 where absent)
  vocab.json  format, the fingerprint of the segments it describes (written last)

**Only an accelerator.** A word is confirmed against its stored bytes in the first segment that
holds it; the build compared those bytes with every other segment holding the same hash, so one
comparison settles all of them. The fingerprint names each shard's build time and segments
(name, tokens, words): when a shard is rebuilt, extended or compacted, the vocabulary no longer
matches, the index answers without it (the same answers, slower) and says how to rewrite it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from quco.errors import BuildError, QucoError
from quco.index.checksums import file_problem, files_checksums, manifest_checksum, manifest_problem

VOCAB_DIR = "vocab"
FORMAT_NAME = "quco-shared-vocabulary"
FORMAT_VERSION = 1
_ELSEWHERE = -2  # the segment holds another word with this hash: ask the segment


def fingerprint(manifests: Sequence[tuple[str, dict]]) -> list:
    """What the vocabulary must match: per index (its directory name and manifest), the build time
    and each segment's name, tokens and vocabulary size."""
    return [[name, meta.get("built_at"), [[e["name"], int(e["tokens"]), int(e["vocab"])] for e in meta["segments"]]]
            for name, meta in manifests]


def manifests_of(index_dirs: Sequence[str | os.PathLike]) -> list[tuple[str, dict]]:
    """(directory name, manifest) of each index, in order: what ``fingerprint`` reads."""
    from quco.index.mmap.format import read_manifest

    return [(Path(d).name, read_manifest(d)) for d in index_dirs]


def write_vocabulary(root: str | os.PathLike, index_dirs: Sequence[str | os.PathLike]) -> int:
    """Write ``root/vocab`` for the segments of ``index_dirs`` (in order); returns the number of
    distinct words. Written beside and swapped in, so a reader sees the old vocabulary or the new."""
    from quco.index.mmap.segment import Segment

    dirs = [Path(d) for d in index_dirs]
    manifests = manifests_of(dirs)
    segments = [Segment(d, e) for d, (_, meta) in zip(dirs, manifests) for e in meta["segments"]]
    union, ids, cnt = union_of(segments)
    save_vocabulary(Path(root), union, ids, cnt, fingerprint(manifests))
    return int(len(union))


def union_of(segments: Sequence) -> tuple:
    """(sorted union of the segments' word hashes, ids [V, S], counts [V, S]); segments holding
    another word under the same hash are marked ``_ELSEWHERE``."""
    import numpy as np

    hashes = np.concatenate([seg.hash for seg in segments]) if segments else np.zeros(0, np.uint64)
    union, inverse = np.unique(hashes, return_inverse=True)
    del hashes
    ids = np.full((len(union), len(segments)), -1, dtype=np.int32)
    cnt = np.zeros((len(union), len(segments)), dtype=np.uint32)
    at = 0
    for k, seg in enumerate(segments):
        n = len(seg.hash)
        rows = inverse[at: at + n]
        ids[rows, k] = np.arange(n, dtype=np.int32)
        cnt[rows, k] = seg.cnt
        at += n
    _mark_collisions(segments, ids, cnt)
    return union, ids, cnt


def save_vocabulary(root: Path, union, ids, cnt, prints: list) -> None:
    """Write the arrays and then ``vocab.json`` beside ``root/vocab`` and swap them in."""
    import numpy as np

    for leftover in [*root.glob(f".{VOCAB_DIR}.writing-*"), *root.glob(f".{VOCAB_DIR}.old-*")]:
        shutil.rmtree(leftover, ignore_errors=True)  # of a killed rewrite (the caller holds the lock)
    part = root / f".{VOCAB_DIR}.writing-{os.getpid()}"
    try:
        part.mkdir(parents=True)
        for name, arr in (("hash.npy", union), ("ids.npy", ids), ("cnt.npy", cnt)):
            np.save(part / name, arr)
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "words": int(len(union)),
                "segments": int(ids.shape[1]), "fingerprint": prints, "files": files_checksums(part)}
        meta["checksum"] = manifest_checksum(meta)
        (part / "vocab.json").write_text(json.dumps(meta))
        for f in part.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final, old = root / VOCAB_DIR, root / f".{VOCAB_DIR}.old-{os.getpid()}"
        if final.exists():
            final.rename(old)  # a reader opening now finds no vocabulary and answers without it
        part.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise BuildError(f"writing the shared vocabulary of {root}: {exc}") from exc
    finally:
        shutil.rmtree(part, ignore_errors=True)


def _mark_collisions(segments, ids, cnt, chunk: int = 1 << 20) -> None:
    """Where two segments hold different words with the same hash, mark the later ones
    ``_ELSEWHERE``, so a lookup confirmed against the first holder is right for all of them.
    Vectorised (lengths, then the bytes of equal-length words), ``chunk`` rows at a time: a
    sharded build of 10^9 tokens compares millions of shared words."""
    import numpy as np

    held = ids >= 0
    multi = np.flatnonzero(held.sum(axis=1) > 1)
    if not len(multi):
        return
    first = held[multi].argmax(axis=1)
    blobs = [np.frombuffer(seg.words, dtype=np.uint8) if len(seg.words) else np.zeros(0, np.uint8) for seg in segments]
    offs = [np.asarray(seg.word_off, dtype=np.int64) for seg in segments]
    for at in range(0, len(multi), chunk):
        rows, f = multi[at: at + chunk], first[at: at + chunk]
        for k in range(1, len(segments)):
            for g in range(k):  # the first holder g of the rows segment k also holds
                sel = (f == g) & (ids[rows, k] >= 0)
                if not sel.any():
                    continue
                r = rows[sel]
                wk, wg = ids[r, k].astype(np.int64), ids[r, g].astype(np.int64)
                sk, sg = offs[k][wk], offs[g][wg]
                lk, lg = offs[k][wk + 1] - sk, offs[g][wg + 1] - sg
                same = lk == lg
                if same.any():
                    n = lk[same]
                    base = np.repeat(np.cumsum(n) - n, n)
                    step = np.arange(int(n.sum())) - base
                    eq = blobs[k][np.repeat(sk[same], n) + step] == blobs[g][np.repeat(sg[same], n) + step]
                    same[same] = np.logical_and.reduceat(eq, np.cumsum(n) - n) if len(eq) else True
                bad = r[~same]
                ids[bad, k], cnt[bad, k] = _ELSEWHERE, 0


class StaleVocabulary(QucoError):
    """The vocabulary is missing, damaged, or describes other segments (internal: the index then
    answers without it)."""


def vocabulary_problem(root: str | os.PathLike, manifests: Sequence[tuple[str, dict]]) -> str | None:
    """Why ``root/vocab`` cannot serve the indexes of ``manifests`` (None: it can)."""
    try:
        meta = json.loads((Path(root) / VOCAB_DIR / "vocab.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"missing or damaged ({exc})"
    if not isinstance(meta, dict):
        return "damaged (vocab.json is not a JSON object)"
    if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
        return "written by another quco"
    if meta.get("fingerprint") != fingerprint(manifests):
        return "the shards changed since it was written"
    if manifest_problem(Path(root) / VOCAB_DIR / "vocab.json", meta) is not None:
        return "damaged (vocab.json differs from what was written)"
    for name, want in (meta.get("files") or {}).items():  # small beside the shards: checked at every open
        problem = file_problem(Path(root) / VOCAB_DIR / name, want)
        if problem is not None:
            return problem
    return None


class SharedVocabulary:
    """Memory-mapped ``root/vocab`` for ``segments`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, segments: Sequence, manifests: Sequence[tuple[str, dict]]):
        """``manifests``: (directory name, manifest) of the indexes ``segments`` come from, in order."""
        import numpy as np

        problem = vocabulary_problem(root, manifests)
        if problem:
            raise StaleVocabulary(problem)
        d = Path(root) / VOCAB_DIR
        try:
            load = lambda n: np.load(d / n, mmap_mode="r").view(np.ndarray)
            self.hash, self.ids, self.cnt = load("hash.npy"), load("ids.npy"), load("cnt.npy")
        except (OSError, ValueError) as exc:
            raise StaleVocabulary(f"missing or damaged ({exc})") from None
        if self.ids.shape != (len(self.hash), len(segments)) or self.cnt.shape != self.ids.shape:
            raise StaleVocabulary("its sizes disagree with its segments")
        self.segments = list(segments)

    def lookup(self, tokens, raws, hs, h_list) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Each token's (id in every segment, count in every segment); -1 and 0 where absent."""
        hashes, segments = self.hash, self.segments
        n, absent = len(hashes), (-1,) * len(segments)
        out = []
        for k, (r, h) in enumerate(zip(hashes.searchsorted(hs).tolist(), h_list)):
            if r >= n or int(hashes[r]) != h:
                out.append((absent, (0,) * len(segments)))
                continue
            ids, cnts = self.ids[r].tolist(), self.cnt[r].tolist()
            f = 0
            while ids[f] < 0:
                f += 1
            seg = segments[f]
            lo, hi = seg.word_off[ids[f]: ids[f] + 2].tolist()
            if seg.words[lo: hi] == raws[k]:
                ids = [w if w >= 0 else -1 for w in ids]
            else:  # another word with this hash; ours can only be in a segment marked elsewhere
                ids = [self._ask(s, tokens[k], raws[k], h) if w == _ELSEWHERE else -1 for s, w in enumerate(ids)]
                cnts = [int(segments[s].cnt[w]) if w >= 0 else 0 for s, w in enumerate(ids)]
            out.append((tuple(ids), tuple(cnts)))
        return out

    def _ask(self, s: int, tok, raw, h) -> int:
        import numpy as np

        return self.segments[s].word_ids([tok], [raw], np.array([h], dtype=np.uint64), [h])[0]
