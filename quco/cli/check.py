"""`quco check`: one question (and draft) decided, printed or as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from quco.cli.common import detector_options, settings_from_args
from quco.errors import SourceError, UsageError


def register(sub) -> None:
    c = sub.add_parser("check", help="should the model retrieve for this question (and draft)?")
    c.add_argument("question", help="the question ('-' reads it from standard input)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--draft", help="the draft answer to verify (stage 2)")
    g.add_argument("--draft-file", help="read the draft from a file ('-' for standard input)")
    detector_options(c)
    c.add_argument("--json", action="store_true", help="print the full report as JSON")
    c.add_argument("--exit-code", action="store_true",
                   help="exit 1 when the decision is to retrieve (0 otherwise), for shell scripts and CI gates")
    c.set_defaults(handler=cmd_check)


def read_draft(args) -> str | None:
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


def cmd_check(args) -> int:
    from quco.cli.render import render_report
    from quco.decide.provenance import with_sources

    question = sys.stdin.read().strip() if args.question == "-" else args.question
    if not question.strip():
        raise UsageError("the question is empty")
    draft = read_draft(args)
    settings = settings_from_args(args)
    detector = settings.detector()
    report = with_sources(detector.backend, detector.check_many([(question, draft)]), detector.window)[0]
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(render_report(report, draft))
    return 1 if args.exit_code and report.retrieve else 0
