"""Every kind's typed result reads back exactly the label the consolidation wrote (``from_gt`` then
``to_gt``), on simulated batches of every task type; and a label it cannot read names what is missing."""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import pytest

from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.storage import MemoryStorage
from tally.tasks.boxes import BoxesResult
from tally.tasks.registry import kind_of
from tests.sim.batches import BUILDERS

SHARED = ("type", "rejected-answers", "answer-warnings")
"""The entries every result shares (:class:`~tally.gt.response.ObjectResult` adds them), not the kind's."""


def labels_of(builder: str, algorithm: Literal["reliability", "majority"] = "reliability") -> list[dict[str, Any]]:
    payload, labels = BUILDERS[builder](np.random.default_rng(7), 12, 4)
    storage = MemoryStorage({"s3://bucket/p.json": json.dumps(payload).encode()})
    event: dict[str, Any] = {"labelAttributeName": "label", "payload": {"s3Uri": "s3://bucket/p.json"}}
    if labels is not None:
        event["labelCategories"] = labels
    report = consolidate_batch(
        ConsolidationRequest.parse(event), storage, settings=Settings(algorithm=algorithm), mask_prefix="s3://b/out"
    )
    return [e["consolidatedAnnotation"]["content"]["label"] for e in report.response]


@pytest.mark.parametrize(
    ("builder", "algorithm"),
    [(name, "reliability") for name in BUILDERS] + [("semantic segmentation", "majority")],
)
def test_from_gt_reads_back_what_the_batch_wrote(builder: str, algorithm: Literal["reliability", "majority"]) -> None:
    labels = labels_of(builder, algorithm)
    assert len(labels) == 12
    for label in labels:
        kind = kind_of(label["type"])
        assert kind is not None and kind.from_gt is not None
        own = {k: v for k, v in label.items() if k not in SHARED}
        result = kind.from_gt(label)
        assert json.dumps(result.to_gt()) == json.dumps(own)  # same keys, same order, same values


def test_a_label_missing_a_key_is_not_read() -> None:
    label = labels_of("boxes")[0]
    del label["class-map"]
    with pytest.raises(KeyError, match="class-map"):
        BoxesResult.from_gt(label)
