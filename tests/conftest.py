import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QUCO_SHARED_DATA", ROOT.parent / "shared" / "data"))
CORPUS_FILES = sorted((SHARED / "corpus").glob("*.jsonl")) if SHARED.exists() else []


def write_jsonl(path: Path, docs) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i, d in enumerate(docs):
            fh.write(json.dumps(d if isinstance(d, dict) else {"id": str(i), "text": d}) + "\n")
    return path


def duckdb_of(tmp_path_factory, docs, name: str = "docs", store_text: bool = True):
    """A DuckDB index (opened) of ``docs`` — dicts or texts — with their text unless ``store_text`` is False."""
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    d = tmp_path_factory.mktemp(name)
    build_index([write_jsonl(d / "c.jsonl", docs)], d / "i.duckdb", progress=False, store_text=store_text)
    return DuckDBIndex(d / "i.duckdb")


# Unrelated documents, so that a test corpus's own words are rare in it as in a real one.
FILLER = [{"id": f"f{i}", "text": f"Town number {i} has a market and a school."} for i in range(50)]


TINY_TEXTS = [
    "Hamlet is a tragedy written by William Shakespeare. It is set in Denmark.",
    "William Shakespeare was an English playwright and poet.",
    "Charles Dickens was an English novelist. Dickens wrote Oliver Twist.",
    "Copenhagen is the capital of Denmark.",
]


@pytest.fixture(scope="session", autouse=True)
def _own_cache_dir(tmp_path_factory):
    """Verification stamps (and anything else quco caches) go to a directory of this run, not the user's."""
    os.environ["QUCO_CACHE_DIR"] = str(tmp_path_factory.mktemp("quco-cache"))


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory) -> Path:
    """A DuckDB index of the four TINY_TEXTS (37 tokens)."""
    from quco.index.duckdb.build import build_index

    d = tmp_path_factory.mktemp("tiny")
    build_index([write_jsonl(d / "c.jsonl", TINY_TEXTS)], d / "i.duckdb", progress=False)
    return d / "i.duckdb"


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory):
    """An index of all of ../shared/data/corpus (skipped where the shared data is absent)."""
    if not CORPUS_FILES:
        pytest.skip("../shared/data/corpus is absent (it ships beside the repo in CI)")
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    out = tmp_path_factory.mktemp("shared") / "all.duckdb"
    build_index(CORPUS_FILES, out, progress=False)
    return DuckDBIndex(out)


@pytest.fixture(scope="session")
def model_extractor():
    from quco.extract import Extractor

    ex = Extractor()
    if ex.model_name == "rules":
        pytest.fail("the pinned spaCy model is not installed; run scripts/test.sh")
    return ex


@pytest.fixture(scope="session")
def rules_extractor():
    from quco.extract import Extractor

    return Extractor("rules")


@pytest.fixture(scope="session")
def shared_infinigram(tmp_path_factory):
    """A byte-level infini-gram index of all of ../shared/data/corpus."""
    if not CORPUS_FILES:
        pytest.skip("../shared/data/corpus is absent (it ships beside the repo in CI)")
    from quco.index.infinigram.build import build_infinigram_index

    out = tmp_path_factory.mktemp("shared-ig") / "all.ig"
    build_infinigram_index(CORPUS_FILES, out, progress=False)
    return out
