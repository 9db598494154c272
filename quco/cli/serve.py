"""`quco serve`: the HTTP service's options."""

from __future__ import annotations

from quco.cli.common import detector_options, settings_from_args
from quco.errors import UsageError


def register(sub) -> None:
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
    v.add_argument("--audit-policy", choices=["required", "best-effort"], default="required",
                   help="with --audit: required (default) refuses checks with 503 while their audit row cannot be "
                        "written; best-effort answers and counts the rows it loses")
    detector_options(v)
    v.set_defaults(handler=cmd_serve)


def cmd_serve(args) -> int:
    from quco.service.server import ServeOptions, serve

    if args.workers < 1 or not 0 <= args.port <= 65535:
        raise UsageError("--workers must be at least 1 and --port within 0-65535")
    settings = settings_from_args(args)
    if args.max_draft_sentences is not None:
        from dataclasses import replace

        settings = replace(settings, max_draft_sentences=args.max_draft_sentences)
    options = ServeOptions(
        host=args.host, port=args.port, workers=args.workers, log_level=args.log_level, token_file=args.token_file,
        insecure_no_auth=args.insecure_no_auth, header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout, heavy_workers=args.heavy_workers,
        max_request_chars=args.max_request_chars, audit=args.audit, audit_text=args.audit_text,
        audit_retention_days=args.audit_retention_days, audit_retention_rows=args.audit_retention_rows,
        audit_policy=args.audit_policy)
    return serve(settings, options)
