"""`quco serve`: quco over HTTP for controllers not written in Python (extra ``quco[serve]``).

Endpoints: POST /v1/check, /v1/check_many, /v1/count, /v1/cooccur; GET /v1/info, /healthz, /metrics
(Prometheus text), /openapi.json. Every request's work is bounded before it starts: a body cap
(413), items per batch (422), characters per request (413), sentences per draft (400), and at
most ``heavy_workers`` drafts or large batches at once (503 with Retry-After). Heavy checks run in
worker processes that are killed at the request deadline (504), so a timeout stops the work and
returns its memory (``quco.service.heavy``). A bearer token (compared in constant time) is
checked before the body is read (401). Upstream failures are 502 (bad answer) or 503
(unreachable, with the upstream's Retry-After), never a 4xx. The index is opened read-only, so several worker processes can share one file;
when the index file is replaced (an atomic rebuild), the server loads the new one in the
background and swaps it in: every request is answered from the old or the new index.
"""


import asyncio  # noqa: I001 - no `from __future__ import annotations`: FastAPI resolves the local models
import contextlib
import hmac
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

from quco.errors import BackendError, BackendUnavailable, QucoError, QueryError, UpstreamError, UsageError
from quco.backends.base import answer_each
from quco.audit.log import UnknownRequest, new_request_id
from quco.service.prom import Metrics

log = logging.getLogger("quco.serve")

