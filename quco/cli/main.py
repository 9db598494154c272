# PYTHON_ARGCOMPLETE_OK
"""The `quco` command line. The library raises; this module formats errors as one line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from quco import __version__
from quco.cli import ops as cli_ops
from quco.errors import QucoError, SourceError, Terminated, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other usage error
        self.exit(2, f"quco: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="quco", description="Decide when an LLM must retrieve, from corpus statistics (QuCo-RAG).")
    p.add_argument("--version", action="version", version=f"quco {__version__}")
    p.add_argument("--config", help="path to a quco.toml (default: ./quco.toml if present)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    idx = sub.add_parser("index", help="build or describe an index")
    isub = idx.add_subparsers(dest="index_command", required=True, parser_class=_Parser)
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

    c = sub.add_parser("check", help="should the model retrieve for this question (and draft)?")
    c.add_argument("question", help="the question ('-' reads it from standard input)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--draft", help="the draft answer to verify (stage 2)")
    g.add_argument("--draft-file", help="read the draft from a file ('-' for standard input)")
    _detector_options(c)
    c.add_argument("--json", action="store_true", help="print the full report as JSON")

    s = sub.add_parser("score", help="score every row of a JSONL/CSV/Parquet dataset (resumable)")
    s.add_argument("input")
    s.add_argument("-o", "--output", required=True, help="output file: .jsonl, .csv or .parquet")
    s.add_argument("--question-field", default="question")
    s.add_argument("--answer-field", help="also score this answer against the question (answer-level risk)")
    s.add_argument("--id-field", help="carry this input field as the row id (default: the row number)")
    s.add_argument("--pair-fields", metavar="CORRECT,FABRICATED",
                   help="each row holds two answers (e.g. right_answer,hallucinated_answer): score both, labelled")
    s.add_argument("--errors", help="where malformed rows go (default: OUTPUT.errors.jsonl)")
    s.add_argument("--workers", type=int, default=1, help="worker processes, or Ray actors with --ray (default 1)")
    s.add_argument("--chunk-size", type=int, default=512)
    s.add_argument("--audit", metavar="PATH", help="also record every decision in this audit log (DuckDB)")
    s.add_argument("--audit-text", action="store_true", help="store question text in the audit log (default: a keyed hash)")
    s.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="score on Ray (pip install 'quco[ray]'): a local Ray with this machine's cores, or the "
                        "cluster at ADDRESS (or RAY_ADDRESS)")
    s.add_argument("--restart", action="store_true", help="discard an interrupted run's parts and start over")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--json", action="store_true", help="print the run's figures as JSON")
    s.add_argument("--force", action="store_true", help="replace outputs even if quco did not write them")
    _detector_options(s)

    e = sub.add_parser("eval", help="AUROC/AUPRC/F1 of scored rows against a label, with PNG and HTML")
    e.add_argument("scored")
    e.add_argument("--label-field", required=True)
    e.add_argument("--positive", help="label value that marks a positive (default: true/1/yes/hallucinated)")
    e.add_argument("--score-field", help="default: answer_risk when present, else risk")
    e.add_argument("--threshold", type=float, default=0.5, help="decision threshold for answer_risk")
    e.add_argument("--type-field", help="column giving the question type (default: inferred from the question)")
    e.add_argument("--out", help="prefix for PREFIX.png and PREFIX.html (default: next to SCORED)")
    e.add_argument("--force", action="store_true", help="replace PREFIX.png/.html even if quco did not write them")
    e.add_argument("--json", action="store_true")

    cb = sub.add_parser("calibrate", help="fit risk -> P(fabrication) on labelled rows (JSONL/CSV/Parquet)")
    cb.add_argument("labelled")
    cb.add_argument("--out", required=True, help="the calibration file to write (JSON)")
    cb.add_argument("--label-field", default="label", help="positive = fabricated / needed retrieval (default: label)")
    cb.add_argument("--positive", help="label value that marks a positive (default: true/1/yes/hallucinated)")
    cb.add_argument("--question-field", default="question")
    cb.add_argument("--answer-field", help="calibrate the answer-level risk of this field")
    cb.add_argument("--id-field")
    cb.add_argument("--pair-fields", metavar="CORRECT,FABRICATED", help="each row holds a correct and a fabricated answer")
    cb.add_argument("--workers", type=int, default=1)
    cb.add_argument("--force", action="store_true", help="replace --out even if quco did not write it")
    cb.add_argument("--json", action="store_true")
    _detector_options(cb)

    v = sub.add_parser("serve", help="serve checks and counts over HTTP (FastAPI + uvicorn)")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--workers", type=int, default=1, help="worker processes sharing the index read-only")
    v.add_argument("--log-level", default="warning")
    v.add_argument("--token-file", help="file whose first line is the bearer token (default: $QUCO_API_TOKEN)")
    v.add_argument("--insecure-no-auth", action="store_true",
                   help="allow serving a non-loopback address without a token (anyone reaching it may query)")
    v.add_argument("--header-timeout", type=float, default=10.0, help="seconds a client has to send request headers")
    v.add_argument("--keep-alive-timeout", type=float, default=5.0, help="seconds an idle connection is kept open")
    v.add_argument("--heavy-workers", type=int,
                   help="processes per server worker for drafts and large batches, killed at the deadline (default 1)")
    v.add_argument("--max-request-chars", type=int,
                   help="characters of questions and drafts one request may hold (default 120000)")
    v.add_argument("--max-draft-sentences", type=int, help="sentences one draft may hold (default 1000)")
    v.add_argument("--audit", metavar="PATH", help="record every decision in this DuckDB file (and accept /v1/feedback)")
    v.add_argument("--audit-text", action="store_true",
                   help="store question and draft text in the audit log (default: a keyed hash only)")
    v.add_argument("--audit-retention-days", type=float, help="drop audit rows older than this")
    v.add_argument("--audit-retention-rows", type=int, help="keep at most this many audit rows (the newest)")
    _detector_options(v)

    mo = sub.add_parser("monitor", help="report on an audit log: decisions over time, drift, feedback, calibration")
    mo.add_argument("audit", help="the audit log (DuckDB) or its Parquet export")
    mo.add_argument("--out", help="write the HTML report here (default: AUDIT.report.html)")
    mo.add_argument("--json", action="store_true", help="print the report as JSON")
    mo.add_argument("--period", default="auto", choices=["auto", "minute", "hour", "day"])
    mo.add_argument("--calibrate", metavar="OUT.json", help="refit risk -> P(fabrication) on the feedback labels")
    fb = sub.add_parser("feedback", help="feedback on audited decisions")
    fbs = fb.add_subparsers(dest="feedback_command", required=True, parser_class=_Parser)
    fi = fbs.add_parser("import", help="import labels (JSONL, CSV or Parquet: request_id, label = correct|fabricated, note)")
    fi.add_argument("file")
    fi.add_argument("--audit", required=True, help="the audit log (not while quco serve writes it)")
    fi.add_argument("--json", action="store_true")
    md = sub.add_parser("model", help="the spaCy English pipeline quco uses")
    mds = md.add_subparsers(dest="model_command", required=True, parser_class=_Parser)
    for name, text in (("install", "install the pinned pipeline (hash-checked) into this environment"),
                       ("info", "which pipeline quco loads here")):
        mds.add_parser(name, help=text).add_argument("--json", action="store_true")
    au = sub.add_parser("audit", help="the audit log")
    aus = au.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    ae = aus.add_parser("export", help="decisions with their feedback as Parquet")
    ae.add_argument("audit")
    ae.add_argument("--out", required=True)
    ae.add_argument("--json", action="store_true")

    d = sub.add_parser("demo", help="index real Wikipedia text and run both stages on examples")
    d.add_argument("--corpus", help="use this corpus file instead of downloading the demo corpus")
    d.add_argument("--cache-dir", default="data/cache", help="where the downloaded corpus is kept")
    d.add_argument("--rebuild", action="store_true", help="rebuild the index even if it exists")
    _detector_options(d)
    d.add_argument("--json", action="store_true")
    return p


def _detector_options(p) -> None:
    p.add_argument("--index", help="index file (default: $QUCO_INDEX, quco.toml, or indexes/demo.duckdb)")
    p.add_argument("--backend", choices=["auto", "duckdb", "mmap", "infinigram-local", "infinigram-api"],
                   help="count backend (default auto: a file is DuckDB; a directory memory-mapped or infini-gram)")
    p.add_argument("--model", help="spaCy pipeline name, or 'rules' for the rule-based extractor")
    p.add_argument("--window", type=int, help="co-occurrence window in tokens (default 1000)")
    p.add_argument("--unknown-policy", choices=["risky", "ignore", "error"], help="what an unknown count means")
    p.add_argument("--mode", choices=["evidence", "quco"],
                   help="stage 2: evidence (association above chance, default) or quco (QuCo-RAG's rule: flag a pair "
                        "that never co-occurs)")
    p.add_argument("--calibration", metavar="CALIB.json", help="map risk to p_fabrication with this quco calibrate file")


def _settings(args):
    from quco.config import load_settings

    return load_settings(
        args.config,
        index=getattr(args, "index", None),
        model=getattr(args, "model", None),
        window=getattr(args, "window", None),
        unknown_policy=getattr(args, "unknown_policy", None),
        backend=getattr(args, "backend", None),
        mode=getattr(args, "mode", None),
        calibration=getattr(args, "calibration", None),
    )


def _read_draft(args) -> str | None:
    if args.draft is not None:
        return args.draft
    if args.draft_file is None:
        return None
    path = args.draft_file
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read draft ({exc.strerror})") from None
    if b"\x00" in raw:
        raise SourceError(f"{path}: looks like a binary file, expected UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _cmd_index(args) -> int:
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
        return _emit(args, stats, f"built {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens, "
                                  f"{stats.vocab:,} words, {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s "
                                  f"({rate:,.0f} tokens/s)")
    if args.index_command == "add":
        return _add_mmap(args)
    if args.index_command == "compact":
        from quco.index.mmap.build import compact_index

        stats = compact_index(args.index, progress=not args.no_progress and sys.stderr.isatty())
        _print_mmap(args, stats, "compacted")
        return cli_ops.refresh_shard_vocabulary(args.index)
    if args.index_command == "vocab":
        return cli_ops.cmd_index_vocab(args)
    from quco.cli.render import render_info

    if Path(args.path).is_dir() and (Path(args.path) / "quco-shards.json").exists():
        from quco.index.sharded.build import read_shards_manifest, vocabulary_status

        meta = read_shards_manifest(args.path)
        meta["vocabulary"] = vocabulary_status(args.path)
        print(json.dumps(meta, indent=2) if args.json else "\n".join(f"{k:<16} {v}" for k, v in meta.items()))
        return 0
    if Path(args.path).is_dir() and (Path(args.path) / "quco-index.json").exists():
        from quco.index.mmap.build import read_manifest

        meta = read_manifest(args.path)
        meta["segments"] = len(meta["segments"])
        print(json.dumps(meta, indent=2) if args.json else "\n".join(f"{k:<16} {v}" for k, v in meta.items()))
        return 0
    if Path(args.path).is_dir():
        from quco.index.infinigram.reader import read_infinigram_meta

        meta = read_infinigram_meta(args.path)
        if meta is None:
            raise UsageError(f"{args.path}: an infini-gram index not built by quco (no quco.json)")
        print(json.dumps(meta, indent=2) if args.json else "\n".join(f"{k:<16} {v}" for k, v in meta.items()))
        return 0
    from quco.index.duckdb.reader import index_info

    info = index_info(args.path)
    print(json.dumps(info.to_dict(), indent=2) if args.json else render_info(info))
    return 0


def _build_mmap(args, progress: bool) -> int:
    from quco.index.mmap.build import build_mmap_index
    from quco.normalize import Normalizer

    if args.no_text:
        raise UsageError("--no-text applies to the duckdb backend only (a memory-mapped index stores no text)")
    _check_build_sizes(args)
    stats = build_mmap_index(args.sources, args.out, normalizer=Normalizer(case_fold=not args.no_case_fold),
                             text_split=args.text_split, skip_bad_lines=args.skip_bad_lines, progress=progress,
                             force=args.force, workers=args.workers, segment_tokens=args.segment_tokens,
                             merge=not args.no_merge)
    return _print_mmap(args, stats, "built")


def _build_sharded(args, progress: bool) -> int:
    from quco.normalize import Normalizer
    from quco.index.sharded.build import build_sharded_index

    if args.no_text:
        raise UsageError("--no-text applies to the duckdb backend only (a memory-mapped index stores no text)")
    if args.ray is not None:
        from quco.index.sharded.ray import init_ray

        init_ray(args.ray or None)
    stats = build_sharded_index(args.sources, args.out, shards=args.shards,
                                normalizer=Normalizer(case_fold=not args.no_case_fold), text_split=args.text_split,
                                skip_bad_lines=args.skip_bad_lines, force=args.force, processes=args.workers,
                                ray=args.ray is not None, segment_tokens=args.segment_tokens, progress=progress)
    rate = stats.tokens / stats.seconds if stats.seconds else 0.0
    return _emit(args, stats, f"built {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens in "
                              f"{stats.shards} shard(s), {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s "
                              f"({rate:,.0f} tokens/s)")


def _add_mmap(args) -> int:
    from quco.index.mmap.build import add_documents

    _check_build_sizes(args)
    stats = add_documents(args.index, args.sources, text_split=args.text_split, skip_bad_lines=args.skip_bad_lines,
                          progress=not args.no_progress and sys.stderr.isatty(), workers=args.workers,
                          segment_tokens=args.segment_tokens, merge=not args.no_merge)
    _print_mmap(args, stats, "updated")
    return cli_ops.refresh_shard_vocabulary(args.index)


def _check_build_sizes(args) -> None:
    if (args.workers is not None and args.workers < 1) or args.segment_tokens < 1000:
        raise UsageError("--workers must be at least 1 and --segment-tokens at least 1000")


def _print_mmap(args, stats, verb: str) -> int:
    rate = stats.tokens / stats.seconds if stats.seconds else 0.0
    return _emit(args, stats, f"{verb} {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens in "
                              f"{stats.segments} segment(s), {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s "
                              f"({rate:,.0f} tokens/s)")


def _emit(args, stats, line: str) -> int:
    """A command's figures: one line for people, or with --json the stats object for programs."""
    if getattr(args, "json", False):
        from dataclasses import asdict

        print(json.dumps(asdict(stats), indent=2, default=str))
    else:
        print(line)
    return 0


