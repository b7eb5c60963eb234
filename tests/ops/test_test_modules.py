"""The tests share helpers through helper modules (tests/helpers.py, tests/project.py, tests/<area>/*.py
that are not tests), never by importing a test module or a conftest: pytest owns those (it imports a
conftest itself, and a test module imported elsewhere runs its module-level code twice)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return name.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_no_test_module_or_conftest_is_imported() -> None:
    offenders = {
        f"{path.relative_to(TESTS.parent)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if _is_test_module(name)
    }
    assert offenders == set()


def test_the_check_sees_both_kinds_of_import() -> None:
    source = "from tests.core.test_consolidate import run\nimport tests.store.conftest\nfrom tests.helpers import grid"
    assert sorted(n for n in _imported(ast.parse(source)) if _is_test_module(n)) == [
        "tests.core.test_consolidate",
        "tests.store.conftest",
    ]
