"""The examples in the tally package's docstrings run as tests: pytest collects them itself
(``--doctest-modules``, with the package among ``testpaths``: pyproject.toml), so a module's examples
cannot be left out by a hand-wired list."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "tally" / "tally"


def test_pytest_collects_the_package_examples(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getoption("doctestmodules") is True
    assert "layers/tally/tally" in pytestconfig.getini("testpaths")
    assert pytestconfig.getini("doctest_optionflags") == ["NORMALIZE_WHITESPACE"]


def test_the_modules_with_examples() -> None:
    """Every module whose source shows an example has one doctest finds (an example in a comment or a
    string that is no docstring would never run)."""
    finder = doctest.DocTestFinder()
    without = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        module = importlib.import_module(name)
        if not any(t.examples for t in finder.find(module) if t.filename == str(path)):
            without.append(name)
    assert without == []
