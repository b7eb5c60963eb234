"""The handlers put neither their response nor an exception into X-Ray metadata.

Powertools reads ``POWERTOOLS_TRACER_CAPTURE_*`` when the handler module is imported; the handlers
also pass ``capture_response=False, capture_error=False``, so these tests import them with both
variables forced to ``true`` and run them against a recording trace provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tally import TallyError
from tests.project import FakeContext, load_event, load_handler


class RecordingSubsegment:
    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.calls.append(("metadata", key))

    def put_annotation(self, key: str, value: Any) -> None:
        self.calls.append(("annotation", key))


class RecordingProvider:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str, **kwargs: Any) -> Iterator[RecordingSubsegment]:
        self.calls.append(("subsegment", name))
        yield RecordingSubsegment(self.calls)


def traced_handler(name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, RecordingProvider]:
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true")
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_ERROR", "true")
    monkeypatch.setenv("TALLY_LABELS", "")
    module = load_handler(name)
    provider = RecordingProvider()
    monkeypatch.setattr(module.tracer, "provider", provider)
    return module, provider


def test_pre_annotation_response_stays_out_of_the_trace(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, context: FakeContext
) -> None:
    module, provider = traced_handler("pre_annotation", monkeypatch)
    with mock_aws():
        response = module.lambda_handler(load_event("pre_annotation.json"), context)
    assert response["isHumanAnnotationRequired"] is True
    assert provider.calls == [
        ("subsegment", "## lambda_handler"),
        ("annotation", "ColdStart"),
        ("annotation", "Service"),
    ]


def test_consolidation_error_stays_out_of_the_trace(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, context: FakeContext
) -> None:
    module, provider = traced_handler("consolidation", monkeypatch)
    with pytest.raises(TallyError):
        module.lambda_handler({"labelAttributeName": "x"}, context)  # no payload: unusable event
    assert provider.calls == [
        ("subsegment", "## lambda_handler"),
        ("annotation", "ColdStart"),
        ("annotation", "Service"),
    ]


def test_the_recorder_would_see_a_response_if_capture_were_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake provider is the one the decorator uses: with capture on, metadata is recorded."""
    module, provider = traced_handler("pre_annotation", monkeypatch)

    def handler(event: Any, context: Any) -> dict[str, str]:
        return {"workerId": "w"}

    module.tracer.capture_lambda_handler(handler, capture_response=True)({}, FakeContext())
    assert ("metadata", "handler response") in provider.calls
