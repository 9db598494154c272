#!/usr/bin/env python
"""The package's shape, measured: modules per folder, import cycles between files (function-level
imports included), module and function sizes. Exits 1 when a limit of ARCHITECTURE.md is broken.

    python scripts/check_structure.py [--json] [--root DIR]

Limits: no import cycle; at most 6 modules at ``quco/`` top level besides ``__init__`` and
``__main__``; no module over 500 lines; in the library (everything but ``quco/cli``, whose
``register`` functions declare options) no function over 80 lines or 10 parameters. The
import-linter contract in pyproject.toml checks the direction of imports; this checks cycles
inside a layer too.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter
from pathlib import Path

MAX_TOP_LEVEL, MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_PARAMETERS = 6, 500, 80, 10


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted((root / "quco").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, node: ast.AST) -> list[str]:
    """The quco modules one import statement names (``from a import b``: ``a.b`` if it is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" for a in node.names] + [base]


def graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    def resolve(target: str) -> str | None:
        while target and target not in mods:
            target = target.rpartition(".")[0]
        return target or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = imported(name, path, node)
            direct = [t for t in targets if t in mods]
            for t in direct or targets:  # `from quco.a import b` is an import of quco.a.b when b is a module
                r = resolve(t) if t.startswith("quco") else None
                if r and r != name and r != "quco":
                    edges[name].add(r)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def sizes(mods: dict[str, Path]) -> tuple[list[dict], list[dict]]:
    big_modules, big_functions = [], []
    for name, path in mods.items():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            big_modules.append({"module": name, "lines": n})
        if name == "quco.cli" or name.startswith("quco.cli."):
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                params = [p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES or len(params) > MAX_PARAMETERS:
                    big_functions.append({"function": f"{name}:{node.name}", "line": node.lineno,
                                          "lines": lines, "parameters": len(params)})
    return big_modules, big_functions


def measure(root: Path) -> dict:
    mods = modules(root)
    edges = graph(mods)
    per_folder = Counter(str(p.parent.relative_to(root)) for p in mods.values())
    top = sorted(m for m, p in mods.items() if p.parent == root / "quco" and p.stem not in ("__init__", "__main__"))
    big_modules, big_functions = sizes(mods)
    report = {
        "modules": len(mods),
        "lines": sum(len(p.read_text(encoding="utf-8").splitlines()) for p in mods.values()),
        "modules_per_folder": dict(sorted(per_folder.items())),
        "top_level_modules": top,
        "cycles": cycles(edges),
        "modules_over_limit": big_modules,
        "functions_over_limit": big_functions,
    }
    report["ok"] = not (report["cycles"] or big_modules or big_functions or len(top) > MAX_TOP_LEVEL)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = measure(Path(args.root))
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{r['modules']} modules, {r['lines']:,} lines; top level: {', '.join(r['top_level_modules'])}")
        print(f"cycles: {len(r['cycles'])}", *(" <-> ".join(c) for c in r["cycles"]), sep="\n  ")
        for m in r["modules_over_limit"]:
            print(f"module over {MAX_MODULE_LINES} lines: {m['module']} ({m['lines']})")
        for f in r["functions_over_limit"]:
            print(f"function over {MAX_FUNCTION_LINES} lines or {MAX_PARAMETERS} parameters: {f['function']} "
                  f"(line {f['line']}: {f['lines']} lines, {f['parameters']} parameters)")
        print("structure ok" if r["ok"] else "structure: limits broken")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
