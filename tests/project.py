"""Where the project's files are (:data:`ROOT`, :data:`EVENTS`, the shared reference data
:data:`SHARED`) and the handlers as Lambda loads them (:func:`load_handler`, :func:`load_event`,
:class:`FakeContext`): what the tests share besides their fixtures (tests/conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
SHARED = ROOT.parent / "shared"


@dataclass
class FakeContext:
    function_name: str = "tally-LabelingFunction-ACS"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:tally-LabelingFunction-ACS"
    aws_request_id: str = "req-0001"
    remaining_ms: int = 600_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_handler(name: str) -> ModuleType:
    """Import ``functions/<name>/app.py`` under a unique module name (both are called app.py).

    Powertools attaches its handler to the ``tally`` logger once; drop it so this test's output
    capture receives the log lines.
    """
    tally_logger = logging.getLogger("tally")
    tally_logger.handlers.clear()
    for marker in ("powertools_handler", "init"):  # Powertools' "already configured" flags
        if hasattr(tally_logger, marker):
            delattr(tally_logger, marker)
    spec = importlib.util.spec_from_file_location(f"fn_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event
