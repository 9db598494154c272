"""The package surface: cheap to import, and its public names stay what they say."""

import importlib
import pkgutil
import subprocess
import sys

import quco


def test_import_quco_loads_no_heavy_dependency():
    code = ("import sys, quco; heavy = [m for m in ('spacy', 'duckdb', 'numpy', 'requests', 'fastapi', 'infini_gram') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_public_names_survive_importing_every_submodule():
    # A submodule named like a public function would replace it on the package once imported.
    for mod in pkgutil.walk_packages(quco.__path__, "quco."):
        importlib.import_module(mod.name)
    for name in ("hook", "guard", "score", "evaluate"):
        assert callable(getattr(quco, name)) and not isinstance(getattr(quco, name), type(quco)), name
    assert quco.Controller.__module__ == "quco.controller"
    assert {"Detector", "Controller", "BM25Retriever", "AnswerScorer", "score", "hook"} <= set(quco.__all__)
