"""`quco serve`: quco over HTTP for controllers not written in Python (extra ``quco[serve]``).

Endpoints: POST /v1/check, /v1/check_many, /v1/count, /v1/cooccur, /v1/titles, /v1/passages,
/v1/provenance (where phrases occur: ``quco.service.documents``), /v1/reward (RL rewards, an
OpenRLHF-style remote reward); GET /v1/info, /healthz (liveness), /readyz (readiness: 200 once a check
can be answered), /metrics (Prometheus text), /openapi.json. A check that arrives while the worker
is still loading its model waits for it (within the request's deadline) rather than loading it itself.
Every request's work is bounded before it starts: a body cap
(413), items per batch (422), characters per request (413), sentences per draft (400), and at
most ``heavy_workers`` drafts or large batches at once (503 with Retry-After). Heavy checks run in
worker processes that are killed at the request deadline (504), so a timeout stops the work and
returns its memory (``quco.service.heavy``). A bearer token (compared in constant time) is
checked before the body is read (401). Upstream failures are 502 (bad answer) or 503
(unreachable, with the upstream's Retry-After), never a 4xx. The index is opened read-only, so several worker processes can share one file;
when the index file is replaced (an atomic rebuild), the server loads the new one in the
background and swaps it in: every request is answered from the old or the new index.
"""


import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from quco.audit.log import UnknownRequest, new_request_id
from quco.audit.writer import restarts_of
from quco.backends.base import answer_each
from quco.errors import AuditError, BackendError, BackendUnavailable, QucoError, QueryError, UpstreamError, UsageError
from quco.service.documents import add_document_routes, sources_if_asked
from quco.service.holder import DetectorHolder
from quco.service.middleware import LimitsAndMetrics, token_ok
from quco.service.models import corpus_fields, request_models
from quco.service.prom import Metrics

log = logging.getLogger("quco.serve")

MAX_BODY_BYTES = 1 << 20
MAX_ITEMS = 256
MAX_REQUEST_CHARS = 120_000  # questions + drafts in one request: ~6 s and ~600 MB of parsing at most
LIGHT_CHARS = 8_000  # a request with no draft and at most this much text is answered in-process
HEAVY_WORKERS = 1
REQUEST_TIMEOUT_S = 10.0


@dataclass
class _Service:
    """What the routes of one serving worker share."""

    metrics: Metrics
    holder: DetectorHolder
    pool: Any  # quco.service.heavy.HeavyPool
    audit: Any  # an AuditClient, or None without --audit
    token: bytes | None
    max_request_chars: int
    audit_required: bool = True  # no check answered while its audit row cannot be written
    ready: threading.Event = field(default_factory=threading.Event)  # model loaded, a check answered, workers up
    tracing: bool = False  # OpenTelemetry spans per request (quco.service.tracing)


def create_app(settings, *, token: str | None = None, max_body: int = MAX_BODY_BYTES, max_items: int = MAX_ITEMS,
               timeout: float = REQUEST_TIMEOUT_S, max_request_chars: int = MAX_REQUEST_CHARS,
               heavy_workers: int = HEAVY_WORKERS):
    from fastapi import FastAPI

    from quco import __version__
    from quco.service.heavy import HeavyPool

    metrics = Metrics()
    holder = DetectorHolder(settings, metrics)
    pool = HeavyPool(settings, heavy_workers)
    threading.Thread(target=holder.current().backend.warm, daemon=True, name="quco-index-warm").start()
    svc = _Service(metrics, holder, pool, _audit_client(metrics), token.encode() if token else None,
                   max_request_chars, os.environ.get("QUCO_SERVE_AUDIT_POLICY", "required") == "required")
    threading.Thread(target=_get_ready, args=(svc,), daemon=True, name="quco-ready").start()
    from quco.service.tracing import Traced, configure

    tracer_provider = configure()
    svc.tracing = tracer_provider is not None

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if tracer_provider is not None:
            tracer_provider.shutdown()  # this worker's last spans are exported before it exits
        pool.close()  # idle workers go now; a busy one when its request is answered
        if svc.audit is not None:
            svc.audit.close()  # this worker's last rows reach the writer before the server stops it

    app = FastAPI(title="quco", version=__version__, lifespan=lifespan, **_no_framework_telemetry(FastAPI),
                  description="Decide when an LLM must retrieve, from pretraining-corpus statistics (QuCo-RAG).")
    if svc.audit is not None:
        metrics.audit_state(True, 0)
    app.add_middleware(LimitsAndMetrics, metrics=metrics, max_body=max_body, timeout=timeout, token=svc.token)
    if tracer_provider is not None:  # outermost: refused and timed-out requests are traced too
        app.add_middleware(Traced, provider=tracer_provider)
    _add_error_handlers(app, svc)
    models = request_models(max_items)
    _add_status_routes(app, svc)
    _add_check_routes(app, svc, models)
    _add_count_routes(app, svc, models)
    _add_reward_route(app, svc, models, settings)
    add_document_routes(app, holder, models, _post)
    app.state.pool = pool
    app.state.holder = holder
    app.state.metrics = metrics
    return app


