"""POST /v1/titles, /v1/passages, /v1/provenance, /v1/articles and /v1/article_places: where phrases
occur in the served index, so a sharded index whose shards are other ``quco serve`` processes
(``quco.backends.remote``) can show the evidence behind a claim, bridge and read as a local one does.

An index that cannot list them (no text, no positions) answers 400 with the reason, as for any
query it cannot answer; bodies are bounded like the counts' (items per request, documents per
phrase), and the work like every lookup's (the index's work budget)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quco.service.models import corpus_fields


def add_document_routes(app, holder, models, post) -> None:
    """Register the routes on ``app``; ``holder.current().backend`` answers, ``post`` registers a
    handler with its body model (as the service's other routes are)."""
    from fastapi import Body
    from starlette.concurrency import run_in_threadpool

    @post(app, "/v1/titles", req=models.DocumentsRequest)
    async def titles(req: Any = Body(...)):
        be = holder.current().backend
        found = await run_in_threadpool(be.titles_many, req.phrases, req.limit)
        return {"titles": [None if t is None else list(t) for t in found], **corpus_fields(be)}

    @post(app, "/v1/passages", req=models.DocumentsRequest)
    async def passages(req: Any = Body(...)):
        be = holder.current().backend
        found = await run_in_threadpool(be.passages_many, req.phrases, req.window, req.limit)
        return {"passages": [None if p is None else list(p) for p in found], **corpus_fields(be)}

    @post(app, "/v1/articles", req=models.ArticlesRequest)
    async def articles(req: Any = Body(...)):
        be = holder.current().backend
        found = await run_in_threadpool(be.in_articles_many, [(p.a, p.b) for p in req.pairs])
        return {"articles": [None if f is None else asdict(f) for f in found], **corpus_fields(be)}

    @post(app, "/v1/provenance", req=models.ProvenanceRequest)
    async def provenance(req: Any = Body(...)):
        be = holder.current().backend
        found = await run_in_threadpool(be.provenance_many, [(p.a, p.b) for p in req.pairs], req.window, req.limit)
        return {"provenance": _places(found), **corpus_fields(be)}

    @post(app, "/v1/article_places", req=models.ProvenanceRequest)  # pairs of (title, phrase)
    async def article_places(req: Any = Body(...)):
        be = holder.current().backend
        found = await run_in_threadpool(be.article_places_many, [(p.a, p.b) for p in req.pairs], req.limit)
        return {"provenance": _places(found), **corpus_fields(be)}


async def sources_if_asked(holder, reports: list, wanted: bool) -> list:
    """The checks' reports with each claim's corpus places (one backend batch) when the request
    asks (``"sources": true``), else as they are."""
    if not wanted:
        return reports
    from starlette.concurrency import run_in_threadpool

    from quco.decide.provenance import with_sources

    detector = holder.current()
    return await run_in_threadpool(with_sources, detector.backend, reports, detector.window)


def _places(found) -> list[dict]:
    """Provenance answers as the body carries them: each pair's places, or why there are none."""
    return [{"sources": [asdict(s) for s in p.sources], "why": p.why} for p in found]

