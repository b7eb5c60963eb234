from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (a failure is reproducible, CI is not a lottery);
# HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region; never a real endpoint."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tally")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "tally")
    from tally import aws

    # the function's own session and clients are cached per container; each test is a new container
    aws.own_session.cache_clear()
    aws._own_client.cache_clear()
    aws._store_client.cache_clear()


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
