"""What the command groups share: the one-line-error parser, the detector options and the
settings they give, and printing a build's figures."""

from __future__ import annotations

import argparse
import json


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
    )


def emit(args, stats, line: str) -> int:
    """A command's figures: one line for people, or with --json the stats object for programs."""
    if getattr(args, "json", False):
        from dataclasses import asdict

        print(json.dumps(asdict(stats), indent=2, default=str))
    else:
        print(line)
    return 0