def _add_error_handlers(app, svc: _Service) -> None:
    """Every error as ``{"error": ...}``: 422 for invalid bodies, 400 for what the caller must fix,
    503 (with Retry-After) when busy or the upstream is unreachable, 502 for a wrong upstream answer."""
    from fastapi import HTTPException
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from quco.service.heavy import Busy

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
        if isinstance(exc, (Busy, AuditError)):  # busy, or the audit writer is being restarted: try again
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "1"})
        if isinstance(exc, (QueryError, UsageError)):  # the input cannot be answered: the caller's to fix
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(exc, BackendUnavailable):  # upstream unreachable: try again later
            svc.metrics.count_backend_error()
            wait = exc.retry_after if exc.retry_after is not None else 1
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(max(1, round(wait)))})
        if isinstance(exc, BackendError):  # upstream answered, but wrongly: a bad gateway, never the caller's 4xx
            svc.metrics.count_backend_error()
            return JSONResponse({"error": str(exc)}, status_code=502)
        return JSONResponse({"error": str(exc)}, status_code=500)


def _add_status_routes(app, svc: _Service) -> None:
    """GET /healthz, /metrics and /v1/info."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, PlainTextResponse

    from quco import __version__

    @app.get("/healthz")
    def healthz(request: Request):
        d = svc.holder.current()
        body: dict[str, Any] = {"status": "ok", "version": __version__}
        if _authorised(svc, request):  # index identity and paths only for callers who hold the token
            body.update({"backend": d.backend.name, "index": d.backend.identity, "corpus_tokens": d.backend.corpus.tokens,
                         "corpus_documents": d.backend.corpus.documents, "extractor": d.extractor.model_name})
        if svc.audit is not None:
            up = svc.audit.available()
            body["audit"] = {"writer": "up" if up else "down", "policy": "required" if svc.audit_required else "best-effort",
                             "rows_lost": svc.audit.dropped, "writer_restarts": restarts_of(svc.audit.sock_path)}
            if not up and svc.audit_required:  # checks are refused meanwhile: not ready
                return JSONResponse({**body, "status": "unavailable"}, status_code=503, headers={"Retry-After": "1"})
        return body

    @app.get("/readyz")
    def readyz():
        """Readiness, for an orchestrator: 200 only when a check can be answered now (the model is
        loaded, the index answers, the check workers are up, and the audit log can be written
        when one is required); 503 with Retry-After otherwise. /healthz stays liveness."""
        waiting = [] if svc.ready.is_set() else ["loading the model and the index"]
        if svc.audit is not None and svc.audit_required and not svc.audit.available():
            waiting.append("the audit writer is being restarted")
        if waiting:
            return JSONResponse({"status": "starting" if not svc.ready.is_set() else "unavailable",
                                 "waiting_for": waiting}, status_code=503, headers={"Retry-After": "1"})
        return {"status": "ready"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus():
        from starlette.responses import Response

        be = svc.holder.current().backend
        if svc.audit is not None:
            svc.metrics.audit_state(svc.audit.available(), restarts_of(svc.audit.sock_path))
        body, content_type = svc.metrics.render(getattr(be, "cache_hits", 0), getattr(be, "cache_misses", 0))
        return Response(body, media_type=content_type)

    @app.get("/v1/info")
    def info():
        """What a client needs to add this index's counts to others' (``quco.backends.remote``)."""
        d = svc.holder.current()
        norm = getattr(d.backend, "normalizer", None)
        return {**corpus_fields(d.backend), "backend": d.backend.name, "version": __version__,
                "normalizer": norm.to_dict() if norm is not None else None}


def _add_check_routes(app, svc: _Service, models: SimpleNamespace) -> None:
    """POST /v1/check, /v1/check_many and /v1/feedback."""
    from fastapi import Body, HTTPException, Request
    from starlette.concurrency import run_in_threadpool

    @_post(app, "/v1/check", req=models.CheckRequest)
    async def check(request: Request, req: Any = Body(...)):
        started = time.perf_counter()
        items = [(req.question, req.draft)]
        reports = await sources_if_asked(svc.holder, await _run_checks(svc, items), req.sources)
        _traced(svc, reports)
        rid, _, client = _audited(svc, request, items, reports, started)
        return _json({**_report_json(reports[0], svc.metrics), "request_id": rid, **_client(client)}, rid, client)

    @_post(app, "/v1/check_many", req=models.CheckManyRequest)
    async def check_many(request: Request, req: Any = Body(...)):
        started = time.perf_counter()
        items = [(i.question, i.draft) for i in req.items]
        reports = await sources_if_asked(svc.holder, await _run_checks(svc, items),
                                         req.sources or any(i.sources for i in req.items))
        _traced(svc, reports)
        rid, ids, client = _audited(svc, request, items, reports, started)
        return _json({"request_id": rid, **_client(client), "reports": [{**_report_json(r, svc.metrics), "request_id": i}
                                                                        for r, i in zip(reports, ids)]}, rid, client)

    @_post(app, "/v1/feedback", req=models.FeedbackRequest)
    async def feedback(req: Any = Body(...)):
        if svc.audit is None:
            raise HTTPException(409, "feedback needs the audit log: start quco serve with --audit PATH")
        try:
            new = await run_in_threadpool(svc.audit.feedback, req.request_id, req.label, req.note)
        except UnknownRequest as exc:
            raise HTTPException(404, str(exc)) from None
        return {"request_id": req.request_id, "label": req.label, "updated": not new}


def _traced(svc: _Service, reports) -> None:
    if svc.tracing:
        from quco.service.tracing import record_checks

        record_checks(reports, svc.holder.current().backend)


def _add_count_routes(app, svc: _Service, models: SimpleNamespace) -> None:
    """POST /v1/count and /v1/cooccur: an index's counts, for shards and non-Python callers."""
    from fastapi import Body
    from starlette.concurrency import run_in_threadpool

    @_post(app, "/v1/count", req=models.CountRequest)
    async def count(req: Any = Body(...)):
        be = svc.holder.current().backend
        items = await run_in_threadpool(answer_each, be.count_many, req.phrases, _REQUEST_ERRORS)
        return {"counts": [_item(p, c, lambda c: {"phrase": c.phrase}) for p, c in zip(req.phrases, items)],
                **corpus_fields(be)}

    @_post(app, "/v1/cooccur", req=models.CooccurRequest)
    async def cooccur(req: Any = Body(...)):
        be = svc.holder.current().backend
        pairs = [(p.a, p.b) for p in req.pairs]
        items = await run_in_threadpool(answer_each, lambda batch: be.cooccur_many(batch, req.window), pairs,
                                        _REQUEST_ERRORS)
        return {"results": [_item(p, c, lambda c: {"a": c.a, "b": c.b, "window": c.window}) for p, c in zip(pairs, items)],
                **corpus_fields(be)}


