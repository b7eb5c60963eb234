"""What each handler loads at import (a fresh interpreter per case, as a cold start)."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tally
import tally.colours
from tally import codecs, vote

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["numpy", "PIL", "tally.codecs", "tally.consolidate"]


def loaded_after_import(function: str) -> dict[str, bool]:
    """Import functions/<function>/app.py in a new interpreter; report which heavy modules it loaded."""
    code = f"import json, sys, app; print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / function), str(ROOT / "layers" / "tally")]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "tally",
        "POWERTOOLS_METRICS_NAMESPACE": "tally",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    result: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_pre_annotation_loads_neither_numpy_nor_pillow() -> None:
    assert loaded_after_import("pre_annotation") == dict.fromkeys(HEAVY, False)


def test_consolidation_loads_them() -> None:
    assert loaded_after_import("consolidation") == dict.fromkeys(HEAVY, True)


def test_lazy_names_resolve_to_the_defining_modules() -> None:
    from tally.consolidate import consolidate_batch
    from tally.settings import Settings

    assert tally.consolidate_batch is consolidate_batch
    assert tally.Settings is Settings
    assert set(tally.__all__) <= set(dir(tally))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = tally.nothing


def test_codecs_and_vote_share_the_light_colour_helpers() -> None:
    assert codecs.hex_to_rgb is tally.colours.hex_to_rgb
    assert vote.ABSTAIN == codecs.ABSTAIN == tally.colours.ABSTAIN == 255
    assert tally.colours.hex_to_rgb("#ABC") == (170, 187, 204)
    with pytest.raises(ValueError, match="not a hex colour"):
        tally.colours.hex_to_rgb("#12345")
    assert doctest.testmod(tally.colours).failed == 0
