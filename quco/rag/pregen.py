"""One-line adoption: ``quco.hook(question)`` and ``quco.guard(generate, retrieve=...)``.

``hook`` is the pre-generation check (stage 1) as a function (``ahook`` for async code). ``guard``
wraps the caller's ``generate``: when stage 1 fires it retrieves and puts the passages into the
prompt, otherwise it calls ``generate`` with the question unchanged; an ``async def`` generate gets
an async wrapper, whose check and retrieval never block the event loop. Without an explicit detector both use the one
configured by ``quco.toml`` / ``QUCO_*`` (built once, on first use).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence

from quco.rag.controller import call_off_loop, is_async
from quco.rag.retrieve import Passage, as_passages, as_retriever

_default = None
_default_lock = threading.Lock()


def default_detector():
    """The detector described by the configuration (quco.toml, QUCO_* variables), built once."""
    global _default
    with _default_lock:
        if _default is None:
            from quco.config import load_settings

            _default = load_settings().detector()
        return _default


def hook(question: str, *, detector=None):
    """Stage 1 before generation: a ``RiskReport`` whose ``retrieve`` says whether to retrieve."""
    return (detector or default_detector()).check_question(question)


async def ahook(question: str, *, detector=None):
    """``hook`` for async code: the check runs off the event loop (``Detector.acheck_question``)."""
    d = detector or await asyncio.to_thread(default_detector)
    return await d.acheck_question(question)


def context_prompt(question: str, passages: Sequence[Passage]) -> str:
    lines = ["Use the context to answer the question.", "", "Context:"]
    for i, p in enumerate(passages, 1):
        title = f"({p.title}) " if p.title else ""
        lines.append(f"[{i}] {title}{p.text.strip()}")
    lines += ["", f"Question: {question}", "Answer:"]
    return "\n".join(lines)


def guard(
    generate: Callable[[str], str] | None = None,
    *,
    retrieve: Callable,
    detector=None,
    k: int = 3,
    prompt: Callable[[str, Sequence[Passage]], str] = context_prompt,
    on_report: Callable | None = None,
):
    """Wrap ``generate(question) -> str`` so it retrieves only when quco says so.

    Usable as ``guarded = quco.guard(generate, retrieve=r)`` or as a decorator
    ``@quco.guard(retrieve=r)``. ``on_report(report, passages)`` sees every decision.
    """
    retriever = as_retriever(retrieve)

    def wrap(fn: Callable[[str], str]):
        if is_async(fn):
            return _async_guarded(fn, retrieve, detector, k, prompt, on_report)

        @functools.wraps(fn)
        def guarded(question: str, *args, **kwargs):
            report = hook(question, detector=detector)
            passages = retriever(question, k) if report.retrieve else []
            if on_report is not None:
                on_report(report, passages)
            return fn(prompt(question, passages) if passages else question, *args, **kwargs)

        return guarded

    return wrap if generate is None else wrap(generate)


def _async_guarded(fn, retrieve, detector, k, prompt, on_report):
    @functools.wraps(fn)
    async def guarded(question: str, *args, **kwargs):
        report = await ahook(question, detector=detector)
        passages: list[Passage] = []
        if report.retrieve:
            passages = as_passages(await call_off_loop(retrieve, question, k))
        if on_report is not None:
            on_report(report, passages)
        return await fn(prompt(question, passages) if passages else question, *args, **kwargs)

    return guarded