MAX_BODY_BYTES = 1 << 20
MAX_ITEMS = 256
MAX_REQUEST_CHARS = 120_000  # questions + drafts in one request: ~6 s and ~600 MB of parsing at most
LIGHT_CHARS = 8_000  # a request with no draft and at most this much text is answered in-process
HEAVY_WORKERS = 1
MAX_PHRASE_CHARS = 1000
REQUEST_TIMEOUT_S = 10.0
class DetectorHolder:
    """The current detector; notices a replaced index file and swaps in a new one when loaded."""

    def __init__(self, settings, metrics: Metrics, check_every: float = 1.0):
        self.settings = settings
        self.metrics = metrics
        self.check_every = check_every
        self.detector = settings.detector()
        self._signature = self._stat()
        self._checked = time.monotonic()
        self._loading = False
        self._lock = threading.Lock()

    def _stat(self):
        try:
            st = os.stat(self.settings.index)
            return (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def current(self):
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            sig = self._stat()
            if sig is not None and sig != self._signature:
                with self._lock:
                    if not self._loading:
                        self._loading = True
                        threading.Thread(target=self._reload, args=(sig,), daemon=True).start()
        return self.detector

    def _reload(self, sig) -> None:
        try:
            detector = self.settings.detector()
            detector.extractor = self.detector.extractor  # keep the loaded spaCy pipeline
            self.detector, self._signature = detector, sig
            self.metrics.count_reload()
            log.info("index %s reloaded", self.settings.index)
        except Exception as exc:  # a half-copied or corrupt file: keep serving the old index
            log.warning("index %s changed but could not be loaded (%s); still serving the previous one",
                        self.settings.index, exc)
        finally:
            self._loading = False


def create_app(settings, *, token: str | None = None, max_body: int = MAX_BODY_BYTES, max_items: int = MAX_ITEMS,
               timeout: float = REQUEST_TIMEOUT_S, max_request_chars: int = MAX_REQUEST_CHARS,
               heavy_workers: int = HEAVY_WORKERS):
    from fastapi import Body, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.concurrency import run_in_threadpool

    from quco import __version__
    from quco.service.heavy import Busy, HeavyPool

    metrics = Metrics()
    holder = DetectorHolder(settings, metrics)
    pool = HeavyPool(settings, heavy_workers)
    threading.Thread(target=_prestart, args=(pool,), daemon=True, name="quco-heavy-prestart").start()
    threading.Thread(target=holder.current().backend.warm, daemon=True, name="quco-index-warm").start()
    token_bytes = token.encode() if token else None
    Phrase = Annotated[str, Field(min_length=1, max_length=MAX_PHRASE_CHARS)]

    class CheckRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        question: Annotated[str, Field(min_length=1, max_length=4000)]
        draft: Annotated[str | None, Field(max_length=100_000)] = None

    class CheckManyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        items: Annotated[list[CheckRequest], Field(min_length=1, max_length=max_items)]

    class CountRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        phrases: Annotated[list[Phrase], Field(min_length=1, max_length=max_items)]

    class Pair(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: Phrase
        b: Phrase

    class CooccurRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pairs: Annotated[list[Pair], Field(min_length=1, max_length=max_items)]
        window: Annotated[int, Field(ge=0, le=100_000)] = 1000

    async def run_checks(items: list) -> list:
        chars = sum(len(q) + len(d or "") for q, d in items)
        if chars > max_request_chars:
            raise HTTPException(413, f"the request holds {chars:,} characters of questions and drafts; "
                                     f"the limit is {max_request_chars:,} (split it into several requests)")
        if chars <= LIGHT_CHARS and all(d is None for _, d in items):
            return await run_in_threadpool(holder.current().check_many, items)
        return await pool.run(items)  # the middleware's deadline cancels it, and the worker is killed

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        pool.close()  # idle workers go now; a busy one when its request is answered
        if audit is not None:
            audit.close()  # this worker's last rows reach the writer before the server stops it

    app = FastAPI(title="quco", version=__version__, lifespan=lifespan,
                  description="Decide when an LLM must retrieve, from pretraining-corpus statistics (QuCo-RAG).")

    app.add_middleware(_LimitsAndMetrics, metrics=metrics, max_body=max_body, timeout=timeout, token=token_bytes)

    def authorised(request: Request) -> bool:
        return token_bytes is None or _token_ok(request.headers.get("authorization", ""), token_bytes)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid input')}" if where else first.get("msg", "invalid input")
        return JSONResponse({"error": message, "details": [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors[:20]
        ]}, status_code=422)

    @app.exception_handler(QucoError)
    async def quco_error(request, exc):
        if isinstance(exc, Busy):
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "1"})
        if isinstance(exc, (QueryError, UsageError)):  # the input cannot be answered: the caller's to fix
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(exc, BackendUnavailable):  # upstream unreachable: try again later
            metrics.count_backend_error()
            wait = exc.retry_after if exc.retry_after is not None else 1
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(max(1, round(wait)))})
        if isinstance(exc, BackendError):  # upstream answered, but wrongly: a bad gateway, never the caller's 4xx
            metrics.count_backend_error()
            return JSONResponse({"error": str(exc)}, status_code=502)
        return JSONResponse({"error": str(exc)}, status_code=500)

    @app.get("/healthz")
    def healthz(request: Request):
        d = holder.current()
        body = {"status": "ok", "version": __version__}
        if authorised(request):  # index identity and paths only for callers who hold the token
            body.update({"backend": d.backend.name, "index": d.backend.identity, "corpus_tokens": d.backend.corpus.tokens,
                         "corpus_documents": d.backend.corpus.documents, "extractor": d.extractor.model_name})
        return body

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus():
        from starlette.responses import Response

        be = holder.current().backend
        body, content_type = metrics.render(getattr(be, "cache_hits", 0), getattr(be, "cache_misses", 0))
        return Response(body, media_type=content_type)

    audit = _audit_client()

    def audited(request: Request, items: list, reports: list, started: float) -> tuple[str, list[str]]:
        """The request id (the caller's X-Request-ID when it is a sane token) and one per decision,
        each recorded in the audit log when there is one."""
        rid = request.headers.get("x-request-id", "")
        rid = rid if _REQUEST_ID.fullmatch(rid) else new_request_id()
        ids = [rid] if len(reports) == 1 else [f"{rid}-{i}" for i in range(len(reports))]
        if audit is not None:
            ms = (time.perf_counter() - started) * 1000 / max(1, len(reports))
            for (q, d), r, i in zip(items, reports, ids):
                audit.record_report(r, request_id=i, source="serve", latency_ms=ms, question=q, draft=d)
        return rid, ids

    @app.post("/v1/check")
    async def check(request: Request, req: CheckRequest = Body(...)):
        started = time.perf_counter()
        items = [(req.question, req.draft)]
        reports = await run_checks(items)
        rid, _ = audited(request, items, reports, started)
        return _json({**_report_json(reports[0], metrics), "request_id": rid}, rid)

    @app.post("/v1/check_many")
    async def check_many(request: Request, req: CheckManyRequest = Body(...)):
        started = time.perf_counter()
        items = [(i.question, i.draft) for i in req.items]
        reports = await run_checks(items)
        rid, ids = audited(request, items, reports, started)
        return _json({"request_id": rid, "reports": [{**_report_json(r, metrics), "request_id": i}
                                                     for r, i in zip(reports, ids)]}, rid)

    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        request_id: Annotated[str, Field(min_length=1, max_length=100)]
        label: Literal["correct", "fabricated"]
        note: Annotated[str | None, Field(max_length=2000)] = None

    @app.post("/v1/feedback")
    async def feedback(req: FeedbackRequest = Body(...)):
        if audit is None:
            raise HTTPException(409, "feedback needs the audit log: start quco serve with --audit PATH")
        try:
            new = await run_in_threadpool(audit.feedback, req.request_id, req.label, req.note)
        except UnknownRequest as exc:
            raise HTTPException(404, str(exc)) from None
        return {"request_id": req.request_id, "label": req.label, "updated": not new}

    @app.post("/v1/count")
    async def count(req: CountRequest = Body(...)):
        be = holder.current().backend
        items = await run_in_threadpool(answer_each, be.count_many, req.phrases, _REQUEST_ERRORS)
        return {"counts": [_item(p, c, lambda c: {"phrase": c.phrase}) for p, c in zip(req.phrases, items)],
                **_corpus_fields(be)}

    @app.post("/v1/cooccur")
    async def cooccur(req: CooccurRequest = Body(...)):
        be = holder.current().backend
        pairs = [(p.a, p.b) for p in req.pairs]
        items = await run_in_threadpool(answer_each, lambda batch: be.cooccur_many(batch, req.window), pairs,
                                        _REQUEST_ERRORS)
        return {"results": [_item(p, c, lambda c: {"a": c.a, "b": c.b, "window": c.window}) for p, c in zip(pairs, items)],
                **_corpus_fields(be)}

    @app.get("/v1/info")
    def info():
        """What a client needs to add this index's counts to others' (``quco.shard``)."""
        d = holder.current()
        norm = getattr(d.backend, "normalizer", None)
        return {**_corpus_fields(d.backend), "backend": d.backend.name, "version": __version__,
                "normalizer": norm.to_dict() if norm is not None else None}

    app.state.pool = pool
    app.state.holder = holder
    app.state.metrics = metrics
    return app


