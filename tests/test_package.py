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
    assert quco.Controller.__module__ == "quco.rag.controller"
    assert {"Detector", "Controller", "BM25Retriever", "AnswerScorer", "score", "hook"} <= set(quco.__all__)


def test_the_built_wheel_installs_whole_in_a_clean_virtualenv(tmp_path):
    """Wheel -> fresh virtualenv -> `quco model install` -> `quco check` uses spaCy, not the fallback."""
    import json
    import os
    import zipfile

    from conftest import ROOT, write_jsonl

    env = {k: v for k, v in os.environ.items() if k not in ("QUCO_CONFIG", "VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, env=env)
    wheel = next((tmp_path / "dist").glob("quco-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "quco/py.typed" in names and "quco/model-requirements.txt" in names
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names), names[-8:]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, quco_bin = venv / "bin" / "python", venv / "bin" / "quco"
    out = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--prefer-binary", str(wheel)], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    run = lambda *a: subprocess.run([str(quco_bin), *map(str, a)], capture_output=True, text=True, env=env, cwd=tmp_path)
    index = tmp_path / "i.duckdb"
    src = write_jsonl(tmp_path / "c.jsonl", ["Hamlet is a tragedy written by William Shakespeare."])
    assert run("index", "build", src, "--out", index, "-q").returncode == 0
    before = run("check", "Who wrote Hamlet?", "--index", index, "--json")
    assert json.loads(before.stdout)["extractor"] == "rules" and "quco model install" in before.stderr  # loud
    assert run("model", "install").returncode == 0
    after = run("check", "Who wrote Hamlet?", "--index", index, "--json")
    assert json.loads(after.stdout)["extractor"].startswith("en_core_web_sm"), after.stderr
    version = subprocess.run([str(py), "-m", "quco", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.stdout.startswith("quco ")
