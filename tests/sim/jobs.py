"""A simulated labeling job sent to :func:`tally.consolidate_batch` as a sequence of batches (tests and
benchmarks of the worker store, :mod:`tally.worker_store`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from tally import ConsolidationRequest, consolidate_batch
from tally.consolidate import BatchReport
from tally.storage import MemoryStorage
from tally.worker_store import WorkerStore
from tests.sim.classification import ClassCrowd, ClassWorker, classification_crowd

__all__ = ["JOB_ARN", "NAMES", "POOL", "accuracy", "classification_objects", "job_crowd", "run_batch", "split"]

JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/store-test"
NAMES = ["Dog", "Cat", "Bird"]
POOL = (
    ClassWorker(0.9),
    ClassWorker(0.85),
    ClassWorker(0.8),
    ClassWorker(0.75),
    ClassWorker(0.9, kind="swapper", swap=(0, 1)),
    ClassWorker(kind="spammer"),
    ClassWorker(0.8, kind="biased", bias_class=2, bias=0.6),
    ClassWorker(0.7),
)
"""Eight workers: four careful ones, a Dog/Cat swapper, a spammer, one biased to Bird, a weak one."""


def job_crowd(seed: int, n_objects: int = 200) -> ClassCrowd:
    """A job of ``n_objects`` single-label objects answered by 1–3 workers of :data:`POOL`."""
    return classification_crowd(np.random.default_rng(seed), n_objects, POOL, n_classes=3, answers=(1, 3))


def classification_objects(crowd: ClassCrowd) -> list[dict[str, Any]]:
    """One payload element per object (IDs ``o0``…, workers ``w0``…), in object order."""
    objects: list[dict[str, Any]] = [
        {"datasetObjectId": f"o{i}", "dataObject": {"s3Uri": f"s3://bucket/images/o{i}.jpg"}, "annotations": []}
        for i in range(crowd.n_tasks)
    ]
    for t, w, k in zip(crowd.tasks.tolist(), crowd.workers.tolist(), crowd.labels.tolist(), strict=True):
        content = json.dumps({"crowd-image-classifier": {"label": NAMES[k]}})
        objects[t]["annotations"].append({"workerId": f"w{w}", "annotationData": {"content": content}})
    return objects


def split(n: int, sizes: Sequence[int]) -> list[range]:
    """``range(n)`` cut into consecutive batches whose sizes cycle through ``sizes``."""
    out, start, i = [], 0, 0
    while start < n:
        size = sizes[i % len(sizes)]
        out.append(range(start, min(n, start + size)))
        start += size
        i += 1
    return out


def run_batch(
    objects: Sequence[dict[str, Any]],
    store: WorkerStore | None,
    *,
    uri: str,
    job_arn: str = JOB_ARN,
    storage: MemoryStorage | None = None,
    labels: Sequence[str] = NAMES,
) -> BatchReport:
    """Consolidate ``objects`` as one batch whose payload is at ``uri``."""
    storage = storage or MemoryStorage()
    storage.objects[uri] = json.dumps(list(objects), sort_keys=True).encode()
    event = {
        "version": "2018-10-16",
        "labelingJobArn": job_arn,
        "labelAttributeName": "label",
        "labelCategories": list(labels),
        "payload": {"s3Uri": uri},
    }
    return consolidate_batch(
        ConsolidationRequest.parse(event), storage, worker_store=store, mask_prefix="s3://bucket/out"
    )


def accuracy(report: BatchReport, crowd: ClassCrowd) -> dict[str, bool]:
    """Per object ID: is its consolidated class the truth?"""
    out = {}
    for entry in report.response:
        i = int(entry["datasetObjectId"][1:])
        out[entry["datasetObjectId"]] = entry["consolidatedAnnotation"]["content"]["label"]["class-id"] == int(
            crowd.truth[i]
        )
    return out
