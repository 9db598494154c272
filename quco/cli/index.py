"""`quco index build|add|compact|vocab|info`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from quco.cli.common import Parser, emit
from quco.errors import UsageError


def register(sub) -> None:
    idx = sub.add_parser("index", help="build or describe an index")
    isub = idx.add_subparsers(dest="index_command", required=True, parser_class=Parser)
    b = isub.add_parser("build", help="build an n-gram index from JSONL, plain text or Parquet files")
    b.add_argument("sources", nargs="+", metavar="SRC")
    b.add_argument("--out", required=True, help="index to write: a file (duckdb) or a directory (infinigram)")
    b.add_argument("--backend", default="duckdb", choices=["duckdb", "mmap", "infinigram"],
                   help="duckdb: embedded index, loaded into memory (default, up to ~50M tokens); mmap: segmented "
                        "memory-mapped index for 10^8-10^10+ tokens; infinigram: byte-level suffix array")
    b.add_argument("--workers", type=int, help="build processes for --backend mmap (default: the CPU count)")
    b.add_argument("--segment-tokens", type=int, default=96_000_000,
                   help="tokens per segment for --backend mmap (bounds build memory, ~25 bytes per token per worker)")
    b.add_argument("--shards", type=int, help="--backend mmap: split the corpus into this many document-partitioned "
                   "indexes under --out (answered as one; each can be served on its own)")
    b.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="with --shards: build the shards as Ray tasks (local Ray, or the cluster at ADDRESS)")
    b.add_argument("--no-merge", action="store_true",
                   help="--backend mmap: keep the segments as built instead of merging them (faster build, slower queries)")
    b.add_argument("--no-case-fold", action="store_true", help="keep case (default: case-insensitive counts)")
    b.add_argument("--text-split", default="paragraph", choices=["paragraph", "line", "file"],
                   help="how plain-text files are cut into documents (default: blank-line paragraphs)")
    b.add_argument("--skip-bad-lines", action="store_true", help="skip malformed JSONL lines instead of failing")
    b.add_argument("--no-text", action="store_true", help="do not store document text in the index")
    b.add_argument("--no-progress", action="store_true")
    b.add_argument("--json", action="store_true", help="print the build's figures as JSON")
    b.add_argument("--force", action="store_true", help="replace --out even if it is not a quco index")
    a = isub.add_parser("add", help="add documents to a memory-mapped index (new segments; nothing is rebuilt)")
    a.add_argument("index")
    a.add_argument("sources", nargs="+", metavar="SRC")
    a.add_argument("--text-split", default="paragraph", choices=["paragraph", "line", "file"])
    a.add_argument("--skip-bad-lines", action="store_true")
    a.add_argument("--workers", type=int)
    a.add_argument("--segment-tokens", type=int, default=96_000_000)
    a.add_argument("--no-merge", action="store_true", help="keep the new segments as built instead of merging them")
    a.add_argument("--no-progress", action="store_true")
    a.add_argument("--json", action="store_true")
    m = isub.add_parser("compact", help="merge a memory-mapped index's segments into as few as fit (faster queries)")
    m.add_argument("index")
    m.add_argument("--no-progress", action="store_true")
    m.add_argument("--json", action="store_true")
    vo = isub.add_parser("vocab", help="rewrite a sharded index's shared vocabulary (after a shard changed)")
    vo.add_argument("path")
    i = isub.add_parser("info", help="describe an index")
    i.add_argument("path")
    i.add_argument("--json", action="store_true")
    ve = isub.add_parser("verify", help="check every file of an index against what its build wrote (exit 4 if damaged)")
    ve.add_argument("path")
    ve.add_argument("--json", action="store_true")
    idx.set_defaults(handler=cmd_index)
    ve.set_defaults(handler=cmd_index_verify)
    vo.set_defaults(handler=cmd_index_vocab)


def cmd_index(args) -> int:
    if args.index_command == "build":
        from quco.normalize import Normalizer

        progress = not args.no_progress and sys.stderr.isatty()
        if args.backend != "mmap" and (args.no_merge or args.workers is not None or args.shards is not None):
            raise UsageError("--no-merge, --workers and --shards apply to --backend mmap only")
        if args.ray is not None and args.shards is None:
            raise UsageError("--ray builds shards: give --shards N as well")
        if args.shards is not None:
            return _build_sharded(args, progress)
        if args.backend == "infinigram":
            return _build_infinigram(args, progress)
        if args.backend == "mmap":
            return _build_mmap(args, progress)
        from quco.index.duckdb.build import build_index

        stats = build_index(
            args.sources,
            args.out,
            normalizer=Normalizer(case_fold=not args.no_case_fold),
            text_split=args.text_split,
            skip_bad_lines=args.skip_bad_lines,
            progress=progress,
            store_text=not args.no_text,
            force=args.force,
        )
        rate = stats.tokens / stats.seconds if stats.seconds else 0.0
        return emit(args, stats, f"built {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens, "
                                  f"{stats.vocab:,} words, {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s "
                                  f"({rate:,.0f} tokens/s)")
    if args.index_command == "add":
        return _add_mmap(args)
    if args.index_command == "compact":
        from quco.index.mmap.build import compact_index

        compacted = compact_index(args.index, progress=not args.no_progress and sys.stderr.isatty())
        _print_mmap(args, compacted, "compacted")
        return refresh_shard_vocabulary(args.index)
    if args.index_command == "vocab":
        return cmd_index_vocab(args)
    from quco.cli.render import render_info
    from quco.index.open import describe

    kind, info = describe(args.path)
    if kind == "duckdb":
        print(json.dumps(info.to_dict(), indent=2) if args.json else render_info(info))
    else:
        print(json.dumps(info, indent=2) if args.json else "\n".join(f"{k:<16} {v}" for k, v in info.items()))
    return 0


def _build_mmap(args, progress: bool) -> int:
    from quco.index.mmap.build import build_mmap_index

    _check_build_sizes(args)
    stats = build_mmap_index(args.sources, args.out, reading=_reading(args), progress=progress, force=args.force,
                             workers=args.workers, segment_tokens=args.segment_tokens, merge=not args.no_merge,
                             store_text=not args.no_text)
    return _print_mmap(args, stats, "built")


def _build_sharded(args, progress: bool) -> int:
    from quco.index.sharded.build import build_sharded_index

    if args.ray is not None:
        from quco.backends.ray import init_ray

        init_ray(args.ray or None)
    stats = build_sharded_index(args.sources, args.out, shards=args.shards, reading=_reading(args), force=args.force,
                                processes=args.workers,
                                ray=args.ray is not None, segment_tokens=args.segment_tokens, progress=progress,
                                store_text=not args.no_text)
    rate = stats.tokens / stats.seconds if stats.seconds else 0.0
    return emit(args, stats, f"built {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens in "
                              f"{stats.shards} shard(s), {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s "
                              f"({rate:,.0f} tokens/s)")


def _add_mmap(args) -> int:
    from quco.index.mmap.build import add_documents

    _check_build_sizes(args)
    stats = add_documents(args.index, args.sources, text_split=args.text_split, skip_bad_lines=args.skip_bad_lines,
                          progress=not args.no_progress and sys.stderr.isatty(), workers=args.workers,
                          segment_tokens=args.segment_tokens, merge=not args.no_merge)
    _print_mmap(args, stats, "updated")
    return refresh_shard_vocabulary(args.index)


def cmd_index_verify(args) -> int:
    from quco.index.open import verify

    report = verify(args.path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for problem in report["damaged"]:
            print(f"damaged  {problem}")
        verdict = "DAMAGED" if report["damaged"] else "ok"
        print(f"{verdict}: {args.path} ({report['kind']}), {report['checked']:,} files or tables checked"
              + (f"; {report['note']}" if report["note"] else ""))
    return 4 if report["damaged"] else 0


def _reading(args):
    """``--no-case-fold``, ``--text-split`` and ``--skip-bad-lines`` as a ``Reading``."""
    from quco.files.sources import Reading
    from quco.normalize import Normalizer

    return Reading(Normalizer(case_fold=not args.no_case_fold), args.text_split, args.skip_bad_lines)


def _check_build_sizes(args) -> None:
    if (args.workers is not None and args.workers < 1) or args.segment_tokens < 1000:
        raise UsageError("--workers must be at least 1 and --segment-tokens at least 1000")


def _print_mmap(args, stats, verb: str) -> int:
    rate = stats.tokens / stats.seconds if stats.seconds else 0.0
    return emit(args, stats, f"{verb} {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens in "
                              f"{stats.segments} segment(s), {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s "
                              f"({rate:,.0f} tokens/s)")


def _build_infinigram(args, progress: bool) -> int:
    from quco.index.infinigram.build import build_infinigram_index
    from quco.normalize import Normalizer

    stats = build_infinigram_index(
        args.sources,
        args.out,
        normalizer=Normalizer(case_fold=not args.no_case_fold),
        text_split=args.text_split,
        skip_bad_lines=args.skip_bad_lines,
        progress=progress,
        force=args.force,
        store_text=not args.no_text,
    )
    rate = stats.tokens / stats.seconds if stats.seconds else 0.0
    return emit(args, stats, f"built {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens, "
                              f"{stats.index_bytes / 1e6:.1f} MB in {stats.seconds:.1f} s ({rate:,.0f} tokens/s)")


def cmd_index_vocab(args) -> int:
    from quco.index.sharded.build import rewrite_vocabulary
    from quco.index.sharded.format import is_index

    if not is_index(Path(args.path)):
        raise UsageError(f"{args.path}: not a sharded index (built with `quco index build --shards N`)")
    words = rewrite_vocabulary(args.path)
    print(f"wrote the shared vocabulary of {args.path}: {words:,} words")
    return 0


def refresh_shard_vocabulary(index: str) -> int:
    """After ``quco index add``/``compact`` of one shard of a sharded index: rewrite the set's
    shared vocabulary, which no longer matches (the shards answer correctly without it, slower)."""
    from quco.index.sharded.build import rewrite_vocabulary
    from quco.index.sharded.format import is_index, read_shards_manifest

    shard = Path(index).resolve()
    root = shard.parent
    if is_index(root) and shard.name in read_shards_manifest(root)["shards"]:
        words = rewrite_vocabulary(root)
        print(f"rewrote the shared vocabulary of {root}: {words:,} words")
    return 0
