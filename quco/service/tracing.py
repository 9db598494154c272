"""OpenTelemetry for ``quco serve``, on when ``QUCO_OTEL=1`` or an OTLP endpoint is configured
(``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and the ``otel`` extra
is installed.

Each worker process sets up its own tracer provider from the standard variables — the exporter from
``OTEL_TRACES_EXPORTER`` (``otlp`` by default, ``console``, ``none``; the OTLP exporter reads its
endpoint, headers and timeout from ``OTEL_EXPORTER_OTLP_*``), the service name from
``OTEL_SERVICE_NAME`` (``quco-serve`` when unset) and ``OTEL_RESOURCE_ATTRIBUTES``, the batching from
``OTEL_BSP_*``. Every request under ``/v1/`` becomes a server span that joins the caller's trace
through its W3C ``traceparent`` (and ``tracestate``) header; the check's extract/count/decide spans
are its children. Spans are flushed when the worker stops.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("quco.service")
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(env=os.environ) -> bool:
    return env.get("QUCO_OTEL", "").strip().lower() in ("1", "true", "yes", "on") or any(env.get(v) for v in _ENDPOINTS)


def configure():
    """A tracer provider for this process from the OTEL_* variables, or None (tracing off, or the
    extra missing: said once in the log)."""
    if not wanted():
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing asked for, but opentelemetry-sdk is not installed: pip install 'quco[otel]'")
        return None
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "quco-serve"}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]:
        exporter = _exporter(name)
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(name: str):
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http: pip install 'quco[otel]'")
            return None
        return OTLPSpanExporter()
    log.warning("unknown OTEL_TRACES_EXPORTER %r ignored (otlp, console or none)", name)
    return None


class Traced:
    """ASGI middleware: a server span per ``/v1/`` request, child of the caller's ``traceparent``."""

    def __init__(self, app, provider):
        self.app, self.provider = app, provider

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        from opentelemetry import context, propagate, trace

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        parent = propagate.extract(carrier)
        tracer = self.provider.get_tracer("quco.service")
        status = {"code": 500}

        async def send_tracking(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        with tracer.start_as_current_span(f"{scope['method']} {scope['path']}", context=parent,
                                          kind=trace.SpanKind.SERVER) as span:
            token = context.attach(trace.set_span_in_context(span))
            try:
                await self.app(scope, receive, send_tracking)
            finally:
                context.detach(token)
                span.set_attribute("http.request.method", scope["method"])
                span.set_attribute("url.path", scope["path"])
                span.set_attribute("http.response.status_code", status["code"])
                if status["code"] >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))


def record_checks(reports, backend) -> None:
    """The current span's check attributes and, from each report's own clock, the batch's
    extract/count/decide spans as its children."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording() or not reports:
        return
    span.set_attributes({"quco.batch_size": len(reports), "quco.rag.retrieve": sum(r.retrieve for r in reports),
                         "quco.unknown": sum(r.unknown for r in reports), "quco.backend": backend.identity,
                         "quco.corpus_tokens": backend.corpus.tokens})
    t = reports[0].timings_ms
    n = t.get("batch_size", len(reports))
    tracer = trace.get_tracer("quco.service")
    ctx = trace.set_span_in_context(span)
    import time

    end = time.time_ns()
    decide = int(sum(r.timings_ms.get("decide_ms", 0.0) for r in reports) * 1e6)
    count = int(t.get("count_ms", 0.0) * n * 1e6)
    extract = int(t.get("extract_ms", 0.0) * n * 1e6)
    start = end - decide - count - extract
    for name, length in (("quco.extract", extract), ("quco.count", count), ("quco.decide", decide)):
        tracer.start_span(name, context=ctx, start_time=start).end(end_time=start + length)
        start += length