def _build_infinigram(args, progress: bool) -> int:
    from quco.index.infinigram.build import build_infinigram_index
    from quco.normalize import Normalizer

    if args.no_text:
        raise UsageError("--no-text applies to the duckdb backend only (an infini-gram index is the text)")
    stats = build_infinigram_index(
        args.sources,
        args.out,
        normalizer=Normalizer(case_fold=not args.no_case_fold),
        text_split=args.text_split,
        skip_bad_lines=args.skip_bad_lines,
        progress=progress,
        force=args.force,
    )
    rate = stats.tokens / stats.seconds if stats.seconds else 0.0
    return _emit(args, stats, f"built {stats.path}: {stats.documents:,} documents, {stats.tokens:,} tokens, "
                              f"{stats.index_bytes / 1e6:.1f} MB in {stats.seconds:.1f} s ({rate:,.0f} tokens/s)")


def _cmd_check(args) -> int:
    from quco.cli.render import render_report

    question = sys.stdin.read().strip() if args.question == "-" else args.question
    if not question.strip():
        raise UsageError("the question is empty")
    draft = _read_draft(args)
    settings = _settings(args)
    detector = settings.detector()
    report = detector.check_many([(question, draft)])[0]
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(render_report(report, draft))
    return 0


def _cmd_score(args) -> int:
    from quco.batch.scoring import score

    settings = _settings(args)
    settings.check_backend()  # fail fast on a bad index, before any worker starts
    stats = score(
        args.input,
        args.output,
        question_field=args.question_field,
        answer_field=args.answer_field,
        id_field=args.id_field,
        pair_fields=tuple(args.pair_fields.split(",")) if args.pair_fields else None,
        settings=settings,
        workers=args.workers,
        chunk_size=args.chunk_size,
        errors_path=args.errors,
        progress=not args.no_progress and sys.stderr.isatty(),
        restart=args.restart,
        force=args.force,
        ray=args.ray,
        audit=args.audit,
        audit_text=args.audit_text,
    )
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2))
        return 0
    resumed = f", {stats.resumed_chunks} of {stats.chunks} chunks resumed" if stats.resumed_chunks else ""
    print(
        f"scored {stats.scored:,} of {stats.rows:,} rows into {stats.output} in {stats.seconds:.1f} s "
        f"({stats.rows_per_s:,.0f} rows/s{resumed}); {stats.errors:,} malformed rows "
        f"({stats.error_fraction:.1%}) in {stats.errors_file}; {stats.unknown:,} decisions "
        f"({stats.unknown_fraction:.1%}) rest on an unknown count"
    )
    return 0