def _corpus_fields(be) -> dict:
    return {"corpus_tokens": be.corpus.tokens, "corpus_documents": be.corpus.documents, "index": be.identity}


# Input errors (400), an unreachable upstream (503) and a wrong upstream answer (502) stay errors of
# the request; what is isolated per item (count null) is an index that cannot answer one phrase.
_REQUEST_ERRORS = (QueryError, BackendUnavailable, UpstreamError)


def _item(query, answer, fields) -> dict:
    if isinstance(answer, BackendError):
        a, b = (query, None) if isinstance(query, str) else query
        keys = {"phrase": a} if b is None else {"a": a, "b": b}
        return {**keys, "count": None, "approx": False, "error": str(answer)}
    return {**fields(answer), "count": answer.count, "approx": answer.approx}


def _prestart(pool) -> None:
    try:
        pool.prestart()
    except Exception as exc:
        log.warning("could not start check workers in advance: %s", exc)


def _token_ok(header: str, token: bytes) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


_PROTECTED = ("/v1/", "/metrics")
_PATHS = {"/v1/check", "/v1/check_many", "/v1/count", "/v1/cooccur", "/v1/info", "/v1/feedback", "/healthz", "/metrics",
          "/openapi.json", "/docs"}


def _json(data, request_id: str | None = None):
    # The reports are plain JSON already: skip FastAPI's generic encoder (a third of the cost).
    from starlette.responses import Response

    headers = {"X-Request-ID": request_id} if request_id else None
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), media_type="application/json",
                    headers=headers)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _audit_client():
    """This worker's connection to the audit writer, when ``quco serve --audit`` started one."""
    sock = os.environ.get("QUCO_AUDIT_SOCKET")
    if not sock:
        return None
    from quco.audit.writer import AuditClient

    return AuditClient(sock)


