"""Every kind's typed result reads back exactly the label the consolidation wrote (``from_gt`` then
``to_gt``), on simulated batches of every task type; and a label it cannot read names what is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.storage import MemoryStorage
from tally.tasks.boxes import BoxesResult
from tally.tasks.registry import kind_of
from tally.tasks.semantic_segmentation import DisputedRegion, SegmentationResult
from tests.core.batch import LEGEND, content, run
from tests.helpers import annotation, data_object, seg_content
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


def test_a_segmentation_label_with_disputed_regions_reads_back(tmp_path: Path) -> None:
    # two workers call one large shape two classes and the third drew nothing there: the ``regions``
    # vote lists it in the label, and the typed result reads the whole label back, its metadata too
    def draw(shape: str, right: int) -> list[str]:
        return ["rrrrrrrrrrrrrrrrrrrr"] * 3 + ["." * 20] * 2 + [("...." + shape * (right - 4)).ljust(20, ".")] * 10

    calm = [
        data_object(
            f"calm-{i}",
            annotation("w1", seg_content(draw("c", 16), LEGEND)),
            annotation("w2", seg_content(draw("c", 15), LEGEND)),
            annotation("w3", seg_content(draw("c", 16), LEGEND)),
        )
        for i in range(3)
    ]
    dispute = data_object(
        "dispute",
        annotation("w1", seg_content(draw("c", 16), LEGEND)),
        annotation("w2", seg_content(draw("p", 16), LEGEND)),
        annotation("w3", seg_content(draw("c", 4), LEGEND)),
    )
    response, _, _ = run(tmp_path, [*calm, dispute], settings=Settings(algorithm="regions"))
    label, metadata = content(response[-1])
    result = SegmentationResult.from_gt(label)
    assert result.disputed_regions == (
        DisputedRegion(
            ("car", "person"), 120, "car", 0.4712, (("car", ("w1",)), ("person", ("w2",)), ("none", ("w3",)))
        ),
    )
    own = {k: v for k, v in label.items() if k not in SHARED}
    assert json.dumps(result.to_gt()) == json.dumps(own)  # same keys, same order, same values
    written = {k: v for k, v in metadata.items() if k not in ("type", "job-name", "human-annotated", "creation-date")}
    assert json.dumps(result.metadata()) == json.dumps(written)


def test_a_label_missing_a_key_is_not_read() -> None:
    label = labels_of("boxes")[0]
    del label["class-map"]
    with pytest.raises(KeyError, match="class-map"):
        BoxesResult.from_gt(label)
