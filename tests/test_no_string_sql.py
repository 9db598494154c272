"""No SQL is built from strings anywhere in the package: every query is a constant with parameters."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "quco"
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|COPY|PRAGMA|ATTACH|SET)\b")


def _built(node) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def test_queries_are_constants():
    offences = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "execute", "executemany", "sql", "query"
            ):
                if node.args and _built(node.args[0]):
                    offences.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
                if SQL.search(text) and re.search(r"\bFROM\b|\bINTO\b|\bTABLE\b", text):
                    offences.append(f"{path.name}:{node.lineno} (f-string SQL)")
    assert not offences, offences


def test_the_check_can_fail():
    bad = ast.parse('con.execute(f"SELECT * FROM t WHERE x = {x}")').body[0].value
    assert _built(bad.args[0])
