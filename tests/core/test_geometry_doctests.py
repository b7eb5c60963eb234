"""The Examples blocks of the geometric aggregation modules (and of the contract in base) run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "assignment",
    "matching",
    "box_fusion",
    "instance_fusion",
    "base",
    "geometric",
    "box_consolidation",
    "keypoint_consolidation",
    "instance_consolidation",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_hold(name: str) -> None:
    module = importlib.import_module(f"tally.aggregation.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
