"""The worker models' gold input (``known``): the other answers to a gold object are judged against the
gold answer alone, not against each other."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from tally.aggregation.base import ObjectItems, WorkerItems
from tally.aggregation.box_consolidation import BoxConsolidation
from tally.aggregation.weighted_pixel_vote import LeaveOneOutWeights, ObjectVotes
from tests.core.batch import content, run
from tests.sim.gold import LINE_CLASSES, line_f1, polyline_batch


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


def test_gold_polylines_score_the_annotators_for_the_other_objects(tmp_path: Path) -> None:
    """Simulated batches as an importer hands gold on (:func:`tests.sim.gold.polyline_batch`: a careful
    annotator and ``bo``, whose lines agree with nobody, on each of 40 objects; the truth marked gold on
    8): non-gold line F1 (within 5 px, the same label) with the gold judging the annotators against
    before, when a gold object was its gold answer alone. Seeds 1–3 looked at; judged on 4–12."""
    scored: list[float] = []
    alone: list[float] = []
    for seed in range(4, 13):
        objects, truth, gold = polyline_batch(seed)
        before = json.loads(json.dumps(objects))
        for o in before:
            if any(a["annotationData"].get("gold") for a in o["annotations"]):
                o["annotations"] = [a for a in o["annotations"] if a["annotationData"].get("gold")]
        for name, payload, runs in (("scored", objects, scored), ("alone", before, alone)):
            response, report, _ = run(tmp_path / f"{seed}-{name}", payload, labels=LINE_CLASSES)
            assert report.failed == 0
            labels = {e["datasetObjectId"]: content(e)[0] for e in response}
            f1 = [line_f1(labels[str(t)]["polylines"], truth[t], 5.0) for t in range(len(truth))]
            assert all(f1[t] == 1.0 for t in gold)  # never outvoted
            runs.append(statistics.mean(f1[t] for t in range(len(truth)) if t not in gold))
            if name == "scored":  # the gold answer is the known truth
                assert all(labels[str(t)]["confidence"] == 1.0 for t in gold)
                assert all([q["workerId"] for q in labels[str(t)]["worker-quality"]] == ["rev"] for t in gold)
    assert (round(scored[0], 4), round(alone[0], 4)) == (0.8833, 0.5919)  # the fixed seed 4
    assert all(s > a + 0.1 for s, a in zip(scored, alone, strict=True)), (scored, alone)
    assert (round(statistics.mean(scored), 3), round(statistics.mean(alone), 3)) == (0.862, 0.562)


def test_a_polyline_is_scored_against_the_gold_lines() -> None:
    from tally.importers.gold import agreement

    size = {"width": 200, "height": 150}

    def lines(*found: tuple[str, list[tuple[float, float]]]) -> dict[str, Any]:
        items = [{"label": label, "vertices": [{"x": x, "y": y} for x, y in vertices]} for label, vertices in found]
        return {"polylines": items, "inputImageProperties": size}

    gold = lines(("lane", [(0, 0), (100, 0)]), ("kerb", [(0, 50), (100, 50)]))
    # the lane drawn the other way round with another vertex count matches; the kerb called a lane does not
    mine = lines(("lane", [(100, 2), (50, 1), (0, 2)]), ("lane", [(0, 50), (100, 50)]))
    assert agreement("polylines", mine, gold) == 0.5
    assert agreement("polylines", lines(), lines()) == 1.0
