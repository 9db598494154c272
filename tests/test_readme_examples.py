"""The framework examples of docs/rag.md run as written (offline), in a fresh process and directory."""

import re
import subprocess
import sys

import pytest
from conftest import ROOT

BLOCK = re.compile(r"```python\n# readme-example: (\w+)\n(.*?)```", re.S)


def _examples() -> dict:
    return {name: code for name, code in BLOCK.findall((ROOT / "docs" / "rag.md").read_text())}


def test_the_readme_has_the_framework_examples():
    assert set(_examples()) == {"setup", "langchain", "llamaindex", "flashrag"}


@pytest.mark.parametrize("name", ["langchain", "llamaindex", "flashrag"])
def test_readme_example_runs_as_written(name, tmp_path):
    pytest.importorskip({"langchain": "langchain_core", "llamaindex": "llama_index.core", "flashrag": "quco"}[name])
    ex = _examples()
    out = subprocess.run([sys.executable, "-c", ex["setup"] + "\n" + ex[name]], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    expected = {"langchain": ["[] no-retrieve", "Shakespeare True ['no-retrieval-needed', 'truncate-and-retrieve', 'accept']"],
                "llamaindex": ["2"], "flashrag": ["[False, True]"]}[name]
    lines = out.stdout.splitlines()
    for want in expected:
        assert want in lines, out.stdout
