"""QuCo-RAG's dynamic retrieval loop as steps, apart from how they are carried out.

1. Stage 1: if the question's entities are rare in the corpus, retrieve with the question first.
2. Generate. Verify the draft sentence by sentence (stage 2). At the first sentence whose claim
   the corpus does not support, truncate the draft there, retrieve with that claim's
   "head relation" (or the question), and regenerate from the verified prefix with the new
   context.
3. Stop when the verified text contains the final-answer marker, when the generator adds nothing,
   or at ``max_rounds``. Every round is kept in a trace that serialises to JSON.

``steps`` is a generator that performs no I/O: it yields a ``Call`` for each thing to do (check,
retrieve, generate) and receives its result, and yields ``ControllerEvent``s as rounds end and
text is verified. ``quco.rag.controller`` drives it synchronously, from an event loop, or as a
stream — the same loop, so the three give the same result.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from quco.decide.report import RiskReport
from quco.errors import UsageError
from quco.rag.retrieve import Passage

DEFAULT_MARKER = "So the answer is"


def default_prompt(question: str, passages: Sequence[Passage], answer_so_far: str, marker: str) -> str:
    parts = []
    if passages:
        parts.append("Context:")
        for i, p in enumerate(passages, 1):
            title = f"({p.title}) " if p.title else ""
            parts.append(f"[{i}] {title}{p.text.strip()}")
        parts.append("")
    parts.append(f'Answer the question step by step, then finish with "{marker}: <answer>."')
    parts.append(f"Question: {question}")
    parts.append(f"Answer: {answer_so_far}".rstrip())
    return "\n".join(parts)


@dataclass(frozen=True)
class Round:
    number: int
    action: str  # "retrieve-before-generation", "no-retrieval-needed", "accept", "truncate-and-retrieve", "stop-round-limit"
    report: RiskReport | None
    prompt: str | None = None
    generated: str | None = None
    draft: str | None = None
    kept: str | None = None
    query: str | None = None
    passages: tuple[Passage, ...] = ()
    timings_ms: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "action": self.action,
            "report": None if self.report is None else self.report.to_dict(),
            "prompt": self.prompt,
            "generated": self.generated,
            "draft": self.draft,
            "kept": self.kept,
            "query": self.query,
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": dict(self.timings_ms),
        }


@dataclass(frozen=True)
class ControllerResult:
    question: str
    answer: str  # the final text: verified, unless the round limit stopped the loop (see ``verified``)
    verified: bool  # no sentence of ``answer`` was flagged
    retrieved: bool  # retrieval happened at least once
    rounds: tuple[Round, ...]
    timings_ms: dict = field(default_factory=dict)

    @property
    def final_answer(self) -> str | None:
        """The text after the last final-answer marker, if any."""
        marker = DEFAULT_MARKER.lower()
        low = self.answer.lower()
        i = low.rfind(marker)
        if i < 0:
            return None
        return self.answer[i + len(marker) :].lstrip(" :").strip().rstrip(".") or None

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "final_answer": self.final_answer,
            "verified": self.verified,
            "retrieved": self.retrieved,
            "rounds": [r.to_dict() for r in self.rounds],
            "timings_ms": dict(self.timings_ms),
        }


@dataclass(frozen=True)
class ControllerEvent:
    """What a stream gives, in order: ``"round"`` when a round ends (a retrieval, a flagged
    sentence and its truncation, an acceptance), ``"text"`` for each sentence of the answer once
    it is verified (``verified`` False only for the unverified rest the round limit leaves), and
    one ``"result"`` at the end. The ``"text"`` chunks joined are the result's ``answer``."""

    kind: str
    round: Round | None = None
    text: str | None = None
    verified: bool = True
    result: ControllerResult | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        if self.round is not None:
            out["round"] = self.round.to_dict()
        if self.text is not None:
            out.update(text=self.text, verified=self.verified)
        if self.result is not None:
            out["result"] = self.result.to_dict()
        return out


@dataclass(frozen=True)
class Call:
    """One thing the loop needs done: ``kind`` is "check_question", "check_draft", "retrieve" or
    "generate"; ``args`` its arguments."""

    kind: str
    args: tuple


@dataclass(frozen=True)
class LoopConfig:
    max_rounds: int
    k: int
    query_mode: str
    final_marker: str
    prompt: Callable[[str, Sequence[Passage], str, str], str]


Steps = Generator["Call | ControllerEvent", Any, ControllerResult]


