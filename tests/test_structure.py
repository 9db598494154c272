"""scripts/check_structure.py finds what it promises to find, on small trees made here."""

import importlib.util
import sys
from pathlib import Path

from conftest import ROOT


def _checker():
    spec = importlib.util.spec_from_file_location("check_structure", ROOT / "scripts" / "check_structure.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_structure"] = module
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "quco" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from quco.high.b import g\n    return g\n",
        "high/__init__.py": "",
        "high/b.py": "from quco.low import a\n\ndef g():\n    return a\n",
    })
    report = _checker().measure(root)
    assert report["cycles"] == [["quco.high.b", "quco.low.a"]] and not report["ok"]


def test_sizes_and_the_top_level_are_limited(tmp_path):
    long_body = "\n".join(f"    x{i} = {i}" for i in range(85))
    files = {"__init__.py": "", "big.py": "def long():\n" + long_body + "\n",
             "wide.py": "def wide(a, b, c, d, e, f, g, h, i, j, k):\n    return a\n",
             **{f"m{i}.py": "" for i in range(5)}}
    report = _checker().measure(_tree(tmp_path, files))
    names = {f["function"] for f in report["functions_over_limit"]}
    assert names == {"quco.big:long", "quco.wide:wide"}
    assert len(report["top_level_modules"]) == 7 and not report["ok"]


def test_this_package_keeps_its_limits():
    report = _checker().measure(ROOT)
    assert report["ok"], report
