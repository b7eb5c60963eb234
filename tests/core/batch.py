"""Helpers the core tests share: :func:`run` consolidates hand-made objects as one batch on local
storage (the job's labels :data:`LABELS` unless told), :func:`content` reads an entry's label and
metadata, :func:`mask_rows` a semantic mask as rows of letters (:data:`NAMES`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.storage import LocalStorage
from tests.helpers import read_mask, rows_of

PAYLOAD_URI = "s3://job-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
ATTR = "street"
LABELS = ["road", "car", "person", "sign"]
NAMES = {1: "r", 2: "c", 3: "p", 4: "s"}
LEGEND = {"r": "road", "c": "car", "p": "person", "s": "sign"}
OTHER_COLOURS = {"road": "#2ca02c", "car": "#d62728", "person": "#1f77b4", "sign": "#ff7f0e"}


def run(
    tmp_path: Path,
    objects: list[dict[str, Any]],
    *,
    labels: list[str] | None = LABELS,
    settings: Settings | None = None,
    job_labels: Any = lambda: None,
    remaining_ms: Any = None,
    **event: Any,
) -> tuple[list[dict[str, Any]], Any, LocalStorage]:
    storage = LocalStorage(tmp_path / "s3")
    payload = json.dumps(objects).encode()
    if not storage.path_of(PAYLOAD_URI).exists() or storage.read(PAYLOAD_URI) != payload:
        storage.write(PAYLOAD_URI, payload, "application/json")  # a retry sees the same payload object
    request = ConsolidationRequest.parse(
        {
            "labelAttributeName": ATTR,
            "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/job",
            "labelCategories": labels,
            "payload": {"s3Uri": PAYLOAD_URI},
            "outputConfig": "s3://job-bucket/job/annotations",
            **event,
        }
    )
    settings = settings or Settings(algorithm="majority")  # the plain vote unless a test says otherwise
    report = consolidate_batch(request, storage, settings=settings, job_labels=job_labels, remaining_ms=remaining_ms)
    return report.response, report, storage


def content(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    c = entry["consolidatedAnnotation"]["content"]
    return c[ATTR], c[f"{ATTR}-metadata"]


def mask_rows(storage: LocalStorage, label: dict[str, Any]) -> list[str]:
    return rows_of(read_mask(storage.read(label["mask-ref"])), NAMES)


def reliable(tmp_path: Path, objects: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    """The ``reliability`` vote with confidence maps: the response and the storage."""
    response, _, storage = run(tmp_path, objects, settings=Settings(confidence_maps=True))
    return response, storage
