"""Handlers of the operations commands (``quco monitor``, ``feedback``, ``audit``, ``model``);
``quco.cli`` parses the arguments and formats errors."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import UsageError


def cmd_monitor(args) -> int:
    from .batch.monitor import calibrate, monitor, write_report

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


def cmd_feedback(args) -> int:
    import csv

    from .service.audit import AuditLog

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if path.suffix.lower() == ".csv":
                items = list(csv.DictReader(fh))
            else:
                items = [json.loads(line) for line in fh if line.strip()]
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not JSONL or CSV ({exc})") from None
    bad = [i for i, it in enumerate(items, 1) if not isinstance(it, dict) or not it.get("request_id")
           or it.get("label") not in ("correct", "fabricated")]
    if bad:
        raise UsageError(f"{path}: row {bad[0]} needs request_id and label = correct or fabricated")
    with AuditLog(args.audit) as log:
        result = log.import_feedback(items)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"feedback: {result['added']:,} added, {result['updated']:,} updated, "
          f"{result['unknown_request_ids']:,} with a request id the audit log does not hold")
    return 0


def cmd_model(args) -> int:
    from .extract.model import install_model, load_pipeline

    if args.model_command == "install":
        code = install_model()
        if code:
            raise UsageError(f"pip could not install the pipeline (exit {code}); see its message above")
    nlp, name = load_pipeline(getattr(args, "model", None))
    info = {"model": name, "pipes": nlp.pipe_names, "full_quality": name != "rules"}
    print(json.dumps(info) if getattr(args, "json", False) else f"spaCy pipeline: {name} ({', '.join(nlp.pipe_names)})")
    return 0 if name != "rules" else 3


def cmd_audit(args) -> int:
    from .service.audit import AuditLog

    if not Path(args.audit).exists():
        raise UsageError(f"{args.audit}: audit log not found")
    with AuditLog(args.audit) as log:
        n = log.export_parquet(args.out)
    print(json.dumps({"decisions": n, "out": args.out}) if args.json else f"exported {n:,} decisions to {args.out}")
    return 0
