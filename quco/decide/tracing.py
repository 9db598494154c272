"""Optional OpenTelemetry spans for each batch of checks, off by default.

With ``QUCO_OTEL=1`` (or ``Detector(tracing=True)``) and ``opentelemetry-api`` installed, each
``check_many`` emits a ``quco.check`` span with ``quco.extract``, ``quco.count`` and
``quco.decide`` children, timed by the detector's own clock, carrying the batch size, backend,
corpus size, decisions and unknown counts. Where they go is the application's OpenTelemetry set-up
(``opentelemetry-sdk`` and an exporter); quco configures none.
"""

from __future__ import annotations

import os


def enabled(flag: bool | None) -> bool:
    if flag is None:
        flag = os.environ.get("QUCO_OTEL", "").strip().lower() in ("1", "true", "yes", "on")
    if not flag:
        return False
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def emit(wall_start_ns: int, marks: list[tuple[str, float, float]], attributes: dict) -> None:
    """``marks``: (name, start, end) in perf_counter seconds relative to ``marks[0]``'s start."""
    from opentelemetry import trace

    tracer = trace.get_tracer("quco")
    origin = marks[0][1]

    def ns(t: float) -> int:
        return wall_start_ns + int((t - origin) * 1e9)

    name, start, end = marks[0]
    root = tracer.start_span(name, start_time=ns(start), attributes=attributes)
    ctx = trace.set_span_in_context(root)
    for child, s, e in marks[1:]:
        tracer.start_span(child, context=ctx, start_time=ns(s)).end(end_time=ns(e))
    root.end(end_time=ns(end))
