"""QuCo-RAG's dynamic retrieval loop around any ``generate(prompt) -> str``.

1. Stage 1: if the question's entities are rare in the corpus, retrieve with the question first.
2. Generate. Verify the draft sentence by sentence (stage 2). At the first sentence whose claim
   the corpus does not support, truncate the draft there, retrieve with that claim's
   "head relation" (or the question), and regenerate from the verified prefix with the new
   context.
3. Stop when the verified text contains the final-answer marker, when the generator adds nothing,
   or at ``max_rounds``. Every round is kept in a trace that serialises to JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from quco.decide.report import RiskReport
from quco.errors import UsageError
from quco.rag.retrieve import Passage, as_retriever


class Generate(Protocol):
    def __call__(self, prompt: str, /) -> str: ...


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
    action: str  # "retrieve-before-generation", "accept", "truncate-and-retrieve", "stop-round-limit"
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


class Controller:
    """``Controller(generate, retrieve, detector).run(question) -> ControllerResult``."""

    def __init__(
        self,
        generate: Generate,
        retrieve: Callable[[str, int], Sequence[Passage]],
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
        self.retrieve = as_retriever(retrieve)
        self.detector = detector
        self.max_rounds = max_rounds
        self.k = k
        self.query_mode = query
        self.final_marker = final_marker
        self.prompt = prompt

    def run(self, question: str) -> ControllerResult:
        t_start = time.perf_counter()
        rounds: list[Round] = []
        passages: list[Passage] = []
        t = time.perf_counter()
        first = self.detector.check_question(question)
        check_ms = _ms(t)
        if first.retrieve:
            t = time.perf_counter()
            passages = self.retrieve(question, self.k)
            rounds.append(Round(0, "retrieve-before-generation", first, query=question, passages=tuple(passages),
                                timings_ms={"check": check_ms, "retrieve": _ms(t)}))
        else:
            rounds.append(Round(0, "no-retrieval-needed", first, timings_ms={"check": check_ms}))

        answer, verified = "", True
        for number in range(1, self.max_rounds + 1):
            prompt = self.prompt(question, passages, answer, self.final_marker)
            t = time.perf_counter()
            generated = self.generate(prompt)
            gen_ms = _ms(t)
            if not isinstance(generated, str):
                raise UsageError(f"generate returned {type(generated).__name__}, expected str")
            draft = _join(answer, generated)
            t = time.perf_counter()
            report = self.detector.check_draft(question, draft)
            timings = {"generate": gen_ms, "check": _ms(t)}
            flagged = report.flagged
            # Sentences kept from earlier rounds were verified then; only new text can be flagged.
            if flagged is not None and flagged.start >= len(answer):
                kept = report.truncated_draft(draft)
                query = self._query(question, report)
                if number == self.max_rounds:
                    rounds.append(Round(number, "stop-round-limit", report, prompt, generated, draft, kept,
                                        timings_ms=timings))
                    answer, verified = draft, False
                    break
                t = time.perf_counter()
                passages = self.retrieve(query, self.k)
                timings["retrieve"] = _ms(t)
                rounds.append(Round(number, "truncate-and-retrieve", report, prompt, generated, draft, kept,
                                    query, tuple(passages), timings))
                answer = kept
                continue
            rounds.append(Round(number, "accept", report, prompt, generated, draft, draft, timings_ms=timings))
            done = not generated.strip() or self.final_marker.lower() in draft.lower()
            answer = draft
            if done:
                break
        return ControllerResult(
            question=question,
            answer=answer,
            verified=verified,
            retrieved=any(r.passages or r.query for r in rounds),
            rounds=tuple(rounds),
            timings_ms={"total": _ms(t_start)},
        )

    def _query(self, question: str, report: RiskReport) -> str:
        if self.query_mode == "question":
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
