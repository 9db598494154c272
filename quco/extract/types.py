"""Result types of extraction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # spaCy NER label, or PROPN / TITLE / QUOTED / YEAR for rule-found spans
    start: int  # character offsets in the input text
    end: int


@dataclass(frozen=True)
class Triplet:
    head: str
    relation: str
    tail: str
    # "svo": linked by a verb in the parse; "pair": co-mentioned, no verb link; "claim": a claim and its
    # anchor (mode "evidence")
    kind: str = "svo"

    @property
    def query(self) -> str:
        """QuCo-RAG's retrieval query for a flagged triplet: "head relation"."""
        return f"{self.head} {self.relation}".strip()


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str
    start: int
    end: int
    entities: tuple[Entity, ...]
    triplets: tuple[Triplet, ...]
    claims: tuple[str, ...] = ()  # entities and noun phrases outside the subject: what the sentence asserts
    subjects: tuple[str, ...] = ()  # entities inside the clause subject: what the sentence is about