def steps(question: str, cfg: LoopConfig) -> Steps:
    """The loop (see the module docstring). Each ``Call`` is answered by ``send``; events are
    answered by ``send(None)``. Returns the ``ControllerResult``."""
    t_start = time.perf_counter()
    rounds: list[Round] = []
    text = _Verified()
    t = time.perf_counter()
    first = yield Call("check_question", (question,))
    check_ms = _ms(t)
    passages: list[Passage] = []
    if first.retrieve:
        t = time.perf_counter()
        passages = yield Call("retrieve", (question, cfg.k))
        rounds.append(Round(0, "retrieve-before-generation", first, query=question, passages=tuple(passages),
                            timings_ms={"check": check_ms, "retrieve": _ms(t)}))
    else:
        rounds.append(Round(0, "no-retrieval-needed", first, timings_ms={"check": check_ms}))
    yield ControllerEvent("round", round=rounds[-1])

    answer, verified = "", True
    for number in range(1, cfg.max_rounds + 1):
        prompt = cfg.prompt(question, passages, answer, cfg.final_marker)
        t = time.perf_counter()
        generated = yield Call("generate", (prompt,))
        gen_ms = _ms(t)
        if not isinstance(generated, str):
            raise UsageError(f"generate returned {type(generated).__name__}, expected str")
        draft = _join(answer, generated)
        t = time.perf_counter()
        report = yield Call("check_draft", (question, draft))
        timings = {"generate": gen_ms, "check": _ms(t)}
        flagged = report.flagged
        # Sentences kept from earlier rounds were verified then; only new text can be flagged.
        if flagged is not None and flagged.start >= len(answer):
            kept = report.truncated_draft(draft)
            if number == cfg.max_rounds:
                rounds.append(Round(number, "stop-round-limit", report, prompt, generated, draft, kept, timings_ms=timings))
                yield ControllerEvent("round", round=rounds[-1])
                yield from text.extend(kept)
                yield from text.extend(draft, verified=False)
                answer, verified = draft, False
                break
            query = _query(cfg.query_mode, question, report)
            t = time.perf_counter()
            passages = yield Call("retrieve", (query, cfg.k))
            timings["retrieve"] = _ms(t)
            rounds.append(Round(number, "truncate-and-retrieve", report, prompt, generated, draft, kept, query,
                                tuple(passages), timings))
            yield ControllerEvent("round", round=rounds[-1])
            yield from text.extend(kept)
            answer = kept
            continue
        rounds.append(Round(number, "accept", report, prompt, generated, draft, draft, timings_ms=timings))
        yield ControllerEvent("round", round=rounds[-1])
        yield from text.extend(draft)
        answer = draft
        if not generated.strip() or cfg.final_marker.lower() in draft.lower():
            break
    yield from text.extend(answer, verified=verified, last=True)
    return ControllerResult(question=question, answer=answer, verified=verified,
                            retrieved=any(r.passages or r.query for r in rounds), rounds=tuple(rounds),
                            timings_ms={"total": _ms(t_start)})


_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")


def sentence_chunks(text: str) -> list[str]:
    """``text`` cut after each sentence's end (the whitespace goes with the next): what a stream
    gives a sentence at a time; joined, the text."""
    return [chunk for chunk in _SENTENCE_END.split(text) if chunk]


class _Verified:
    """The answer's text as given out so far: each extension gives only what is new, one chunk per
    sentence, so that the chunks joined are the answer."""

    def __init__(self) -> None:
        self.sent = ""

    def extend(self, text: str, verified: bool = True, *, last: bool = False):
        # Trailing space is held back until the end: the next draft may join the text without it.
        text = text if last else text.rstrip()
        if not text.startswith(self.sent):
            return  # a regeneration rewrote given-out text (never: kept text is a prefix of every later draft)
        for chunk in sentence_chunks(text[len(self.sent) :]):
            yield ControllerEvent("text", text=chunk, verified=verified)
        self.sent = text


def _query(mode: str, question: str, report: RiskReport) -> str:
    if mode == "question":
        return question
    flagged = report.flagged
    if flagged is not None and flagged.triplet is not None:
        return flagged.triplet.query
    return report.suggested_query or (flagged.lone_entity if flagged is not None else None) or question


def _join(prefix: str, new: str) -> str:
    if not prefix:
        return new.strip()
    return f"{prefix.rstrip()} {new.strip()}".strip()


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)
