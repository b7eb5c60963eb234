"""``DescribeLabelingJob`` once per job per container (:class:`tally.aws._DescribedOnce`): threads
asking about one job wait for one call; a thread asking about another job does not wait for it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tally import aws

ARN = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/"


def _ask_at_once(names: list[str]) -> dict[int, dict[str, Any]]:
    """Each name's description asked from its own thread, all started together."""
    results: dict[int, dict[str, Any]] = {}

    def ask(i: int, name: str) -> None:
        results[i] = aws._DescribedOnce(object(), ARN + name).describe_labeling_job(LabelingJobName=name)

    threads = [threading.Thread(target=ask, args=(i, name)) for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


@pytest.mark.usefixtures("aws_env")
def test_two_jobs_are_described_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    both_in_flight = threading.Barrier(2, timeout=5)  # broken (the test fails) if one call waits for the other
    calls: list[str] = []

    class SageMaker:
        def describe_labeling_job(self, LabelingJobName: str) -> dict[str, Any]:
            calls.append(LabelingJobName)
            both_in_flight.wait()
            return {"LabelingJobName": LabelingJobName}

    monkeypatch.setattr(aws, "_client", lambda session, service: SageMaker())
    assert _ask_at_once(["cars", "pets"]) == {0: {"LabelingJobName": "cars"}, 1: {"LabelingJobName": "pets"}}
    assert sorted(calls) == ["cars", "pets"]


@pytest.mark.usefixtures("aws_env")
def test_one_job_asked_from_two_threads_is_described_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class SageMaker:
        def describe_labeling_job(self, LabelingJobName: str) -> dict[str, Any]:
            calls.append(LabelingJobName)
            return {"LabelingJobName": LabelingJobName, "call": len(calls)}

    monkeypatch.setattr(aws, "_client", lambda session, service: SageMaker())
    results = _ask_at_once(["cars", "cars"])
    assert results == {0: {"LabelingJobName": "cars", "call": 1}, 1: {"LabelingJobName": "cars", "call": 1}}
    assert calls == ["cars"]
    assert aws._job_descriptions == {ARN + "cars": {"LabelingJobName": "cars", "call": 1}}
