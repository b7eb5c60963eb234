"""The batch driver's parts: run_batch below the payload reader, its progress callback, the failure
isolation, the worker-model cycle's typed status and a job plan."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.consolidate import BatchJob, JobPlan, WorkerModel, run_batch
from tally.gt.events import DatasetObject
from tally.gt.response import ObjectResult
from tally.labels import LabelSet
from tally.storage import MemoryStorage
from tally.tasks import ENTRIES
from tally.worker_store import InMemoryWorkerStore
from tests.helpers import annotation, data_object, seg_content

URI = "s3://job-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/b.json"
ARN = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/job"
LEGEND = {"c": "cat", "d": "dog"}
COLOURS = {"cat": "#123456", "dog": "#abcdef"}


def _classification(object_id: str, *labels: tuple[str, str]) -> dict[str, Any]:
    return data_object(object_id, *(annotation(w, json.dumps({"category": {"label": label}})) for w, label in labels))


def _classification_batch() -> list[dict[str, Any]]:
    return [
        _classification("a", ("w1", "cat"), ("w2", "cat"), ("w3", "dog")),
        _classification("b", ("w1", "dog"), ("w2", "dog"), ("w3", "dog")),
        _classification("c", ("w1", "cat"), ("w2", "dog"), ("w3", "dog")),
        {"datasetObjectId": "d", "dataObject": {"s3Uri": "s3://bucket/images/d.jpg"}, "annotations": []},
        _classification("e", ("w1", "cat"), ("w2", "cat"), ("w3", "bird")),
    ]


def _consolidated(objects: list[dict[str, Any]], **kwargs: Any) -> Any:
    storage = MemoryStorage()
    storage.objects[URI] = json.dumps(objects).encode()
    event = {"labelAttributeName": "pets", "labelingJobArn": ARN, "labelCategories": ["cat", "dog"]}
    request = ConsolidationRequest.parse({**event, "payload": {"s3Uri": URI}})
    return consolidate_batch(request, storage, **kwargs), storage


def test_run_batch_is_what_the_lambda_runs_below_the_payload() -> None:
    objects = _classification_batch()
    report, _ = _consolidated(objects)
    job = BatchJob(settings=Settings(), artefact_prefix="s3://job-bucket/out", job_id=ARN, event_labels=("cat", "dog"))
    results = run_batch([DatasetObject.model_validate(o) for o in objects], job, MemoryStorage())
    created = report.response[0]["consolidatedAnnotation"]["content"]["pets-metadata"]["creation-date"]
    entries = [r.to_gt("pets", job_name="labeling-job/job", created=created) for r in results]
    assert entries == report.response
    assert [r.object_id for r in results] == ["a", "b", "c", "d", "e"]
    assert (results.label_source, results.worker_model) == ("event", WorkerModel.BATCH)
    assert results[3].failure == "no annotations: no worker answered"
    assert results[3].task_type == "groundtruth/image-classification"  # a failure carries the batch's type


def test_every_result_is_reported_once_whether_consolidated_or_failed() -> None:
    seen: list[ObjectResult] = []
    report, _ = _consolidated(_classification_batch(), on_result=seen.append)
    assert sorted(r.object_id for r in seen) == ["a", "b", "c", "d", "e"]
    assert [r.ok for r in sorted(seen, key=lambda r: r.object_id)] == [True, True, True, False, True]
    assert (report.consolidated, report.failed) == (4, 1)


def test_every_result_is_reported_when_no_object_can_be_consolidated() -> None:
    seen: list[str] = []
    objects = _classification_batch()
    storage = MemoryStorage()
    storage.objects[URI] = json.dumps(objects).encode()
    request = ConsolidationRequest.parse(
        {"labelAttributeName": "pets", "labelCategories": ["cat", "cat"], "payload": {"s3Uri": URI}}
    )
    report = consolidate_batch(request, storage, on_result=lambda r: seen.append(r.object_id))
    assert sorted(seen) == ["a", "b", "c", "d", "e"]
    assert report.failed == 5


@pytest.fixture
def silent_core() -> Iterator[None]:
    core = logging.getLogger("tally.consolidate")
    core.disabled = True
    try:
        yield
    finally:
        core.disabled = False


@pytest.mark.usefixtures("silent_core")
def test_progress_does_not_depend_on_the_log() -> None:
    """The callback is the progress: with the driver's logger off, every object is still counted."""
    seen: list[str] = []
    _consolidated(_classification_batch(), on_result=lambda r: seen.append(r.object_id))
    assert len(seen) == 5