def _add_reward_route(app, svc: _Service, models: SimpleNamespace, settings) -> None:
    """POST /v1/reward: ``{"prompts", "completions"}`` -> ``{"rewards"}`` (``quco.reward``), bounded
    like the checks (items, characters) and counted in /metrics."""
    from fastapi import Body, HTTPException
    from starlette.concurrency import run_in_threadpool

    from quco.reward.core import Reward

    made: dict = {}  # detector -> its Reward (a new one when the index is swapped)

    def reward_of(detector) -> Reward:
        if made.get("for") is not detector:
            made["for"], made["reward"] = detector, Reward(
                detector.backend, detector.extractor, detector.thresholds, scheme=settings.reward_scheme,
                unknown=settings.reward_unknown, window=detector.window)
        return made["reward"]

    @_post(app, "/v1/reward", req=models.RewardRequest)
    async def reward(req: Any = Body(...)):
        prompts, completions = _reward_items(req)
        chars = sum(len(json.dumps(x, ensure_ascii=False)) for x in [*(prompts or []), *completions])
        if chars > svc.max_request_chars:
            raise HTTPException(413, f"the request holds {chars:,} characters of prompts and completions; "
                                     f"the limit is {svc.max_request_chars:,} (split it into several requests)")
        await _until_ready(svc)
        rw = reward_of(svc.holder.current())
        results = await run_in_threadpool(rw.details, prompts, completions)
        svc.metrics.count_rewards(results)
        body: dict[str, Any] = {"rewards": [r.reward for r in results], "scheme": rw.scheme,
                                **corpus_fields(rw.detector.backend)}
        if req.details:
            body["details"] = [r.to_dict() for r in results]
        return _json(body)


