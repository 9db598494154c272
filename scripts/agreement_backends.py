#!/usr/bin/env python
"""Do the three count backends agree? Prints the agreement table (and writes it as JSON).

On one corpus (all of ../shared/data/corpus) it builds a DuckDB index and a byte-level
infini-gram index, serves the latter on 127.0.0.1 through the hosted API's JSON contract, and
asks all three the same questions: counts of real entity strings and co-occurrences of real pairs
from ../shared/data/eval.

Rows compare like with like:
  count             duckdb = infinigram-local = infinigram-api (all exact phrase counts)
  cooccur exact     duckdb = infinigram-local: occurrences of a with b within W words, same document
  cooccur cnf       infinigram-local (count_cnf) = infinigram-api: QuCo-RAG's `a AND b` query
  exact vs cnf      equal counts, and equal zero/non-zero decisions (what the trigger uses);
                    the differences are definitional (see README, "count_cnf vs exact windows")

    python scripts/agreement_backends.py [--entities 1000] [--pairs 600] [--out bench-results/agreement.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchlib import ROOT, workload


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--entities", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--windows", default="1000,100")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "agreement.json"))
    args = ap.parse_args()

    from quco.backends.infinigram_api import HttpClient, InfiniGramAPI, RetryPolicy, query_term
    from quco.errors import QueryError
    from quco.extract import Extractor
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex
    from quco.index.infinigram.build import build_infinigram_index
    from quco.index.infinigram.reader import InfiniGramLocal
    from quco.testing.contract_server import ContractServer

    shared = Path(args.shared)
    sources = sorted((shared / "corpus").glob("*.jsonl"))
    if not sources:
        print(f"no corpus files under {shared / 'corpus'}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        build_index(sources, Path(tmp) / "all.duckdb", progress=False)
        build_infinigram_index(sources, Path(tmp) / "all.ig", progress=False)
        # Unbounded budgets for the like-with-like rows; the default-budget rows come after.
        duck = DuckDBIndex(Path(tmp) / "all.duckdb", budget=10**12)
        local = InfiniGramLocal(Path(tmp) / "all.ig", budget=10**12)
        budgeted = {"duckdb": DuckDBIndex(Path(tmp) / "all.duckdb"), "infinigram-local": InfiniGramLocal(Path(tmp) / "all.ig")}
        local_cnf = InfiniGramLocal(Path(tmp) / "all.ig", cooccur="cnf")
        entities, pairs, _ = workload(shared, Extractor(), args.entities * 2, args.pairs * 2)
        norm = duck.normalizer
        # Strings with no word token cannot be asked anywhere; strings with a standalone AND/OR
        # are refused by the API client (they would parse as operators) and reported separately.
        entities = [e for e in entities if norm.tokens(e)]
        pairs = [(a, b) for a, b in pairs if norm.tokens(a) and norm.tokens(b)]
        with ContractServer(local_cnf) as server:
            api = InfiniGramAPI(endpoint=server.url, index="local-u8", corpus_tokens=local.corpus.tokens,
                                http=HttpClient(policy=RetryPolicy(attempts=2, backoff=0.05)), max_workers=4)
            refused_e = [e for e in entities if _refused(query_term, e, QueryError)]
            entities = [e for e in entities if e not in refused_e][: args.entities]
            refused_p = [p for p in pairs if _refused(query_term, p[0], QueryError) or _refused(query_term, p[1], QueryError)]
            pairs = [p for p in pairs if p not in refused_p][: args.pairs]

            counts = {
                "duckdb": [c.count for c in duck.count_many(entities)],
                "infinigram-local": [c.count for c in local.count_many(entities)],
                "infinigram-api": [c.count for c in api.count_many(entities)],
            }
            rows = [_row("count", "duckdb = infinigram-local = infinigram-api", len(entities),
                         _equal(counts["duckdb"], counts["infinigram-local"], counts["infinigram-api"]),
                         nonzero=sum(c > 0 for c in counts["duckdb"]))]
            for w in [int(x) for x in args.windows.split(",")]:
                exact_d = [c.count for c in duck.cooccur_many(pairs, w)]
                exact_l = [c.count for c in local.cooccur_many(pairs, w)]
                cnf_l = local_cnf.cooccur_many(pairs, w)
                cnf_a = api.cooccur_many(pairs, w)
                cnf_counts = [c.count for c in cnf_l]
                rows.append(_row(f"cooccur exact W={w}", "duckdb = infinigram-local", len(pairs),
                                 _equal(exact_d, exact_l), nonzero=sum(c > 0 for c in exact_d)))
                rows.append(_row(f"cooccur cnf W={w}", "infinigram-local = infinigram-api", len(pairs),
                                 _equal(cnf_counts, [c.count for c in cnf_a]),
                                 approx=sum(c.approx for c in cnf_l), engine_window_bytes=local_cnf.engine_window(w)))
                decided = [(e > 0) == (c > 0) for e, c, r in zip(exact_d, cnf_counts, cnf_l) if not (r.approx and c == 0)]
                for name, be in budgeted.items():
                    got = [_answer(be, a, b, w) for a, b in pairs]
                    same = [g is not None and g.count == e for g, e in zip(got, exact_d)]
                    rows.append(_row(f"budgeted W={w}", f"{name} (default work budget) = exact", len(pairs),
                                     sum(same) / max(1, len(pairs)),
                                     approx=sum(g is not None and g.approx for g in got),
                                     unknown=sum(g is None for g in got),
                                     false_zeros=sum(g is not None and g.count == 0 and e > 0 for g, e in zip(got, exact_d))))
                rows.append(_row(f"exact vs cnf W={w}", "same count / same zero-or-not", len(pairs),
                                 _equal(exact_d, cnf_counts), decision_agreement=round(sum(decided) / max(1, len(decided)), 4),
                                 exact_nonzero_cnf_zero=sum(e > 0 and c == 0 for e, c in zip(exact_d, cnf_counts)),
                                 exact_zero_cnf_nonzero=sum(e == 0 and c > 0 for e, c in zip(exact_d, cnf_counts))))
            requests = api.requests_sent
    result = {
        "corpus": {"tokens": duck.corpus.tokens, "documents": duck.corpus.documents, "files": [s.name for s in sources]},
        "entities": len(entities), "pairs": len(pairs),
        "refused_by_api_client": {"entities": len(refused_e), "pairs": len(refused_p), "examples": refused_e[:5]},
        "api_requests": requests,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"corpus: {duck.corpus.tokens:,} tokens, {duck.corpus.documents:,} documents; "
          f"{len(entities)} entities, {len(pairs)} pairs; {len(refused_e)} entities refused by the API client")
    print(f"{'comparison':<22} {'backends':<44} {'n':>5} {'identical':>10}  notes")
    for r in rows:
        notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("comparison", "backends", "n", "identical"))
        print(f"{r['comparison']:<22} {r['backends']:<44} {r['n']:>5} {r['identical']:>10.2%}  {notes}")
    return 0


def _answer(backend, a, b, window):
    from quco.errors import BackendError

    try:
        return backend.cooccur(a, b, window)
    except BackendError:  # over the work budget with no hit in the sample: unknown, never 0
        return None


def _refused(check, phrase, error) -> bool:
    try:
        check(phrase)
    except error:
        return True
    return False


def _equal(*columns) -> float:
    rows = list(zip(*columns))
    return sum(len(set(r)) == 1 for r in rows) / max(1, len(rows))


def _row(comparison, backends, n, identical, **notes) -> dict:
    return {"comparison": comparison, "backends": backends, "n": n, "identical": round(identical, 4), **notes}


if __name__ == "__main__":
    sys.exit(main())
