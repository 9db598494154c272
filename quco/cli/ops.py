"""Handlers of the operations commands (``quco monitor``, ``feedback``, ``audit``, ``model``,
``index vocab``); ``quco.cli.main`` parses the arguments and formats errors."""

from __future__ import annotations

import json
from pathlib import Path

from quco.errors import UsageError


def cmd_monitor(args) -> int:
    from quco.audit.monitor import calibrate, monitor, write_report

    report = monitor(args.audit, period=args.period)
    if args.calibrate:
        fitted = calibrate(args.audit, args.calibrate)
        report["calibration_written"] = {"path": args.calibrate, "labelled": fitted["labelled"]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    out = write_report(report, args.out or f"{args.audit}.report.html")
    fb = report["feedback"]
    print(f"{report['decisions']:,} decisions, retrieval rate {report['retrieval_rate']:.1%}, unknown "
          f"{report['unknown_rate']:.1%}, risk PSI {report['risk_psi_second_half_vs_first']}"
          + (f", trigger precision {fb['trigger_precision']} recall {fb['trigger_recall']}" if fb else "")
          + f"; report: {out}")
    return 0


def cmd_calibrate(args) -> int:
    from quco.batch.calibrate import calibrate_file
    from quco.cli.main import _settings

    settings = _settings(args)
    settings.check_backend()
    if settings.calibration:  # fit on raw risks, whatever calibration the configuration names
        from dataclasses import replace

        settings = replace(settings, calibration=None)
    pair = tuple(args.pair_fields.split(",")) if args.pair_fields else None  # checked by quco.score
    cal = calibrate_file(args.labelled, args.out, settings=settings, label_field=args.label_field, positive=args.positive,
                         question_field=args.question_field, answer_field=args.answer_field, id_field=args.id_field,
                         pair_fields=pair, workers=args.workers, force=args.force)
    if args.json:
        print(json.dumps(cal.to_dict(), indent=2))
        return 0
    print(f"calibrated {cal.score} on {cal.rows:,} rows ({cal.positives:,} positive) into {args.out}: "
          f"{len(cal.values)} steps, ECE {cal.fit_metrics['ece']}, Brier {cal.fit_metrics['brier']} on these rows; "
          f"valid for index {cal.fitted_for['index']}, extractor {cal.fitted_for['extractor']}, mode "
          f"{cal.fitted_for['mode']}, window {cal.fitted_for['window']}")
    return 0


def cmd_feedback(args) -> int:
    from quco.batch.scoring import iter_rows
    from quco.audit.log import LABELS, AuditLog

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    items = []
    for n, row, error, _ in iter_rows(path):  # JSONL, CSV or Parquet, read as quco score reads its input
        if error is not None:
            raise UsageError(f"{path}: row {n}: {error}")
        if not row.get("request_id") or row.get("label") not in LABELS:
            raise UsageError(f"{path}: row {n} needs request_id and label = correct or fabricated")
        items.append(row)
    with AuditLog(args.audit) as log:
        result = log.import_feedback(items)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"feedback: {result['added']:,} added, {result['updated']:,} updated, "
          f"{result['unknown_request_ids']:,} with a request id the audit log does not hold")
    return 0


def cmd_model(args) -> int:
    from quco.extract.model import install_model, load_pipeline

    if args.model_command == "install":
        code = install_model()
        if code:
            raise UsageError(f"pip could not install the pipeline (exit {code}); see its message above")
    nlp, name = load_pipeline(getattr(args, "model", None))
    info = {"model": name, "pipes": nlp.pipe_names, "full_quality": name != "rules"}
    print(json.dumps(info) if getattr(args, "json", False) else f"spaCy pipeline: {name} ({', '.join(nlp.pipe_names)})")
    return 0 if name != "rules" else 3


def cmd_audit(args) -> int:
    from quco.audit.log import AuditLog

    if not Path(args.audit).exists():
        raise UsageError(f"{args.audit}: audit log not found")
    with AuditLog(args.audit) as log:
        n = log.export_parquet(args.out)
    print(json.dumps({"decisions": n, "out": args.out}) if args.json else f"exported {n:,} decisions to {args.out}")
    return 0


def cmd_index_vocab(args) -> int:
    from quco.index.sharded.build import SHARDS_MANIFEST, rewrite_vocabulary

    if not (Path(args.path) / SHARDS_MANIFEST).exists():
        raise UsageError(f"{args.path}: not a sharded index (built with `quco index build --shards N`)")
    words = rewrite_vocabulary(args.path)
    print(f"wrote the shared vocabulary of {args.path}: {words:,} words")
    return 0


def refresh_shard_vocabulary(index: str) -> int:
    """After ``quco index add``/``compact`` of one shard of a sharded index: rewrite the set's
    shared vocabulary, which no longer matches (the shards answer correctly without it, slower)."""
    from quco.index.sharded.build import SHARDS_MANIFEST, read_shards_manifest, rewrite_vocabulary

    shard = Path(index).resolve()
    root = shard.parent
    if (root / SHARDS_MANIFEST).exists() and shard.name in read_shards_manifest(root)["shards"]:
        words = rewrite_vocabulary(root)
        print(f"rewrote the shared vocabulary of {root}: {words:,} words")
    return 0
