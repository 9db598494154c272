"""Support from the article on a subject: a claim the corpus never writes near the subject's *name*
may still be written in the subject's *own article* — the documents titled with that name.

Articles refer to their subject by a shorter or fuller name than a question or draft uses ("Ed
Sullivan" is "Edward Vincent Sullivan" and then "Sullivan" in the article titled "Ed Sullivan"),
so the name and the claim are never within a window of each other although the article states
the claim. ``CountBackend.in_articles_many`` counts the claim (each of its word forms) in the
documents titled with the anchor; the association is that count against what chance puts in
that many tokens: ``expected = count(claim) x article tokens / corpus tokens``, scored as a window
co-occurrence is (``quco.decide.evidence.observed_against``).

Only a *silent* claim is looked for (``quco.decide.bridges.silent``: present in the corpus, never
near the anchor, and not expected there by chance); a claim that chance would have put near the
anchor and is not there keeps its evidence against it. A backend without titles (``QueryError``)
or that fails offers no article support: the claim stays silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from quco.backends.base import Corpus, CountBackend, InArticle
from quco.decide.evidence import ClaimEvidence, observed_against, word_forms
from quco.errors import BackendError, QueryError


def article_lookups(backend: CountBackend, pairs: Sequence[tuple[str, str]]) -> dict:
    """(anchor, claim form) -> ``InArticle`` or None (no article titled so), one backend batch;
    {} when the backend has no titles or fails."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    try:
        return dict(zip(pairs, backend.in_articles_many(pairs)))
    except (QueryError, BackendError):
        return {}


def article_pairs(anchors: Sequence[str], claim: str, counts: dict) -> list[tuple[str, str]]:
    """The (anchor, form) lookups a silent claim needs: each form the corpus holds, in each anchor's article."""
    return [(a, f) for a in anchors for f in word_forms(claim) if (counts.get(f, (None,))[0] or 0) > 0]


def in_article(ev: ClaimEvidence, anchors: Sequence[str], counts: dict, found: dict, corpus: Corpus) -> ClaimEvidence:
    """``ev`` supported by the best anchor's article when that lowers its risk; ``ev`` otherwise."""
    best: tuple[float, InArticle] | None = None
    for a in anchors:
        hits: list[InArticle] = [h for f in word_forms(ev.phrase) if (counts.get(f, (None,))[0] or 0) > 0
                                 if (h := found.get((a, f))) is not None]
        if not hits:
            continue
        k = sum(h.count for h in hits)
        if not k:
            continue
        expected = (ev.count or 0) * hits[0].tokens / max(1, corpus.tokens)
        _, risk = observed_against(k, expected)
        if best is None or risk < best[0]:
            best = (risk, InArticle(hits[0].title, ev.phrase, k, hits[0].tokens, hits[0].documents))
    if best is None or best[0] >= ev.risk:
        return ev
    return replace(ev, risk=round(best[0], 6), article=best[1])