def _reward_items(req) -> tuple[list | None, list]:
    """(prompts, completions) of a reward request; a ``query`` is split at the end of its prompt."""
    from fastapi import HTTPException

    if req.completions is not None:
        return req.prompts, req.completions
    if req.query is None:
        raise HTTPException(422, "give completions (with prompts), or query (prompt + completion) with prompts")
    prompts = req.prompts
    if prompts is None or len(prompts) != len(req.query) or not all(isinstance(p, str) for p in prompts):
        raise HTTPException(422, "query needs one prompt (text) per item, to split the completion from it")
    return prompts, [q[len(p):] if q.startswith(p) else q for q, p in zip(req.query, prompts)]


def _post(app, path: str, **bodies: type) -> Callable:
    """``app.post(path)`` for a handler whose body models are built per app (their list sizes come
    from this app's limits): the models are set as the parameters' annotations, which FastAPI reads."""

    def register(handler: Callable) -> Callable:
        handler.__annotations__.update(bodies)
        return app.post(path)(handler)

    return register


async def _run_checks(svc: _Service, items: list) -> list:
    """Light requests in a thread of this worker; drafts and large batches in an abandonable process."""
    from fastapi import HTTPException
    from starlette.concurrency import run_in_threadpool

    await _until_ready(svc)
    up = svc.audit.available() if svc.audit is not None else True
    if svc.audit is not None:
        svc.metrics.audit_state(up)
    if not up and svc.audit_required:
        svc.metrics.count_audit_refused()  # fail closed: never an answer without its audit row
        raise HTTPException(503, "the audit log cannot be written right now (its writer is being restarted); "
                                 "try again", headers={"Retry-After": "1"})
    chars = sum(len(q) + len(d or "") for q, d in items)
    if chars > svc.max_request_chars:
        raise HTTPException(413, f"the request holds {chars:,} characters of questions and drafts; "
                                 f"the limit is {svc.max_request_chars:,} (split it into several requests)")
    if chars <= LIGHT_CHARS and all(d is None for _, d in items):
        return await run_in_threadpool(svc.holder.current().check_many, items)
    return await svc.pool.run(items)  # the middleware's deadline cancels it, and the worker is killed


def _authorised(svc: _Service, request) -> bool:
    return svc.token is None or token_ok(request.headers.get("authorization", ""), svc.token)


def _audited(svc: _Service, request, items: list, reports: list, started: float) -> tuple[str, list[str], str | None]:
    """The request's id and one per decision — always quco's own, so two decisions never share one
    and feedback can only label the decision it names — and the caller's X-Request-ID (when it is
    a sane token), kept beside them; each decision is recorded in the audit log when there is one."""
    client = request.headers.get("x-request-id", "")
    client = client if _REQUEST_ID.fullmatch(client) else None
    rid = new_request_id()
    ids = [rid] if len(reports) == 1 else [f"{rid}-{i}" for i in range(len(reports))]
    if svc.audit is not None:
        ms = (time.perf_counter() - started) * 1000 / max(1, len(reports))
        for (q, d), r, i in zip(items, reports, ids):
            svc.audit.record_report(r, request_id=i, source="serve", latency_ms=ms, question=q, draft=d,
                                    client_request_id=client)
    return rid, ids, client


