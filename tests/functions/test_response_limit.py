"""Ground Truth's largest batches (5,000 objects x 9 workers) through the real consolidation: the
response never passes Lambda's limit; each step of the response sink (tally.gt.sink: 1 metadata cut,
2 batch figures moved, 3 per-object detail trimmed, 4 labels spilled) is taken only while the
response is over and in order; nothing is lost (every label read back from S3 equals the label as
built); a retry writes the same keys and bytes.

Every task type runs through ``consolidate_batch``. Classification, text classification, multi-label
and pass-through run at the full 5,000 x 9; the task types whose consolidation takes 2–15 ms an
object (named entities, boxes, keypoints, instances, polygons, semantic segmentation, and the answer
kinds of issue 21: numbers, free text, rankings, polylines, lines) run 125–1,250 objects x 9 workers
against the limit scaled by the same factor: a label's size does not depend on
the batch's, so the sink takes the same steps (``bench/response_limit.py`` runs them all at 5,000 x 9;
docs/benchmarks.md has its figures). One test runs the Lambda handler at 5,000 x 9 under moto's S3 with a KMS key (classification: each
S3 call under moto costs milliseconds of CPU, so the thousands of label files of steps 3 and 4 are
written to moto in tests/functions/test_real_answers.py at 40 objects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

import tally.consolidate
from tally import ConsolidationRequest, consolidate_batch
from tally.gt.response import RESPONSE_LIMIT_BYTES, ObjectResult, response_size
from tally.gt.sink import FULL_LABEL_REF, WORKER_QUALITY_REF, LabelReader, respond
from tally.storage import MemoryStorage, split_s3_uri
from tests.functions.s3 import get, put
from tests.project import SHARED, FakeContext
from tests.sim.batches import BUILDERS

FULL, WORKERS = 5000, 9
PAYLOAD = (
    "s3://gt-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
)
OUTPUT = "s3://gt-bucket/job/annotations"
PREFIX = OUTPUT + "/consolidated-annotation/output/"
ATTR = "label"
ESSENTIAL = ("type", "job-name", "human-annotated", "creation-date", "confidence", "failure-reason")
DETAILS = "in the label (the full metadata would pass Lambda's response size limit)"

CASES: dict[str, tuple[int, list[int]]] = {
    # task: (objects, the steps the sink takes at 5,000 x 9)
    "classification": (5000, [1, 2]),
    "text classification": (5000, [1, 2]),
    "multi-label": (5000, [1, 2, 3]),
    "pass-through": (5000, [4]),  # its metadata has nothing to cut, its label no worker figures
    "named entities": (1250, [1, 2, 3]),
    "boxes": (500, [1, 2, 3]),
    "keypoints": (500, [1, 2, 3]),
    "instances": (125, [1, 2, 3, 4]),
    "polygons": (200, [1, 2, 3, 4]),
    "semantic segmentation": (200, [1, 2, 3]),
    "numbers": (1000, [1, 2, 3, 4]),
    "free text": (500, [2, 3, 4]),  # its metadata is the common keys alone
    "rankings": (500, [1, 2, 3, 4]),
    "polylines": (200, [1, 2, 3, 4]),
    "lines": (200, [1, 2, 3, 4]),
}


def _event(labels: list[str] | None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"labelAttributeName": ATTR, "payload": {"s3Uri": PAYLOAD}, "outputConfig": OUTPUT}
    return {**event, "labelCategories": labels, **extra} if labels else {**event, **extra}


def _parts(entry: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    content = entry["consolidatedAnnotation"]["content"]
    return content[ATTR], content[f"{ATTR}-metadata"]


@pytest.mark.parametrize("task", CASES)
def test_the_largest_batch_fits_step_by_step_and_nothing_is_lost(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    objects, expected = CASES[task]
    limit = RESPONSE_LIMIT_BYTES * objects // FULL
    payload, labels = BUILDERS[task](np.random.default_rng(18), objects, WORKERS)
    storage = MemoryStorage({PAYLOAD: json.dumps(payload).encode()})
    seen: dict[str, Any] = {}

    def spy(results: list[ObjectResult], attr: str, **kwargs: Any) -> Any:
        seen.update(results=results, kwargs=kwargs)
        return respond(results, attr, **kwargs)

    monkeypatch.setattr(tally.consolidate, "respond", spy)
    report = consolidate_batch(ConsolidationRequest.parse(_event(labels)), storage, response_limit=limit)
    done = report.passed_through if task == "pass-through" else report.consolidated
    assert (done, report.failed) == (objects, 0)
    as_built = respond(seen["results"], ATTR, **{**seen["kwargs"], "limit": 10**12, "storage": MemoryStorage()}).entries

    # under the limit, each step taken only while over it, in order
    size = response_size(report.response)
    steps = report.response_steps
    assert size <= limit < response_size(as_built)
    assert [s.number for s in steps] == expected
    assert all(s.before > limit for s in steps) and steps[-1].after == size
    assert steps[0].before == response_size(as_built)
    assert [s.before for s in steps[1:]] == [s.after for s in steps[:-1]]

    # nothing lost: every label read back through its refs is the label as built
    reader = LabelReader(storage.read)
    fitted = [_parts(e) for e in report.response]
    built = [_parts(e) for e in as_built]
    assert [reader.resolve(label) for label, _ in fitted] == [label for label, _ in built]
    for (_, meta), (_, whole) in zip(fitted, built, strict=True):
        cut = {k: whole[k] for k in ESSENTIAL if k in whole}
        assert meta == (cut | {"details": DETAILS} if 1 in expected and cut != whole else whole)
    # what each step left in the labels
    figures = set(seen["results"][0].batch_figures)
    for label, _ in fitted:
        if 2 in expected and WORKER_QUALITY_REF in label:
            assert all(not figures & set(row) for row in label["worker-quality"])  # who answered, per-object figures
        if FULL_LABEL_REF in label:
            assert "worker-quality" not in label and WORKER_QUALITY_REF not in label  # step 3 trims them first
    detail = {"worker-quality", WORKER_QUALITY_REF, "answer-warnings", "rejected-answers"}
    spilled = [(f, b) for (f, _), (b, _) in zip(fitted, built, strict=True) if not set(b) - detail <= set(f)]
    assert bool(spilled) == (4 in expected)
    for label, whole in spilled:  # its type, confidence, artefacts' URIs, small values and the whole label's ref
        refs = {k for k in whole if k.endswith("-ref")}
        assert (
            {"type", FULL_LABEL_REF} | refs | ({"confidence"} & set(whole))
            <= set(label)
            <= set(whole) | {FULL_LABEL_REF}
        )
        assert all(len(json.dumps(v)) <= 64 for k, v in label.items() if k not in refs | {FULL_LABEL_REF})
    assert report.offloaded == sum(FULL_LABEL_REF in label for label, _ in fitted)
    written = {k: v for k, v in storage.objects.items() if k.startswith(PREFIX) and k.endswith(".json")}
    assert len(written) == report.offloaded + (2 in expected)

    # a retry: the same response, the same keys and bytes
    again = MemoryStorage()
    assert respond(seen["results"], ATTR, **{**seen["kwargs"], "storage": again}).entries == report.response
    assert again.objects == written


def _metric(capsys: pytest.CaptureFixture[str], name: str) -> Any:
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' in line:
            return json.loads(line).get(name)
    raise AssertionError("no metrics printed")


def test_the_lambda_returns_a_5000_x_9_classification_batch_under_6_mb_and_a_retry_writes_the_same(
    s3: Any, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    payload, labels = BUILDERS["classification"](np.random.default_rng(18), FULL, WORKERS)
    put(s3, PAYLOAD, json.dumps(payload).encode())
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    event = _event(labels, kmsKeyId=key_id)
    response = handler.lambda_handler(event, FakeContext())
    assert len(response) == FULL and response_size(response) <= RESPONSE_LIMIT_BYTES
    fitted = [_parts(e)[0] for e in response]
    [figures] = {label.get(WORKER_QUALITY_REF) for label in fitted}
    assert _metric(capsys, "ObjectsConsolidated") in ([FULL], [float(FULL)])
    bucket, prefix = split_s3_uri(PREFIX)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert [f"s3://{bucket}/{o['Key']}" for o in listed] == [figures]  # steps 1 and 2 suffice: one file
    head = s3.head_object(Bucket=bucket, Key=listed[0]["Key"])  # written with the job's KMS key, as masks are
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)
    stored = get(s3, figures)
    reader = LabelReader(lambda uri: get(s3, uri))
    full = [reader.resolve(label) for label in fitted]
    assert all(WORKER_QUALITY_REF not in f and len(f["worker-quality"]) == WORKERS for f in full)
    assert all(set(row) == {"workerId", "accuracy", "informativeness"} for f in full for row in f["worker-quality"])
    # the retry (Ground Truth's, or Lambda's on a timeout) returns the same and rewrites the same bytes
    assert handler.lambda_handler(event, FakeContext()) == response
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]] == [listed[0]["Key"]]
    assert get(s3, figures) == stored


REAL = SHARED / "data" / "real"


@pytest.mark.parametrize(
    "payload",
    [
        REAL / "ppi-crowd-classifier" / "payload.json",  # a real text-classification job
        REAL / "dg-lambda-requirements" / "ner.json",
        REAL / "dg-lambda-requirements" / "bbox.json",
        REAL / "dg-lambda-requirements" / "semseg_synth_png.json",  # a worker painted a label the job lacks
    ],
    ids=lambda p: p.stem,
)
def test_real_answers_taken_through_every_step_read_back_as_built(
    payload: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = MemoryStorage({PAYLOAD: payload.read_bytes()})
    seen: dict[str, Any] = {}

    def spy(results: list[ObjectResult], attr: str, **kwargs: Any) -> Any:
        seen.update(results=results, kwargs=kwargs)
        return respond(results, attr, **kwargs)

    monkeypatch.setattr(tally.consolidate, "respond", spy)
    report = consolidate_batch(ConsolidationRequest.parse(_event(None)), storage, response_limit=1)
    as_built = respond(seen["results"], ATTR, **{**seen["kwargs"], "limit": 10**12, "storage": MemoryStorage()}).entries
    assert [s.number for s in report.response_steps][-1] == 4 and report.offloaded == len(as_built)
    reader = LabelReader(storage.read)
    assert [reader.resolve(_parts(e)[0]) for e in report.response] == [_parts(e)[0] for e in as_built]
