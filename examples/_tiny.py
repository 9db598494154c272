"""A tiny corpus for the examples: $QUCO_INDEX when set, else an index of three documents built
in a temporary directory (a second run reuses it)."""

import json
import os
import tempfile
from pathlib import Path

DOCS = [
    {"id": "d1", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare. It is set in Denmark."},
    {"id": "d2", "title": "Shakespeare", "text": "William Shakespeare was an English playwright and poet."},
    {"id": "d3", "title": "Dickens", "text": "Charles Dickens was an English novelist. Dickens wrote Oliver Twist."},
]


def index_path() -> str:
    if os.environ.get("QUCO_INDEX"):
        return os.environ["QUCO_INDEX"]
    import quco

    d = Path(tempfile.gettempdir()) / "quco-examples"
    d.mkdir(exist_ok=True)
    index = d / "tiny.duckdb"
    if not index.exists():
        (d / "docs.jsonl").write_text("".join(json.dumps(doc) + "\n" for doc in DOCS))
        quco.build_index([d / "docs.jsonl"], index, progress=False)
    return str(index)


def detector():
    """A detector over the tiny index (the rule-based extractor unless $QUCO_MODEL names a pipeline)."""
    import quco

    return quco.Detector(quco.open_backend(index_path()), quco.Extractor(os.environ.get("QUCO_MODEL", "rules")))
