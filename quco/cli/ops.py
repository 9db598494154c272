"""The operations commands: `quco monitor`, `feedback`, `audit` and `model`."""

from __future__ import annotations

import json
from pathlib import Path

from quco.cli.common import Parser
from quco.errors import UsageError


def register(sub) -> None:
    mo = sub.add_parser("monitor", help="report on an audit log: decisions over time, drift, feedback, calibration")
    mo.add_argument("audit", help="the audit log (DuckDB) or its Parquet export")
    mo.add_argument("--out", help="write the HTML report here (default: AUDIT.report.html)")
    mo.add_argument("--json", action="store_true", help="print the report as JSON")
    mo.add_argument("--period", default="auto", choices=["auto", "minute", "hour", "day"])
    mo.add_argument("--calibrate", metavar="OUT.json", help="refit risk -> P(fabrication) on the feedback labels")
    fb = sub.add_parser("feedback", help="feedback on audited decisions")
    fbs = fb.add_subparsers(dest="feedback_command", required=True, parser_class=Parser)
    fi = fbs.add_parser("import", help="import labels (JSONL, CSV or Parquet: request_id, label = correct|fabricated, note)")
    fi.add_argument("file")
    fi.add_argument("--audit", required=True, help="the audit log (not while quco serve writes it)")
    fi.add_argument("--json", action="store_true")
    md = sub.add_parser("model", help="the spaCy English pipeline quco uses")
    mds = md.add_subparsers(dest="model_command", required=True, parser_class=Parser)
    for name, text in (("install", "install the pinned pipeline (hash-checked) into this environment"),
                       ("info", "which pipeline quco loads here")):
        mds.add_parser(name, help=text).add_argument("--json", action="store_true")
    au = sub.add_parser("audit", help="the audit log")
    aus = au.add_subparsers(dest="audit_command", required=True, parser_class=Parser)
    ae = aus.add_parser("export", help="decisions with their feedback as Parquet")
    ae.add_argument("audit")
    ae.add_argument("--out", required=True)
    ae.add_argument("--json", action="store_true")
    mo.set_defaults(handler=cmd_monitor)
    fb.set_defaults(handler=cmd_feedback)
    md.set_defaults(handler=cmd_model)
    au.set_defaults(handler=cmd_audit)


def cmd_monitor(args) -> int:
    from quco.audit.monitor import calibrate, feedback_line, monitor, write_report

    report = monitor(args.audit, period=args.period)
    if args.calibrate:
        fitted = calibrate(args.audit, args.calibrate)
        report["calibration_written"] = {"path": args.calibrate, "labelled": fitted["labelled"]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    out = write_report(report, args.out or f"{args.audit}.report.html")
    fb = report["feedback"]
    psi = report["risk_psi_second_half_vs_first"]
    print(f"{report['decisions']:,} decisions, retrieval rate {report['retrieval_rate']:.1%}, unknown "
          f"{report['unknown_rate']:.1%}, risk drift (PSI) {psi if psi is not None else report['drift_note']}")
    print(feedback_line(fb) if fb else "no feedback yet")
    print(f"report: {out}")
    return 0


def cmd_feedback(args) -> int:
    from quco.audit.log import LABELS, AuditLog
    from quco.batch.scoring import iter_rows

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    items = []
    for n, row, error, _ in iter_rows(path):  # JSONL, CSV or Parquet, read as quco score reads its input
        if error is not None or row is None:
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
