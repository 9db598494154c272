"""`quco score`, `quco eval` and `quco calibrate`: whole datasets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from quco.cli.common import detector_options, emit_file, settings_from_args, streams


def register(sub) -> None:
    s = sub.add_parser("score", help="score every row of a JSONL/CSV/Parquet dataset (resumable)")
    s.add_argument("input", help="JSONL/CSV/Parquet file, or '-' for JSONL on standard input")
    s.add_argument("-o", "--output", required=True, help="output file: .jsonl, .csv or .parquet; '-' for JSONL on "
                                                         "standard output (the summary then goes to standard error)")
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
    detector_options(s)

    e = sub.add_parser("eval", help="AUROC/AUPRC/F1 of scored rows against a label, with PNG and HTML")
    e.add_argument("scored", help="a file quco score wrote (JSONL, CSV, Parquet); - for JSONL on standard input")
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
    detector_options(cb)
    s.set_defaults(handler=cmd_score)
    e.set_defaults(handler=cmd_eval)
    cb.set_defaults(handler=cmd_calibrate)


def cmd_score(args) -> int:
    from dataclasses import replace

    from quco.batch.scoring import ScoreOptions, score_file

    settings = settings_from_args(args)
    settings.check_backend()  # fail fast on a bad index, before any worker starts
    options = ScoreOptions(
        question_field=args.question_field,
        answer_field=args.answer_field,
        id_field=args.id_field,
        pair_fields=_pair(args),
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
    with streams(args.input, args.output, args.errors) as (src, out, errors):
        options = replace(options, errors_path=errors)
        stats = score_file(src, out, settings=settings, options=options)
        if args.output == "-":
            emit_file(out)
    say = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2), file=say)
        return 0
    resumed = f", {stats.resumed_chunks} of {stats.chunks} chunks resumed" if stats.resumed_chunks else ""
    print(
        f"scored {stats.scored:,} of {stats.rows:,} rows into {'standard output' if args.output == '-' else stats.output} "
        f"in {stats.seconds:.1f} s "
        f"({stats.rows_per_s:,.0f} rows/s{resumed}); {stats.errors:,} malformed rows "
        f"({stats.error_fraction:.1%}) in {stats.errors_file}; {stats.unknown:,} decisions "
        f"({stats.unknown_fraction:.1%}) rest on an unknown count", file=say
    )
    return 0


def cmd_eval(args) -> int:
    from quco.batch.eval_page import with_interval
    from quco.batch.evaluation import evaluate_file as evaluate

    # Standard input ("-") has no place beside it: the page then goes to ./quco-eval.png/.html unless --out says.
    prefix = args.out or ("quco-eval" if args.scored == "-" else str(Path(args.scored).with_suffix("")) + ".eval")
    with streams(args.scored, "", None) as (scored, _, _):
        result = evaluate(scored, label_field=args.label_field, positive=args.positive, score_field=args.score_field,
                          threshold=args.threshold, type_field=args.type_field, out_prefix=prefix, force=args.force)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"rows {result.rows:,}  positives {result.positives:,}  score {result.score_field}")
    print(f"AUROC {with_interval(result.auroc, result.auroc_ci)}  AUPRC {with_interval(result.auprc, result.auprc_ci)}"
          f"  (95% bootstrap intervals)  retrieval rate {result.retrieval_rate}")
    print(f"decisions resting on an unknown count: {result.unknown:,} of {result.rows:,}")
    d = result.decision
    print(f"at the decision ({d['threshold']}): precision {d['precision']}  recall {d['recall']}  F1 {d['f1']}")
    if result.baselines:
        print("baselines (AUROC): " + ", ".join(f"{k} {with_interval(v, result.baseline_ci.get(k))}"
                                                for k, v in result.baselines.items()))
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


def cmd_calibrate(args) -> int:
    from quco.batch.calibrate import calibrate_file
    settings = settings_from_args(args)
    settings.check_backend()
    if settings.calibration:  # fit on raw risks, whatever calibration the configuration names
        from dataclasses import replace

        settings = replace(settings, calibration=None)
    from quco.batch.scoring import ScoreOptions

    options = ScoreOptions(question_field=args.question_field, answer_field=args.answer_field, id_field=args.id_field,
                           pair_fields=_pair(args), workers=args.workers, force=args.force)
    cal = calibrate_file(args.labelled, args.out, settings=settings, options=options, label_field=args.label_field,
                         positive=args.positive)
    if args.json:
        print(json.dumps(cal.to_dict(), indent=2))
        return 0
    print(f"calibrated {cal.score} on {cal.rows:,} rows ({cal.positives:,} positive) into {args.out}: "
          f"{len(cal.values)} steps, ECE {cal.fit_metrics['ece']}, Brier {cal.fit_metrics['brier']} on these rows; "
          f"valid for index {cal.fitted_for['index']}, extractor {cal.fitted_for['extractor']}, mode "
          f"{cal.fitted_for['mode']}, window {cal.fitted_for['window']}")
    return 0


def _pair(args) -> Any:
    """``--pair-fields CORRECT,FABRICATED`` as a tuple (its length is checked by the file engine,
    which says what is wrong with one or three names)."""
    return tuple(args.pair_fields.split(",")) if args.pair_fields else None
