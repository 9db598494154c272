"""Building a byte-level infini-gram index (suffix array) of normalised text.

The ``infini-gram`` package's own indexer imports ``transformers`` and fails on tiny corpora, so
quco writes the engine's input files itself and runs the package's bundled ``rust_indexing``
binary for the suffix array:

  tokenized.0   b"\\xff" + b" " + b" ".join(normalised words) + b" "   per document (u8 "tokens")
  offset.0      uint64 byte offset of each document in tokenized.0
  table.0       the suffix array (written by rust_indexing)
  positions.0.npy  byte offset of the space before every word: maps engine pointers to word
                   positions, so co-occurrence windows can be counted in words
  docs.bin, text.bin (and their offsets)  each document's id and title, and its original text
                   (``quco.index.records``; text not with ``store_text=False``): provenance,
                   titles and passages, which the normalised stream cannot show
  quco.json     format, normalisation, corpus size, build settings

Indexing normalised words padded with spaces makes a byte-level substring query for
``" word1 word2 "`` count exactly what the DuckDB index counts (0xFF never occurs in UTF-8).
The directory is written under a temporary name and swapped into place when complete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quco.errors import BuildError, QucoError
from quco.files.building import build_sources, progress_bar, quco_version, swap_into_place, write_failure
from quco.files.outputs import OutputLock
from quco.files.sources import iter_documents
from quco.index.checksums import files_checksums, manifest_checksum
from quco.index.infinigram.format import ARTEFACT, FORMAT_NAME, FORMAT_VERSION, META_FILE, index_files
from quco.index.records import RecordsWriter
from quco.index.verified import record_verified
from quco.normalize import Normalizer
from quco.process import install_sigterm, restore_sigterm

DOC_SEPARATOR = b"\xff"
_PART_OVERLAP = 100_000  # bytes each part reads past its end (rust_indexing's --hacksize), as in infini-gram's indexer
_SINGLE_JOB_BYTES = 4 << 20  # below this, one make-part job is as fast as several


@dataclass(frozen=True)
class InfiniGramBuildStats:
    path: Path
    tokens: int
    documents: int
    bytes: int
    seconds: float
    index_bytes: int


def rust_indexing_binary() -> Path:
    try:
        import infini_gram
    except ImportError:
        raise BuildError("the infini-gram backend needs the `infini-gram` package: pip install 'quco[infinigram]'") from None
    binary = Path(infini_gram.__file__).parent / "rust_indexing"
    if not binary.exists():
        raise BuildError(f"{binary}: rust_indexing binary missing from the infini-gram package")
    return binary


def build_infinigram_index(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    normalizer: Normalizer | None = None,
    text_split: str = "paragraph",
    skip_bad_lines: bool = False,
    progress: bool = True,
    cpus: int | None = None,
    force: bool = False,
    store_text: bool = True,
) -> InfiniGramBuildStats:
    """Build a byte-level infini-gram index directory at ``out`` atomically (``force``: see
    ``quco.files.outputs``); ``store_text=False`` keeps the documents' ids and titles but not their
    original text (no passages or sentences to show)."""
    normalizer = normalizer or Normalizer()
    out = Path(out)
    paths = build_sources(sources, out, ARTEFACT, force)
    rust_indexing_binary()  # fail before reading the corpus if the package is missing
    with OutputLock(out, "index build"):
        return _build(paths, out, normalizer, text_split, skip_bad_lines, progress, cpus, store_text)


def _build(paths, out, normalizer, text_split, skip_bad_lines, progress, cpus, store_text) -> InfiniGramBuildStats:
    import numpy as np

    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    cpus = max(1, cpus or min(os.cpu_count() or 1, 8))
    t0 = time.perf_counter()
    bar = progress_bar(sum(p.stat().st_size for p in paths if p.is_file()), progress)
    import signal

    previous = signal.getsignal(signal.SIGTERM)  # before ours is installed, so it can be restored
    in_main = install_sigterm()
    try:
        tmp.mkdir()
        data = tmp / "tokenized.0"
        starts: list = []
        doc_offsets: list[int] = []
        n_tokens = n_docs = 0
        pos = 0
        kept = RecordsWriter(tmp, "documents", store_text)
        with open(data, "wb") as fh:
            for path in paths:
                for doc in iter_documents(path, text_split=text_split, skip_bad_lines=skip_bad_lines, on_bytes=bar.update):
                    words = normalizer.tokens(doc.text)
                    body = (" " + " ".join(words) + " ").encode("utf-8") if words else b" "
                    doc_offsets.append(pos)
                    if words:
                        lengths = np.fromiter((len(w.encode("utf-8")) + 1 for w in words), dtype=np.int64, count=len(words))
                        # the space before word i sits at pos + 1 (separator) + sum of earlier lengths
                        starts.append(pos + 1 + np.concatenate(([0], np.cumsum(lengths)[:-1])))
                    fh.write(DOC_SEPARATOR + body)
                    kept.add(doc.id, doc.title, doc.text)
                    pos += 1 + len(body)
                    n_tokens += len(words)
                    n_docs += 1
        bar.close()
        kept.finish(tmp)
        if not n_tokens:
            raise BuildError("the sources contain no word tokens")
        np.asarray(doc_offsets, dtype=np.uint64).tofile(tmp / "offset.0")
        width = np.uint32 if pos < 2**32 else np.uint64
        np.save(tmp / "positions.0.npy", np.concatenate(starts).astype(width))
        write_suffix_array(data, cpus=cpus, progress=progress)
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "token_dtype": "u8",
            "normalizer": normalizer.to_dict(),
            "tokens": n_tokens,
            "documents": n_docs,
            "bytes": pos,
            "bytes_per_token": (pos - 2 * n_docs) / n_tokens,  # a word plus its leading space, on average
            "text_split": text_split,
            "store_text": store_text,
            "sources": [{"path": str(p), "bytes": p.stat().st_size} for p in paths],
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - t0, 3),
            "quco_version": quco_version(),
            "files": files_checksums(tmp, skip=[META_FILE]),
        }
        meta["checksum"] = manifest_checksum(meta)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        swap_into_place(tmp, out)
        record_verified([p for p, _ in index_files(out, meta)], meta["checksum"])  # hashed as written
        size = sum(f.stat().st_size for f in out.iterdir())
        return InfiniGramBuildStats(out, n_tokens, n_docs, pos, time.perf_counter() - t0, size)
    except QucoError:
        raise
    except OSError as exc:
        raise BuildError(write_failure(out, exc)) from exc
    finally:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if in_main:
            restore_sigterm(previous)


def write_suffix_array(data: Path, *, token_width: int = 1, cpus: int = 1, progress: bool = False) -> Path:
    """Write ``table.N`` next to ``tokenized.N``: make-part (parallel) -> merge -> concat.

    The same three steps as infini-gram's indexer, run directly on the bundled binary.
    """
    binary = rust_indexing_binary()
    data = Path(data)
    work = data.parent
    table = work / data.name.replace("tokenized", "table")
    size = data.stat().st_size
    ratio = max(1, math.ceil(math.log2(size) / 8))
    jobs = 1 if size < _SINGLE_JOB_BYTES else cpus
    part = -(-size // jobs)
    part += (-part) % token_width  # parts hold whole tokens
    parts, merged = work / f"parts-{data.name}", work / f"merged-{data.name}"
    parts.mkdir()
    merged.mkdir()
    common = ["--ratio", str(ratio), "--token-width", str(token_width)]
    steps = [
        [[str(binary), "make-part", "--data-file", str(data), "--parts-dir", str(parts),
          "--start-byte", str(i * part), "--end-byte", str(min((i + 1) * part + _PART_OVERLAP, size)), *common]
         for i in range(jobs)],
        [[str(binary), "merge", "--data-file", str(data), "--parts-dir", str(parts), "--merged-dir", str(merged),
          "--num-threads", str(cpus if jobs > 1 else 1), "--hacksize", str(_PART_OVERLAP), *common]],
        [[str(binary), "concat", "--data-file", str(data), "--merged-dir", str(merged),
          "--merged-file", str(table), "--num-threads", str(cpus if jobs > 1 else 1), *common]],
    ]
    for name, commands in zip(("make-part", "merge", "concat"), steps):
        t = time.perf_counter()
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_raise_nofile)
                 for cmd in commands]
        try:
            errors = [(p.communicate()[1], p.returncode) for p in procs]
        finally:
            for p in procs:  # interrupted (Ctrl-C, SIGTERM): no orphaned indexer keeps writing
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for stderr, code in errors:
            if code != 0:
                tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
                raise BuildError(f"suffix array step {name} failed (exit {code}): {tail[0]}")
        if progress:
            import sys

            print(f"  suffix array: {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    shutil.rmtree(parts)
    shutil.rmtree(merged)
    return table


def _raise_nofile() -> None:
    # The merge step keeps one file per part open; use the hard limit (never exceed it).
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