def _cmd_eval(args) -> int:
    from quco.batch.evaluation import evaluate

    prefix = args.out or str(Path(args.scored).with_suffix("")) + ".eval"
    result = evaluate(args.scored, label_field=args.label_field, positive=args.positive, score_field=args.score_field,
                      threshold=args.threshold, type_field=args.type_field, out_prefix=prefix, force=args.force)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"rows {result.rows:,}  positives {result.positives:,}  score {result.score_field}")
    print(f"AUROC {result.auroc}  AUPRC {result.auprc}  retrieval rate {result.retrieval_rate}")
    print(f"decisions resting on an unknown count: {result.unknown:,} of {result.rows:,}")
    d = result.decision
    print(f"at the decision ({d['threshold']}): precision {d['precision']}  recall {d['recall']}  F1 {d['f1']}")
    if result.baselines:
        print("baselines (AUROC): " + ", ".join(f"{k} {v}" for k, v in result.baselines.items()))
    if result.calibration:
        print(f"calibration of {result.calibration['of']}: ECE {result.calibration['ece']}  "
              f"Brier {result.calibration['brier']}")
    for note in result.notes:
        print(f"note: {note}")
    for title, table in (("stage", result.by_stage), ("question type", result.by_question_type)):
        print(f"by {title}:")
        for name, row in table.items():
            print(f"  {name:<14} rows {row['rows']:>6}  positives {row['positives']:>6}  AUROC {row['auroc']}")
    print(f"wrote {result.png} and {result.html}")
    return 0


