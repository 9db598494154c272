"""What the command groups share: the one-line-error parser, the detector options and the
settings they give, and printing a build's figures."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other usage error
        self.exit(2, f"quco: error: {message} (see `{self.prog} --help`)\n")


def detector_options(p) -> None:
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
    p.add_argument("--bridges", action=argparse.BooleanOptionalAction, default=None,
                   help="mode evidence: support silent claims through multi-hop bridges for every question (--bridges) "
                        "or none (--no-bridges); default: where the question describes a chain")


def settings_from_args(args):
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
        bridges=getattr(args, "bridges", None),
    )


def emit(args, stats, line: str) -> int:
    """A command's figures: one line for people, or with --json the stats object for programs."""
    if getattr(args, "json", False):
        from dataclasses import asdict

        print(json.dumps(asdict(stats), indent=2, default=str))
    else:
        print(line)
    return 0


@contextlib.contextmanager
def streams(src: str, out: str, errors: str | None) -> Iterator[tuple[str, str, str | None]]:
    """``-`` as a file: standard input spooled to a temporary JSONL file, standard output written
    to one and copied out by ``emit_file`` (the errors file then defaults to ./quco-errors.jsonl,
    as it cannot go beside standard output). Other paths pass through unchanged."""
    if src != "-" and out != "-":
        yield src, out, errors
        return
    with tempfile.TemporaryDirectory(prefix="quco-stream-") as tmp:
        if src == "-":
            src = os.path.join(tmp, "stdin.jsonl")
            with open(src, "wb") as fh:
                shutil.copyfileobj(sys.stdin.buffer, fh)
        if out == "-":
            out = os.path.join(tmp, "stdout.jsonl")
            errors = errors or "quco-errors.jsonl"
        yield src, out, errors


def emit_file(path: str) -> None:
    """Copy a finished output to standard output."""
    with open(path, "rb") as fh:
        shutil.copyfileobj(fh, sys.stdout.buffer)
    sys.stdout.buffer.flush()