class _LimitsAndMetrics:
    """Plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware): body cap, timeout, metrics."""

    def __init__(self, app, metrics: Metrics, max_body: int, timeout: float, token: bytes | None = None):
        self.app, self.metrics, self.max_body, self.timeout, self.token = app, metrics, max_body, timeout, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope["path"] if scope["path"] in _PATHS else "other"
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        status = {"code": 500}
        sent = {"started": False}

        async def send_tracking(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                sent["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body") and not sent.get("observed"):
                # Record before the last byte leaves: a client that saw the response sees it counted.
                sent["observed"] = True
                self.metrics.observe(path, status["code"], time.perf_counter() - start)
            await send(message)

        async def reply(code: int, message: str, extra: list | None = None):
            body = json.dumps({"error": message}).encode()
            await send_tracking({"type": "http.response.start", "status": code,
                                 "headers": [(b"content-type", b"application/json"),
                                             (b"content-length", str(len(body)).encode()), *(extra or [])]})
            await send_tracking({"type": "http.response.body", "body": body})

        received = {"bytes": 0, "done": scope["method"] in ("GET", "HEAD")}

        async def receive_capped():
            message = await receive()
            if message["type"] == "http.request":
                received["bytes"] += len(message.get("body", b""))
                if received["bytes"] > self.max_body:
                    raise _TooLarge()
                received["done"] = not message.get("more_body", False)
            return message

        try:
            if self.token is not None and scope["path"].startswith(_PROTECTED) and not _token_ok(
                    headers.get(b"authorization", b"").decode("latin-1"), self.token):
                # Before a byte of the body is read: an unauthenticated client costs nothing.
                await reply(401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
            elif length is not None and (not length.isdigit() or int(length) > self.max_body):
                await reply(413, f"request body larger than {self.max_body} bytes")
            elif length is None and scope["method"] == "POST" and headers.get(b"transfer-encoding"):
                await reply(411, "chunked request bodies are not accepted; send Content-Length")
            else:
                await asyncio.wait_for(self.app(scope, receive_capped, send_tracking), self.timeout)
        except _TooLarge:
            if not sent["started"]:
                await reply(413, f"request body larger than {self.max_body} bytes")
        except TimeoutError:
            if not sent["started"] and not received["done"]:  # the client never sent the body it announced
                await reply(408, f"request body not received within {self.timeout} s")
            elif not sent["started"]:
                await reply(504, f"request took longer than {self.timeout} s")
        finally:
            if not sent.get("observed"):
                self.metrics.observe(path, status["code"], time.perf_counter() - start)


class _TooLarge(UsageError):
    """A request body over the limit (control flow inside the size-capping middleware)."""


def _report_json(report, metrics: Metrics) -> dict:
    if report.unknown:
        metrics.count_backend_error()
    metrics.count_decision(report)
    return report.to_dict()


def app_from_env():
    """Uvicorn factory for worker processes: settings come from QUCO_* variables."""
    from quco.config import load_settings

    settings = load_settings()
    return create_app(settings, token=os.environ.get("QUCO_API_TOKEN") or None,
                      max_body=int(os.environ.get("QUCO_SERVE_MAX_BODY", MAX_BODY_BYTES)),
                      max_items=int(os.environ.get("QUCO_SERVE_MAX_ITEMS", MAX_ITEMS)),
                      timeout=float(os.environ.get("QUCO_SERVE_TIMEOUT", REQUEST_TIMEOUT_S)),
                      max_request_chars=int(os.environ.get("QUCO_SERVE_MAX_REQUEST_CHARS", MAX_REQUEST_CHARS)),
                      heavy_workers=int(os.environ.get("QUCO_SERVE_HEAVY_WORKERS", HEAVY_WORKERS)))


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


def serve(settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning",
          token_file: str | None = None, insecure_no_auth: bool = False, header_timeout: float = 10.0,
          keep_alive_timeout: float = 5.0, heavy_workers: int | None = None,
          max_request_chars: int | None = None, audit: str | None = None, audit_text: bool = False,
          audit_retention_days: float | None = None, audit_retention_rows: int | None = None) -> int:
    """Run the server. ``heavy_workers``/``max_request_chars`` left as None come from
    QUCO_SERVE_HEAVY_WORKERS / QUCO_SERVE_MAX_REQUEST_CHARS or the defaults. ``audit``: record
    every decision in this DuckDB file (``quco.audit.log``), written by one writer process."""
    import shutil
    import sys
    import tempfile

    try:
        import uvicorn

        from quco.service.protocol import ENV_HEADER_TIMEOUT, HeaderDeadlineProtocol
    except ImportError:
        raise UsageError("quco serve needs FastAPI and uvicorn[standard]: pip install 'quco[serve]'") from None
    token = read_token(token_file)
    if token is None:
        if not is_loopback(host) and not insecure_no_auth:
            raise UsageError(f"refusing to serve on {host} without a token: set QUCO_API_TOKEN or --token-file "
                             "(or pass --insecure-no-auth to expose it to anyone who can reach it)")
    if min(header_timeout, keep_alive_timeout) <= 0 or (heavy_workers or 1) < 1 or (max_request_chars or 1) < 1:
        raise UsageError("timeouts, --heavy-workers and --max-request-chars must be positive")
    if not Path(settings.index).exists() and settings.backend != "infinigram-api" and not settings.shards:
        raise UsageError(f"{settings.index}: index not found")
    settings.check_backend()  # fail fast on a bad index, before the workers start
    if token is None:
        print(f"quco serve: WARNING: no token is set; anyone who can reach {host}:{port} may query this server "
              "(set QUCO_API_TOKEN or --token-file)", file=sys.stderr)
    # Workers are separate processes that rebuild the app from the environment.
    os.environ["QUCO_INDEX"] = str(Path(settings.index).resolve()) if settings.backend != "infinigram-api" else settings.index
    for key, value in (("QUCO_MODEL", settings.model), ("QUCO_BACKEND", settings.backend),
                       ("QUCO_WINDOW", settings.window), ("QUCO_UNKNOWN_POLICY", settings.unknown_policy),
                       ("QUCO_MAX_DRAFT_SENTENCES", settings.max_draft_sentences), ("QUCO_API_TOKEN", token),
                       (ENV_HEADER_TIMEOUT, header_timeout), ("QUCO_SERVE_HEAVY_WORKERS", heavy_workers),
                       ("QUCO_SERVE_MAX_REQUEST_CHARS", max_request_chars), ("QUCO_WORK_BUDGET", settings.work_budget),
                       ("QUCO_SHARDS", ",".join(settings.shards) or None), ("QUCO_SHARD_TIMEOUT", settings.shard_timeout),
                       ("QUCO_SHARD_TOKEN_FILE", settings.shard_token_file), ("RAY_ADDRESS", settings.ray_address)):
        if value is not None:
            os.environ[key] = str(value)
    HeaderDeadlineProtocol.header_timeout = header_timeout
    # Metrics from every worker, aggregated at each scrape (quco.service.prom): a fresh directory per run.
    prom_dir = tempfile.mkdtemp(prefix="quco-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom_dir
    writer = None
    try:
        if audit:
            from quco.audit.writer import start_writer, stop_writer

            writer, sock = start_writer(Path(audit).resolve(), store_text=audit_text, retention_days=audit_retention_days,
                                        retention_rows=audit_retention_rows)
            os.environ["QUCO_AUDIT_SOCKET"] = sock
        uvicorn.run("quco.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, timeout_graceful_shutdown=30, access_log=False, http=HeaderDeadlineProtocol,
                    timeout_keep_alive=keep_alive_timeout)
    finally:
        if writer is not None:
            stop_writer(writer, sock)  # after the workers: their last rows are in; it commits and exits
        shutil.rmtree(prom_dir, ignore_errors=True)
    return 0


__all__ = ["create_app", "serve", "Metrics", "DetectorHolder"]
