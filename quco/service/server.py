"""Running ``quco serve``: options checked, the environment its worker processes rebuild the app
from, the metrics directory, the audit writer, and uvicorn."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from quco.errors import AddressInUse, Terminated, UsageError
from quco.process import install_sigterm


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def read_token(token_file: str | None) -> str | None:
    """The bearer token: from ``token_file`` (first line) or ``QUCO_API_TOKEN``."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--token-file {token_file}: cannot read it ({exc})") from None
        if not token or len(token[0].strip()) < 16:
            raise UsageError(f"--token-file {token_file}: the token must be at least 16 characters")
        return token[0].strip()
    return os.environ.get("QUCO_API_TOKEN") or None


AUDIT_POLICIES = ("required", "best-effort")


@dataclass(frozen=True)
class ServeOptions:
    """How ``quco serve`` runs (its command-line options). ``heavy_workers``/``max_request_chars``
    left as None come from QUCO_SERVE_HEAVY_WORKERS / QUCO_SERVE_MAX_REQUEST_CHARS or the defaults.
    ``audit``: record every decision in this DuckDB file (``quco.audit.log``), written by one
    writer process."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "warning"
    token_file: str | None = None
    insecure_no_auth: bool = False
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    heavy_workers: int | None = None
    max_request_chars: int | None = None
    audit: str | None = None
    audit_text: bool = False
    audit_retention_days: float | None = None
    audit_retention_rows: int | None = None
    audit_policy: str = "required"  # "required": no check is answered while its audit row cannot be written


def serve(settings, options: ServeOptions) -> int:
    """Run the server until it is stopped (SIGINT/SIGTERM); returns the exit code."""
    try:
        import uvicorn

        from quco.service.protocol import HeaderDeadlineProtocol
    except ImportError:
        raise UsageError("quco serve needs FastAPI and uvicorn[standard]: pip install 'quco[serve]'") from None
    o = options
    token = _checked_token(settings, o)
    _export_environment(settings, o, token)
    HeaderDeadlineProtocol.header_timeout = o.header_timeout
    _check_port(o.host, o.port)
    os.environ["QUCO_SERVE_PID"] = str(os.getpid())  # its workers stop when this process is gone
    # Metrics from every worker, aggregated at each scrape (quco.service.prom): a fresh directory per run.
    prom_dir = tempfile.mkdtemp(prefix="quco-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom_dir
    keeper = None
    try:
        if o.audit:
            from quco.audit.writer import WriterKeeper

            keeper = WriterKeeper(Path(o.audit).resolve(), store_text=o.audit_text,
                                  retention_days=o.audit_retention_days, retention_rows=o.audit_retention_rows)
            os.environ["QUCO_AUDIT_SOCKET"] = keeper.sock_path
            os.environ["QUCO_SERVE_AUDIT_POLICY"] = o.audit_policy
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with the handler
        # it found: ours raises Terminated, so the audit writer is stopped and the metrics directory
        # removed below, instead of the default action ending the process before either.
        install_sigterm()
        try:
            uvicorn.run("quco.service.app:app_from_env", factory=True, host=o.host, port=o.port, workers=o.workers,
                        log_level=o.log_level, timeout_graceful_shutdown=30, access_log=False,
                        http=HeaderDeadlineProtocol, timeout_keep_alive=o.keep_alive_timeout)  # type: ignore[arg-type]
        except (Terminated, KeyboardInterrupt):
            pass  # a requested stop, done: exit 0
    finally:
        if keeper is not None:
            keeper.stop()  # after the workers: their last rows are in; it commits and exits
        shutil.rmtree(prom_dir, ignore_errors=True)
    return 0


def _check_port(host: str, port: int) -> None:
    """Fail with its own exit code (``AddressInUse``) when the address is taken, before anything starts."""
    import socket

    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            s.bind((host.strip("[]"), port))
        except OSError as exc:
            raise AddressInUse(f"cannot listen on {host}:{port}: {exc.strerror} (is another server, or an "
                               "orphan of a killed one, still running?)") from None


def _checked_token(settings, o: ServeOptions) -> str | None:
    """The bearer token, after every option and the index were checked (before any worker starts)."""
    token = read_token(o.token_file)
    if token is None and not is_loopback(o.host) and not o.insecure_no_auth:
        raise UsageError(f"refusing to serve on {o.host} without a token: set QUCO_API_TOKEN or --token-file "
                         "(or pass --insecure-no-auth to expose it to anyone who can reach it)")
    if o.audit_policy not in AUDIT_POLICIES:
        raise UsageError(f"--audit-policy must be one of {', '.join(AUDIT_POLICIES)}, not {o.audit_policy!r}")
    if min(o.header_timeout, o.keep_alive_timeout) <= 0 or (o.heavy_workers or 1) < 1 or (o.max_request_chars or 1) < 1:
        raise UsageError("timeouts, --heavy-workers and --max-request-chars must be positive")
    if not Path(settings.index).exists() and settings.backend != "infinigram-api" and not settings.shards:
        raise UsageError(f"{settings.index}: index not found")
    settings.check_backend()  # fail fast on a bad index, before the workers start
    if token is None:
        print(f"quco serve: WARNING: no token is set; anyone who can reach {o.host}:{o.port} may query this server "
              "(set QUCO_API_TOKEN or --token-file)", file=sys.stderr)
    return token


def _export_environment(settings, o: ServeOptions, token: str | None) -> None:
    """Worker processes are separate: they rebuild the app from these variables (``app_from_env``)."""
    from quco.service.protocol import ENV_HEADER_TIMEOUT

    os.environ["QUCO_INDEX"] = str(Path(settings.index).resolve()) if settings.backend != "infinigram-api" else settings.index
    for key, value in (("QUCO_MODEL", settings.model), ("QUCO_BACKEND", settings.backend),
                       ("QUCO_WINDOW", settings.window), ("QUCO_UNKNOWN_POLICY", settings.unknown_policy),
                       ("QUCO_MAX_DRAFT_SENTENCES", settings.max_draft_sentences), ("QUCO_API_TOKEN", token),
                       (ENV_HEADER_TIMEOUT, o.header_timeout), ("QUCO_SERVE_HEAVY_WORKERS", o.heavy_workers),
                       ("QUCO_SERVE_MAX_REQUEST_CHARS", o.max_request_chars), ("QUCO_WORK_BUDGET", settings.work_budget),
                       ("QUCO_SHARDS", ",".join(settings.shards) or None), ("QUCO_SHARD_TIMEOUT", settings.shard_timeout),
                       ("QUCO_SHARD_TOKEN_FILE", settings.shard_token_file), ("RAY_ADDRESS", settings.ray_address)):
        if value is not None:
            os.environ[key] = str(value)
