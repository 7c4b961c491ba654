"""No function over 60 lines outside the training loop (issue 27): a function that long does
several things; the training loop reads top to bottom by design (STYLE.md)."""

import ast

from tests.test_layers import SRC

MAX_LINES = 60
EXEMPT = {("train/loop.py", "train")}  # the one loop that reads top to bottom


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES and (rel, node.name) not in EXEMPT:
                    long.append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long