def _cmd_serve(args) -> int:
    from quco.service.app import serve

    if args.workers < 1 or not 0 <= args.port <= 65535:
        raise UsageError("--workers must be at least 1 and --port within 0-65535")
    settings = _settings(args)
    if args.max_draft_sentences is not None:
        from dataclasses import replace

        settings = replace(settings, max_draft_sentences=args.max_draft_sentences)
    return serve(settings, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                 token_file=args.token_file, insecure_no_auth=args.insecure_no_auth, header_timeout=args.header_timeout,
                 keep_alive_timeout=args.keep_alive_timeout, heavy_workers=args.heavy_workers,
                 max_request_chars=args.max_request_chars, audit=args.audit, audit_text=args.audit_text,
                 audit_retention_days=args.audit_retention_days, audit_retention_rows=args.audit_retention_rows)


def _cmd_demo(args) -> int:
    from quco.cli.demo import run_demo

    settings = _settings(args)
    return run_demo(
        settings,
        corpus=args.corpus,
        index_path=Path(settings.index),
        cache_dir=Path(args.cache_dir),
        rebuild=args.rebuild,
        as_json=args.json,
    )


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v / -q on every command and subcommand (argparse keeps options per parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_verbosity(sub)
    if not any("--quiet" in a.option_strings for a in parser._actions):
        g = parser.add_mutually_exclusive_group()
        g.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
        g.add_argument("-q", "--quiet", action="store_true", help="only errors: no warnings, no progress bars")


def _configure_logging(args) -> None:
    import logging

    level = logging.ERROR if args.quiet else {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="quco: %(message)s" if level >= logging.WARNING else
                        "quco %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("quco").setLevel(level)
    if args.quiet and hasattr(args, "no_progress"):
        args.no_progress = True


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    _add_verbosity(parser)
    try:  # shell completion when argcomplete is installed: eval "$(register-python-argcomplete quco)"
        import argcomplete

        argcomplete.autocomplete(parser)
    except ImportError:
        pass
    args = parser.parse_args(argv)
    _configure_logging(args)
    handlers = {"index": _cmd_index, "check": _cmd_check, "score": _cmd_score, "eval": _cmd_eval, "serve": _cmd_serve,
                "calibrate": cli_ops.cmd_calibrate, "demo": _cmd_demo, "monitor": cli_ops.cmd_monitor, "feedback": cli_ops.cmd_feedback,
                "audit": cli_ops.cmd_audit, "model": cli_ops.cmd_model}
    try:
        return handlers[args.command](args)
    except QucoError as exc:
        print(f"quco: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("quco: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("quco: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line; the traceback is one variable away
        if os.environ.get("QUCO_DEBUG"):
            raise
        print(f"quco: internal error: {type(exc).__name__}: {exc} (set QUCO_DEBUG=1 for a traceback)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
