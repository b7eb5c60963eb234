"""The worker models' gold input (``known``): the other answers to a gold object are judged against the
gold answer alone, not against each other."""

from __future__ import annotations

import numpy as np

from tally.aggregation.base import ObjectItems, WorkerItems
from tally.aggregation.box_consolidation import BoxConsolidation
from tally.aggregation.weighted_pixel_vote import LeaveOneOutWeights, ObjectVotes


def test_boxes_are_counted_against_the_gold_answer_alone() -> None:
    def answer(worker: str, *boxes: tuple[str, float, float, float, float]) -> WorkerItems:
        return WorkerItems(worker, tuple(b[0] for b in boxes), np.array([b[1:] for b in boxes], float).reshape(-1, 4))

    car, person = ("car", 10, 10, 50, 40), ("person", 60, 10, 80, 50)
    gold = answer("g", car, person)
    # a: the car, and a box where the gold has nothing; b: the person as a car, nothing else
    obj = ObjectItems((gold, answer("a", car, ("car", 0, 45, 8, 58)), answer("b", ("car", 61, 10, 80, 50))), 100, 60)
    model = BoxConsolidation().fit([obj], known=[0])
    # items, confirmed, chances, hits, agreement sum and count, invented, lost
    assert model.worker_statistics_ == {
        "a": [2.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "b": [1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    }
    # without the gold, agreement alone: a and the gold confirm each other's car, and g is judged too
    assert sorted(BoxConsolidation().fit([obj]).worker_statistics_) == ["a", "b", "g"]


def test_masks_are_judged_against_the_gold_mask_alone() -> None:
    # g (gold) and a paint class 1 on 40 pixels, a misses 5 more g painted; b, c and d paint class 2 there
    votes = np.array([[1, 1, 2, 2, 2], [1, 0, 2, 2, 0], [0, 0, 0, 0, 0]], np.uint8)
    obj = ObjectVotes.build(("g", "a", "b", "c", "d"), votes, np.array([40, 5, 60]))
    crowd = LeaveOneOutWeights().fit([obj])
    assert crowd.worker_statistics_["a"] == [1 / 9, 1.0]  # against the others' vote
    gold = LeaveOneOutWeights().fit([obj], known=[0])
    # against the gold mask, over the 45 pixels someone painted; the gold answer itself is not judged
    assert gold.worker_statistics_ == {"a": [40 / 45, 1.0], "b": [0.0, 1.0], "c": [0.0, 1.0], "d": [0.0, 1.0]}
    assert {w: round(q, 3) for w, q in gold.accuracy_.items()} == {"a": 0.444, "b": 0.148, "c": 0.148, "d": 0.148}
