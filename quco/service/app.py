"""`quco serve`: quco over HTTP for controllers not written in Python (extra ``quco[serve]``).

Endpoints: POST /v1/check, /v1/check_many, /v1/count, /v1/cooccur; GET /healthz, /metrics
(Prometheus text), /openapi.json. Limits: a request body cap (413), items per batch (422), a
per-request timeout (504), optional bearer token (``QUCO_API_TOKEN``, compared in constant time;
401 without it). The index is opened read-only, so several worker processes can share one file;
when the index file is replaced (an atomic rebuild), the server loads the new one in the
background and swaps it in: every request is answered from the old or the new index.
"""


import asyncio  # noqa: I001 - no `from __future__ import annotations`: FastAPI resolves the local models
import hmac
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Annotated

from ..errors import BackendError, QucoError, QueryError, UsageError

log = logging.getLogger("quco.serve")

MAX_BODY_BYTES = 1 << 20
MAX_ITEMS = 256
MAX_PHRASE_CHARS = 1000
REQUEST_TIMEOUT_S = 10.0
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and a latency histogram, rendered in the Prometheus text format."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}
        self.backend_errors = 0
        self.reloads = 0

    def count_backend_error(self) -> None:
        with self._lock:
            self.backend_errors += 1

    def count_reload(self) -> None:
        with self._lock:
            self.reloads += 1

    def observe(self, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[path, status] = self.requests.get((path, status), 0) + 1
            b = self.buckets.setdefault(path, [0] * (len(_BUCKETS) + 1))
            for i, edge in enumerate(_BUCKETS):
                if seconds <= edge:
                    b[i] += 1
            b[-1] += 1
            self.sums[path] = self.sums.get(path, 0.0) + seconds

    def render(self, cache_hits: int, cache_misses: int) -> str:
        lines = ["# HELP quco_requests_total HTTP requests by path and status.", "# TYPE quco_requests_total counter"]
        with self._lock:
            for (path, status), n in sorted(self.requests.items()):
                lines.append(f'quco_requests_total{{path="{path}",status="{status}"}} {n}')
            lines += ["# HELP quco_request_seconds Request latency.", "# TYPE quco_request_seconds histogram"]
            for path, b in sorted(self.buckets.items()):
                for edge, n in zip(_BUCKETS, b):
                    lines.append(f'quco_request_seconds_bucket{{path="{path}",le="{edge}"}} {n}')
                lines.append(f'quco_request_seconds_bucket{{path="{path}",le="+Inf"}} {b[-1]}')
                lines.append(f'quco_request_seconds_sum{{path="{path}"}} {self.sums[path]:.6f}')
                lines.append(f'quco_request_seconds_count{{path="{path}"}} {b[-1]}')
            lines += ["# HELP quco_backend_errors_total Backend failures (answered as unknown or 503).",
                      "# TYPE quco_backend_errors_total counter", f"quco_backend_errors_total {self.backend_errors}",
                      "# HELP quco_index_reloads_total Index swaps after the file was replaced.",
                      "# TYPE quco_index_reloads_total counter", f"quco_index_reloads_total {self.reloads}"]
        lines += ["# HELP quco_cache_hits_total Phrase-position cache hits.", "# TYPE quco_cache_hits_total counter",
                  f"quco_cache_hits_total {cache_hits}",
                  "# HELP quco_cache_misses_total Phrase-position cache misses.", "# TYPE quco_cache_misses_total counter",
                  f"quco_cache_misses_total {cache_misses}"]
        return "\n".join(lines) + "\n"


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
               timeout: float = REQUEST_TIMEOUT_S):
    from fastapi import Body, Depends, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.concurrency import run_in_threadpool

    from .. import __version__

    metrics = Metrics()
    holder = DetectorHolder(settings, metrics)
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

    app = FastAPI(title="quco", version=__version__,
                  description="Decide when an LLM must retrieve, from pretraining-corpus statistics (QuCo-RAG).")

    app.add_middleware(_LimitsAndMetrics, metrics=metrics, max_body=max_body, timeout=timeout)

    def authorised(request: Request) -> None:
        if token_bytes is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token_bytes):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

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
        if isinstance(exc, (QueryError, UsageError)):  # the input cannot be answered: the caller's to fix
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(exc, BackendError):
            metrics.count_backend_error()
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse({"error": str(exc)}, status_code=500)

    @app.get("/healthz")
    def healthz():
        d = holder.current()
        return {"status": "ok", "version": __version__, "backend": d.backend.name, "index": d.backend.identity,
                "corpus_tokens": d.backend.corpus.tokens, "corpus_documents": d.backend.corpus.documents,
                "extractor": d.extractor.model_name}

    @app.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(authorised)])
    def prometheus():
        be = holder.current().backend
        return metrics.render(getattr(be, "cache_hits", 0), getattr(be, "cache_misses", 0))

    @app.post("/v1/check", dependencies=[Depends(authorised)])
    async def check(req: CheckRequest = Body(...)):
        d = holder.current()
        report = await run_in_threadpool(d.check_many, [(req.question, req.draft)])
        return _json(_report_json(report[0], metrics))

    @app.post("/v1/check_many", dependencies=[Depends(authorised)])
    async def check_many(req: CheckManyRequest = Body(...)):
        d = holder.current()
        reports = await run_in_threadpool(d.check_many, [(i.question, i.draft) for i in req.items])
        return _json({"reports": [_report_json(r, metrics) for r in reports]})

    @app.post("/v1/count", dependencies=[Depends(authorised)])
    async def count(req: CountRequest = Body(...)):
        be = holder.current().backend
        counts = await run_in_threadpool(be.count_many, req.phrases)
        return {"counts": [{"phrase": c.phrase, "count": c.count, "approx": c.approx} for c in counts],
                "corpus_tokens": be.corpus.tokens, "index": be.identity}

    @app.post("/v1/cooccur", dependencies=[Depends(authorised)])
    async def cooccur(req: CooccurRequest = Body(...)):
        be = holder.current().backend
        res = await run_in_threadpool(be.cooccur_many, [(p.a, p.b) for p in req.pairs], req.window)
        return {"results": [{"a": c.a, "b": c.b, "count": c.count, "window": c.window, "approx": c.approx} for c in res],
                "corpus_tokens": be.corpus.tokens, "index": be.identity}

    app.state.holder = holder
    app.state.metrics = metrics
    return app


