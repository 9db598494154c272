"""``Controller``: QuCo-RAG's dynamic retrieval loop (``quco.rag.loop``) around any
``generate(prompt) -> str`` and ``retrieve(query, k)``, run four ways from the same steps:

* ``run(question)`` and ``stream(question)`` call ``generate``, ``retrieve`` and the detector in
  the caller's thread;
* ``arun(question)`` and ``astream(question)`` run in an event loop: ``async def`` callables (and a
  detector's ``acheck_*``) are awaited, plain ones run in the loop's thread pool, so the loop is
  never blocked by a parse or a blocking client.

The streams give ``ControllerEvent``s: each round as it ends, each verified sentence, the result.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol

from quco.errors import UsageError
from quco.rag.loop import (
    DEFAULT_MARKER,
    Call,
    ControllerEvent,
    ControllerResult,
    LoopConfig,
    Round,
    default_prompt,
    steps,
)
from quco.rag.retrieve import Passage, as_passages

__all__ = ["DEFAULT_MARKER", "Controller", "ControllerEvent", "ControllerResult", "Round", "default_prompt"]


class Generate(Protocol):
    def __call__(self, prompt: str, /) -> str: ...


class Controller:
    """``Controller(generate, retrieve, detector).run(question) -> ControllerResult``; ``arun``,
    ``stream`` and ``astream`` likewise (see the module docstring)."""

    def __init__(
        self,
        generate: Generate | Callable[[str], Any],
        retrieve: Callable[[str, int], Any],
        detector,
        *,
        max_rounds: int = 4,
        k: int = 3,
        query: str = "triplet",  # "triplet": the flagged claim's "head relation"; "question": the question
        final_marker: str = DEFAULT_MARKER,
        prompt: Callable[[str, Sequence[Passage], str, str], str] = default_prompt,
    ):
        if not callable(generate) or not callable(retrieve):
            raise UsageError("generate and retrieve must be callables")
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            raise UsageError(f"max_rounds must be a positive integer, not {max_rounds!r}")
        if query not in ("triplet", "question"):
            raise UsageError(f"query must be 'triplet' or 'question', not {query!r}")
        self.generate = generate
        self.retrieve = retrieve
        self.detector = detector
        self.config = LoopConfig(max_rounds=max_rounds, k=k, query_mode=query, final_marker=final_marker, prompt=prompt)

    # -- in the caller's thread ---------------------------------------------------------------
    def run(self, question: str) -> ControllerResult:
        return _result(self.stream(question))

    def stream(self, question: str) -> Iterator[ControllerEvent]:
        loop = steps(question, self.config)
        item = _advance(loop, None)
        while not isinstance(item, ControllerResult):
            if isinstance(item, Call):
                item = _advance(loop, self._do(item))
            else:
                yield item
                item = _advance(loop, None)
        yield ControllerEvent("result", result=item)

    def _do(self, call: Call) -> Any:
        if call.kind == "generate":
            out = self.generate(*call.args)
            if inspect.isawaitable(out):
                raise UsageError("generate is async: use arun or astream")
            return out
        if call.kind == "retrieve":
            return as_passages(self.retrieve(*call.args))
        return getattr(self.detector, call.kind)(*call.args)

    # -- in an event loop ---------------------------------------------------------------------
    async def arun(self, question: str) -> ControllerResult:
        result = None
        async for event in self.astream(question):
            result = event.result if event.kind == "result" else result
        assert result is not None
        return result

    async def astream(self, question: str) -> AsyncIterator[ControllerEvent]:
        loop = steps(question, self.config)
        item = _advance(loop, None)
        while not isinstance(item, ControllerResult):
            if isinstance(item, Call):
                item = _advance(loop, await self._ado(item))
            else:
                yield item
                item = _advance(loop, None)
        yield ControllerEvent("result", result=item)

    async def _ado(self, call: Call) -> Any:
        if call.kind == "generate":
            return await call_off_loop(self.generate, *call.args)
        if call.kind == "retrieve":
            return as_passages(await call_off_loop(self.retrieve, *call.args))
        async_check = getattr(self.detector, "a" + call.kind, None)
        if async_check is not None:
            return await async_check(*call.args)
        return await asyncio.to_thread(getattr(self.detector, call.kind), *call.args)


async def call_off_loop(fn: Callable, *args) -> Any:
    """``fn(*args)`` awaited when it is async, else run in the event loop's thread pool."""
    if is_async(fn):
        return await fn(*args)
    out = await asyncio.to_thread(fn, *args)
    return await out if inspect.isawaitable(out) else out


def _advance(loop, value) -> Call | ControllerEvent | ControllerResult:
    """The loop's next step after ``value`` (a call's answer, or None after an event): a call to
    carry out, an event to give out, or its result when it has finished."""
    try:
        return loop.send(value)
    except StopIteration as done:
        return done.value


def is_async(fn: Callable) -> bool:
    """Is ``fn`` an ``async def`` function, or an object whose ``__call__`` is one?"""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


def _result(events: Iterator[ControllerEvent]) -> ControllerResult:
    result = None
    for event in events:
        result = event.result if event.kind == "result" else result
    assert result is not None  # a stream always ends with its result
    return result
