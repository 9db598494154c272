"""Deterministic scale corpora from ../shared/data/corpus (used by scripts/bench_scale.py).

    python scripts/scale_corpus.py --tokens 1e9 --out /tmp/corpus-1b.jsonl

Replica 0 is the shared corpus as it is (2,248,206 tokens, 30,511 documents). Replica r >= 1
repeats every document with its names perturbed: each capitalised word (``[A-Z][a-z]+``) keeps
its spelling or gets one of 64 syllables appended, chosen by a hash of (word, r) — so
"Hamlet" becomes "Hamletvor" in one replica and stays "Hamlet" in another. Frequent words keep
their frequency profile (a real corpus's head), while names multiply into new rare words and new
rare pairs (its long tail), as a larger corpus has. Replicas are appended until the token count
reaches the target; the same target always gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QUCO_SHARED_DATA", ROOT.parent / "shared" / "data"))
SYLLABLES = [a + b for a in ("b", "d", "k", "l", "m", "n", "r", "v") for b in ("a", "e", "i", "o", "u", "an", "or", "is")]
_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_WORD = re.compile(r"\w+")


def base_documents() -> list[dict]:
    docs = []
    for f in sorted((SHARED / "corpus").glob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            docs += [json.loads(line) for line in fh]
    return docs


def _variant(word: str, replica: int) -> str:
    h = hashlib.blake2b(f"{word}\0{replica}".encode(), digest_size=2).digest()
    return word if h[0] & 1 else word + SYLLABLES[h[1] % len(SYLLABLES)]


def generate(target_tokens: int, out: Path) -> dict:
    docs = base_documents()
    base_tokens = sum(len(_WORD.findall(d["text"])) for d in docs)
    replicas = max(1, -(-target_tokens // base_tokens))
    names = sorted({m for d in docs for m in _NAME.findall(d["text"])})
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in range(replicas):
            table = {w: _variant(w, r) for w in names} if r else None
            for d in docs:
                text = d["text"] if r == 0 else _NAME.sub(lambda m, table=table: table[m.group(0)], d["text"])
                fh.write(json.dumps({"id": f"{d['id']}#{r}", "text": text}, ensure_ascii=False) + "\n")
            if r % 20 == 0:
                print(f"  replica {r + 1}/{replicas}", file=sys.stderr, flush=True)
    os.replace(tmp, out)
    return {"path": str(out), "replicas": replicas, "approx_tokens": replicas * base_tokens,
            "documents": replicas * len(docs), "bytes": out.stat().st_size}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=float, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    print(json.dumps(generate(int(args.tokens), Path(args.out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
