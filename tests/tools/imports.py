"""Helpers of the importer tests (tests/tools/test_importer*.py, test_polygon_write_back.py): what the core
answers for a Ground Truth batch written by hand, and a label without the importer's own keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.forms.consolidate import JobTemplate
from tally.storage import MemoryStorage

IMPORTER_KEYS = {"kept-as-given", "gold-answers", "import-notes", "imported-from", "shape-attributes"}
"""The keys an import adds to a label (beside what the core answers)."""


def core(
    payload: list[dict[str, Any]], labels: list[str] | None = None, form: JobTemplate | None = None, **settings: Any
) -> list[dict[str, Any]]:
    """What the core answers for a Ground Truth batch written by hand."""
    storage = MemoryStorage({"s3://bucket/payload.json": json.dumps(payload).encode()})
    event: dict[str, Any] = {"labelAttributeName": "label", "payload": {"s3Uri": "s3://bucket/payload.json"}}
    if labels:
        event["labelCategories"] = labels
    report = consolidate_batch(ConsolidationRequest.parse(event), storage, settings=Settings(**settings),
                               form_template=None if form is None else (lambda: form))  # fmt: skip
    return [e["consolidatedAnnotation"]["content"]["label"] for e in report.response]


def answer(worker: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"workerId": worker, "annotationData": {"content": json.dumps(content)}}


def without(label: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in label.items() if k not in IMPORTER_KEYS | set(keys)}


def png(out: Path, uri: str) -> np.ndarray:
    path = Path(uri)
    with Image.open(path if path.is_absolute() else out / path) as image:
        return np.asarray(image)