_PATHS = {"/v1/check", "/v1/check_many", "/v1/count", "/v1/cooccur", "/healthz", "/metrics", "/openapi.json", "/docs"}


def _json(data):
    # The reports are plain JSON already: skip FastAPI's generic encoder (a third of the cost).
    from starlette.responses import Response

    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), media_type="application/json")


class _LimitsAndMetrics:
    """Plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware): body cap, timeout, metrics."""

    def __init__(self, app, metrics: Metrics, max_body: int, timeout: float):
        self.app, self.metrics, self.max_body, self.timeout = app, metrics, max_body, timeout

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

        async def reply(code: int, message: str):
            body = json.dumps({"error": message}).encode()
            await send_tracking({"type": "http.response.start", "status": code,
                                 "headers": [(b"content-type", b"application/json"),
                                             (b"content-length", str(len(body)).encode())]})
            await send_tracking({"type": "http.response.body", "body": body})

        received = {"bytes": 0}

        async def receive_capped():
            message = await receive()
            if message["type"] == "http.request":
                received["bytes"] += len(message.get("body", b""))
                if received["bytes"] > self.max_body:
                    raise _TooLarge()
            return message

        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await reply(413, f"request body larger than {self.max_body} bytes")
            elif length is None and scope["method"] == "POST" and headers.get(b"transfer-encoding"):
                await reply(411, "chunked request bodies are not accepted; send Content-Length")
            else:
                await asyncio.wait_for(self.app(scope, receive_capped, send_tracking), self.timeout)
        except _TooLarge:
            if not sent["started"]:
                await reply(413, f"request body larger than {self.max_body} bytes")
        except asyncio.TimeoutError:
            if not sent["started"]:
                await reply(504, f"request took longer than {self.timeout} s")
        finally:
            if not sent.get("observed"):
                self.metrics.observe(path, status["code"], time.perf_counter() - start)


class _TooLarge(Exception):
    pass


def _report_json(report, metrics: Metrics) -> dict:
    if report.unknown:
        metrics.count_backend_error()
    return report.to_dict()


def app_from_env():
    """Uvicorn factory for worker processes: settings come from QUCO_* variables."""
    from ..config import load_settings

    settings = load_settings()
    return create_app(settings, token=os.environ.get("QUCO_API_TOKEN") or None,
                      max_body=int(os.environ.get("QUCO_SERVE_MAX_BODY", MAX_BODY_BYTES)),
                      max_items=int(os.environ.get("QUCO_SERVE_MAX_ITEMS", MAX_ITEMS)),
                      timeout=float(os.environ.get("QUCO_SERVE_TIMEOUT", REQUEST_TIMEOUT_S)))


def serve(settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning") -> int:
    try:
        import uvicorn
    except ImportError:
        raise UsageError("quco serve needs FastAPI and uvicorn: pip install 'quco[serve]'") from None
    if not Path(settings.index).exists() and settings.backend != "infinigram-api":
        raise UsageError(f"{settings.index}: index not found")
    settings.check_backend()  # fail fast on a bad index, before the workers start
    # Workers are separate processes that rebuild the app from the environment.
    os.environ["QUCO_INDEX"] = str(Path(settings.index).resolve()) if settings.backend != "infinigram-api" else settings.index
    for key, value in (("QUCO_MODEL", settings.model), ("QUCO_BACKEND", settings.backend),
                       ("QUCO_WINDOW", settings.window), ("QUCO_UNKNOWN_POLICY", settings.unknown_policy)):
        if value is not None:
            os.environ[key] = str(value)
    uvicorn.run("quco.service.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                timeout_graceful_shutdown=30, access_log=False)
    return 0


__all__ = ["create_app", "serve", "Metrics", "DetectorHolder"]
