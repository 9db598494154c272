"""Human-readable rendering of reports and index information for the terminal."""

from __future__ import annotations

from quco.decide.reading import shorten
from quco.decide.report import RiskReport

# The thresholds' bridges setting (``Thresholds.bridges`` as reports say it), as the header says it.
_BRIDGES_SAID = {"chains": "; bridges for chain questions", "always": "; multi-hop bridges", "never": ""}


def _fmt_count(value: int | None, approx: bool = False) -> str:
    if value is None:
        return "unknown"
    return f"~{value:,}" if approx else f"{value:,}"


def render_report(r: RiskReport, draft: str | None = None) -> str:
    lines = []
    contradicted = any(p.flagged and p.verdict == "contradicted" for p in r.pairs)
    where = {"question": "stage 1: rare question entities",
             "draft": f"stage 2: {'contradicted' if contradicted else 'unsupported'} claim in the draft"}
    verdict = "RETRIEVE" if r.retrieve else "no retrieval needed"
    p_fab = f"   P(fabrication) {r.p_fabrication:.2f}" if r.p_fabrication is not None else ""
    lines.append(f"decision    {verdict}" + (f" ({where[r.stage]})" if r.stage else "") + f"   risk {r.risk:.3f}{p_fab}")
    exact = "some counts unknown" if r.unknown else "approximate counts" if r.approx else "exact counts"
    docs = f", {r.corpus_documents:,} documents" if r.corpus_documents else ""
    lines.append(f"index       {r.index}  ({r.corpus_tokens:,} tokens{docs}; {exact})")
    th = r.thresholds
    scaled = all(v == "scaled" for v in th.get("sources", {}).values())
    note = f"QuCo-RAG values scaled from {th['reference_tokens']:.2g} tokens" if scaled else "some set explicitly"
    stage2 = (f"claim risk > {th['claim_risk']:.2g} (association above chance"
              f"{_BRIDGES_SAID.get(str(th.get('bridges')), '')})" if th.get("mode") == "evidence"
              else f"co-occurrence < {th['cooccur']:.3g}")
    lines.append(
        f"thresholds  entity {th['aggregate']} < {th['entity']:.3g}, {stage2}, "
        f"lone entity < {th['lone_entity']:.3g}  ({note})"
    )
    lines.append(f"extractor   {r.extractor}")
    lines.append("entities" + ("" if r.entities else "    (none found)"))
    for e in r.entities:
        lines.append(f"  {shorten(e.text, 40):<40} {e.label:<12} {_fmt_count(e.count, e.approx):>10}")
    if r.draft_checked:
        lines.append(f"draft       {r.sentences_checked} sentence(s), {len(r.pairs)} pair(s), {len(r.lone_entities)} lone entit(y/ies)")
        for p in r.pairs:
            mark = ("  <- flagged" if p.flagged else "") + (f" ({p.verdict})" if p.verdict else "")
            rel = f" -[{p.relation}]-> " if p.relation else " <-> "
            assoc = (f"  expected {p.expected:.2g}, assoc {p.association:+.2f}, risk {p.risk:.2f}"
                     if p.association is not None else "")
            lines.append(f"  s{p.sentence + 1:<3} {shorten(p.head + rel + p.tail, 60):<60} {_fmt_count(p.cooccur, p.approx):>8}"
                         f"{assoc}{mark}")
            lines.extend(_evidence_lines(p))
        for x in r.lone_entities:
            mark = "  <- flagged" if x.flagged else ""
            lines.append(f"  s{x.sentence + 1:<3} {shorten('(lone) ' + x.entity, 60):<60} {_fmt_count(x.count, x.approx):>8}{mark}")
    if r.flagged is not None:
        lines.append(f"flagged     sentence {r.flagged.index + 1}: {shorten(r.flagged.text, 100)!r}")
        if draft is not None:
            lines.append(f"keep        {shorten(r.truncated_draft(draft), 100)!r}")
    if r.suggested_query:
        lines.append(f"query       {r.suggested_query!r}")
    lines.append("reasons")
    lines.extend(f"  - {reason}" for reason in r.reasons)
    t = r.timings_ms
    lines.append(f"timing      extract {t.get('extract_ms', 0):.1f} ms, counts {t.get('count_ms', 0):.2f} ms, "
                 f"total {t.get('total_ms', 0):.1f} ms")
    return "\n".join(lines)


def _evidence_lines(p) -> list[str]:
    """Under a pair: where the corpus holds it (or why nowhere)."""
    out = []
    if getattr(p, "article", None):
        out.append(f"        stated in the article {p.article!r} (its risk; never within the window of the name)")
    if getattr(p, "alias", None):
        where = f" ({p.alias_said})" if getattr(p, "alias_said", None) else ""
        out.append(f"        as {p.alias!r}, the corpus's own other name for {p.tail!r}{where}")
    if getattr(p, "path", ()):
        out.append(f"        through {' -> '.join(map(repr, p.path))} (its risk; each link within the window)")
    for src in p.sources:
        name = src.doc_id or f"document {src.doc}"
        title = f" {src.title!r}" if src.title else ""
        said = f": {shorten(' '.join(src.text.split()), 140)!r}" if src.text else f" (words {src.tokens[0]}, {src.tokens[1]})"
        out.append(f"        in {name}{title}{said}")
    if p.source_note:
        out.append(f"        no source: {p.source_note}")
    return out


def render_info(info) -> str:
    d = info.to_dict()
    norm = d["normalizer"]
    rows = [
        ("path", d["path"]),
        ("format", f"quco n-gram index v{d['format_version']} (built by quco {d['quco_version']})"),
        ("corpus", f"{d['tokens']:,} tokens, {d['documents']:,} documents, {d['vocab_size']:,} distinct words"),
        ("normalisation", f"NFKC={norm['nfkc']}, case folding={norm['case_fold']}, tokenizer={norm['tokenizer']}"),
        ("text split", d["text_split"]),
        ("built", f"{d['built_at']} in {d['build_seconds']:.1f} s"),
        ("size", f"{d['file_bytes'] / 1e6:.1f} MB"),
        ("sources", ", ".join(s["path"] for s in d["sources"][:5]) + (" ..." if len(d["sources"]) > 5 else "")),
    ]
    return "\n".join(f"{k:<14} {v}" for k, v in rows)