def test_one_object_raising_fails_that_object_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from tally.tasks.classification import SingleLabelClassification

    real = SingleLabelClassification.consolidate

    def flaky(self: Any, obj: DatasetObject, *args: Any) -> ObjectResult:
        if obj.dataset_object_id == "b":
            raise ZeroDivisionError("worker data that must not be logged")
        return real(self, obj, *args)

    monkeypatch.setattr(SingleLabelClassification, "consolidate", flaky)
    report, _ = _consolidated(_classification_batch())
    by_id = {e["datasetObjectId"]: e["consolidatedAnnotation"]["content"]["pets-metadata"] for e in report.response}
    assert by_id["b"]["failure-reason"] == "internal error (ZeroDivisionError)"
    assert [k for k, meta in by_id.items() if "failure-reason" not in meta] == ["a", "c", "e"]


def test_the_worker_model_status_is_typed() -> None:
    store = InMemoryWorkerStore()
    first, _ = _consolidated(_classification_batch(), worker_store=store)
    retry, _ = _consolidated(_classification_batch(), worker_store=store)
    alone, _ = _consolidated(_classification_batch())
    assert (first.worker_model, retry.worker_model, alone.worker_model) == (
        WorkerModel.JOB,
        WorkerModel.RETRIED,
        WorkerModel.BATCH,
    )
    assert retry.worker_model == "job (retried batch)"  # the summary's words stay the same


def _segmentation(object_id: str) -> dict[str, Any]:
    return data_object(
        object_id,
        annotation("w1", seg_content(["cd", "c."], LEGEND, COLOURS)),
        annotation("w2", seg_content(["cd", ".."], LEGEND, COLOURS)),
        annotation("w3", seg_content(["c.", "c."], LEGEND, COLOURS)),
    )


def test_a_job_plan_decides_labels_colours_and_model() -> None:
    """A plan's labels and colours are used as given (not the event's, not the answers'), and its
    model without a fit of the batch's own."""
    objects = [DatasetObject.model_validate(_segmentation(str(i))) for i in range(2)]
    segmentation = next(i for i, kind in enumerate(ENTRIES) if kind.cls == "SemanticSegmentation")
    storage = MemoryStorage()
    job = BatchJob(settings=Settings(algorithm="majority"), artefact_prefix="s3://b/out", event_labels=("cat", "dog"))
    plan = JobPlan(segmentation, LabelSet(("dog", "cat"), "configured"), {"dog": {"#00ff00": 3}})
    results = run_batch(objects, job, storage, plan=plan)
    colour_map = results[0].label["internal-color-map"] if results[0].label else {}
    assert {k: (v["class-name"], v["hex-color"]) for k, v in colour_map.items()} == {
        "0": ("BACKGROUND", "#ffffff"),
        "1": ("dog", "#00ff00"),
        "2": ("cat", "#1f77b4"),  # the answers painted it #123456: not in the plan
    }
    assert (results.label_source, results.worker_model) == ("configured", WorkerModel.NONE)


def test_a_job_plan_with_a_model_is_not_refitted(monkeypatch: pytest.MonkeyPatch) -> None:
    from tally.tasks.classification import SingleLabelClassification

    fitted: list[Any] = []
    real = SingleLabelClassification.fit

    def counted(self: Any, summaries: Any, context: Any) -> Any:
        fitted.append(real(self, summaries, context))
        return fitted[-1]

    monkeypatch.setattr(SingleLabelClassification, "fit", counted)
    objects = [DatasetObject.model_validate(o) for o in _classification_batch()]
    job = BatchJob(settings=Settings(), artefact_prefix="s3://b/out", event_labels=("cat", "dog"))
    alone = run_batch(objects, job, MemoryStorage())
    position = next(i for i, kind in enumerate(ENTRIES) if kind.cls == "SingleLabelClassification")
    plan = JobPlan(position, LabelSet(("cat", "dog"), "event"), {}, fitted[0])
    planned = run_batch(objects, job, MemoryStorage(), plan=plan)
    assert len(fitted) == 1  # the plan's model is used as it is
    assert planned.worker_model == WorkerModel.WHOLE_JOB
    assert [r.to_gt("x", job_name="j", created="t") for r in planned] == [
        r.to_gt("x", job_name="j", created="t") for r in alone
    ]
