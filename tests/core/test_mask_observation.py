"""What the semantic-segmentation task keeps of an object between the batch's steps
(:meth:`tally.tasks.semantic_segmentation.adapter.SemanticSegmentation.observe`): the bytes the driver's
memory budget counts (``Observed.nbytes``: the prepared table, never the summary, gold object or not)
and, with the ``regions`` vote, each tuple's pixels away from outlines in the summary."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tally.gt.answers import Answer
from tally.gt.events import DatasetObject
from tally.labels import LabelSet
from tally.settings import Algorithm, Settings
from tally.storage import MemoryStorage
from tally.tasks.base import JobContext, Observed
from tally.tasks.semantic_segmentation.adapter import GoldObjectVotes, SemanticSegmentation
from tests.core.batch import LEGEND
from tests.helpers import seg_content

ROAD = ["r" * 48] * 48
HALF = ["r" * 24 + "c" * 24] * 48  # one outline, at column 24: a square's edge


def _answer(worker: str, rows: list[str], gold: bool = False) -> Answer:
    element = json.loads(seg_content(rows, LEGEND))["crowd-semantic-segmentation"]
    return Answer(worker, element, {"crowd-semantic-segmentation": element}, {"gold": True} if gold else {})


def _observe(algorithm: Algorithm, answers: list[Answer]) -> Observed[Any, Any]:
    settings = Settings(algorithm=algorithm)
    job = JobContext(LabelSet(("road", "car"), "event"), {}, MemoryStorage(), "s3://bucket/out/", settings)
    obj = DatasetObject.model_validate({"datasetObjectId": "o"})
    return SemanticSegmentation(settings).observe(obj, answers, job)


@pytest.mark.parametrize("algorithm", ["reliability", "regions", "majority"])
def test_nbytes_counts_the_prepared_table_alone_on_gold_objects_as_on_the_others(algorithm: Algorithm) -> None:
    crowd = _observe(algorithm, [_answer("w1", HALF), _answer("w2", ROAD), _answer("w3", HALF)])
    gold = _observe(algorithm, [_answer("w1", HALF), _answer("w2", ROAD, gold=True), _answer("w3", HALF)])
    alone = _observe(algorithm, [_answer("w2", ROAD)])
    # 48x48 uint8 tuple index + the vote tuples (64 x 3 workers; the gold answer alone: 4 x 1)
    assert (crowd.nbytes, gold.nbytes, alone.nbytes) == (48 * 48 + 64 * 3, 48 * 48 + 4, 48 * 48 + 4)
    # the gold object's summary (every answer, for the batch model) is kept as the crowd object's is: uncounted
    assert isinstance(gold.summary, GoldObjectVotes) == (algorithm != "majority")


@pytest.mark.parametrize("gold", [False, True])
def test_regions_summary_carries_each_tuples_interior_pixels(gold: bool) -> None:
    observed = _observe("regions", [_answer("w1", HALF), _answer("w2", ROAD, gold=gold), _answer("w3", HALF)])
    summary = observed.summary
    assert summary is not None
    # tuples (road, road, road) and (car, road, car), 1152 pixels each; away from the outline: 2 of the 3
    # columns of 8x8 squares on each side, 6 rows of them
    assert summary.counts.tolist() == [1152.0, 1152.0]
    assert summary.interior.tolist() == [768.0, 768.0]
    votes = observed.prepared.votes
    if gold:  # the class map is the gold answer alone: its votes need no interior
        assert votes.interior is None
    else:  # what the regions vote reads at consolidation: the same rows
        assert votes.interior.tolist() == [768.0, 768.0]


def test_reliability_summary_has_no_interior() -> None:
    observed = _observe("reliability", [_answer("w1", HALF), _answer("w2", ROAD), _answer("w3", HALF)])
    assert observed.summary is not None and observed.summary.interior is None
    assert observed.prepared.votes.interior is None