# Input errors (400), an unreachable upstream (503) and a wrong upstream answer (502) stay errors of
# the request; what is isolated per item (count null) is an index that cannot answer one phrase.
_REQUEST_ERRORS = (QueryError, BackendUnavailable, UpstreamError)


def _item(query, answer, fields) -> dict:
    if isinstance(answer, BackendError):
        a, b = (query, None) if isinstance(query, str) else query
        keys = {"phrase": a} if b is None else {"a": a, "b": b}
        return {**keys, "count": None, "approx": False, "error": str(answer)}
    return {**fields(answer), "count": answer.count, "approx": answer.approx}


def _get_ready(svc: _Service) -> None:
    """Load the model, answer one check and start the check workers, then say ready. A failure is
    logged and readiness is still set: requests then fail with their own error, not by waiting."""
    try:
        # loads the spaCy pipeline and touches the index, before any request needs them
        svc.holder.current().check_many([("Is the service ready?", "The service is ready.")])
    except Exception as exc:
        log.warning("warm-up check failed: %s", exc)
    try:
        svc.pool.prestart()
    except Exception as exc:
        log.warning("could not start check workers in advance: %s", exc)
    svc.ready.set()


async def _until_ready(svc: _Service) -> None:
    if not svc.ready.is_set():  # the middleware's deadline bounds the wait
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(svc.ready.wait)


def _client(client: str | None) -> dict:
    return {"client_request_id": client} if client else {}


def _json(data, request_id: str | None = None, client_request_id: str | None = None):
    # The reports are plain JSON already: skip FastAPI's generic encoder (a third of the cost).
    from starlette.responses import Response

    headers = {"X-Request-ID": request_id} if request_id else {}
    if client_request_id:
        headers["X-Client-Request-ID"] = client_request_id
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), media_type="application/json",
                    headers=headers)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _audit_client(metrics: Metrics):
    """This worker's connection to the audit writer, when ``quco serve --audit`` started one."""
    sock = os.environ.get("QUCO_AUDIT_SOCKET")
    if not sock:
        return None
    from quco.audit.writer import AuditClient

    return AuditClient(sock, on_lost=metrics.count_audit_lost)


def _report_json(report, metrics: Metrics) -> dict:
    if report.unknown:
        metrics.count_backend_error()
    metrics.count_decision(report)
    return report.to_dict()


def app_from_env():
    """Uvicorn factory for worker processes: settings come from QUCO_* variables. A worker of a
    server that died (kill -9 included) stops gracefully, so it never keeps the port or answers
    unaudited; it exits outright 8 s later if that has not ended it (a request still in hand, rows
    for an audit writer that went with the server)."""
    import signal

    from quco.config import load_settings
    from quco.process import exit_with_parent

    if os.environ.get("QUCO_SERVE_PID") and os.environ["QUCO_SERVE_PID"] == str(os.getppid()):

        def stop() -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown: the audit rows are sent
            time.sleep(8)
            os._exit(1)

        exit_with_parent(os.getppid(), stop)

    settings = load_settings()
    return create_app(settings, token=os.environ.get("QUCO_API_TOKEN") or None,
                      max_body=int(os.environ.get("QUCO_SERVE_MAX_BODY", MAX_BODY_BYTES)),
                      max_items=int(os.environ.get("QUCO_SERVE_MAX_ITEMS", MAX_ITEMS)),
                      timeout=float(os.environ.get("QUCO_SERVE_TIMEOUT", REQUEST_TIMEOUT_S)),
                      max_request_chars=int(os.environ.get("QUCO_SERVE_MAX_REQUEST_CHARS", MAX_REQUEST_CHARS)),
                      heavy_workers=int(os.environ.get("QUCO_SERVE_HEAVY_WORKERS", HEAVY_WORKERS)))


__all__ = ["DetectorHolder", "Metrics", "app_from_env", "create_app"]


def _no_framework_telemetry(fastapi_class) -> dict:
    """FastAPI releases with their own OpenTelemetry (``FastAPI(telemetry=...)``) open a server span
    per request whenever a tracer provider is set, beside ``Traced``'s for the same request. quco
    keeps its own, the outermost (refused and timed-out requests are traced too): the framework's
    is turned off where it exists."""
    import inspect

    if "telemetry" not in inspect.signature(fastapi_class.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
