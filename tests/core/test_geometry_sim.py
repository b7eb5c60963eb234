"""The simulated geometric crowds, end to end through the consolidation (quality floors, not timings)."""

from __future__ import annotations

import numpy as np

from tally.aggregation.assignment import max_similarity_assignment
from tally.aggregation.box_consolidation import BoxConsolidation
from tally.aggregation.instance_consolidation import InstanceConsolidation
from tally.aggregation.keypoint_consolidation import KeypointConsolidation
from tally.aggregation.matching import box_iou, instance_iou
from tests.sim.geometry import CROWDS, box_batch, instance_batch, keypoint_batch


def test_a_seed_gives_the_same_batch() -> None:
    first = box_batch(np.random.default_rng(5), CROWDS["mixed-1to5"], 4)
    second = box_batch(np.random.default_rng(5), CROWDS["mixed-1to5"], 4)
    for a, b in zip(first, second, strict=True):
        assert a.truth.tolist() == b.truth.tolist()
        assert [x.geometry.tolist() for x in a.items.answers] == [x.geometry.tolist() for x in b.items.answers]


def test_mixed_crowd_answers_objects_with_one_to_five_workers() -> None:
    batch = box_batch(np.random.default_rng(1), CROWDS["mixed-1to5"], 60)
    assert {len(s.items.answers) for s in batch} == {1, 2, 3, 4, 5}


def test_a_careful_crowd_gives_back_every_box_and_nothing_else() -> None:
    batch = box_batch(np.random.default_rng(8), CROWDS["careful-3"], 30)
    results = BoxConsolidation().fit_predict([s.items for s in batch])
    for sim, result in zip(batch, results, strict=True):
        assert sorted(map(str, result.labels)) == sorted(sim.truth_labels)
        iou = box_iou(result.geometry, sim.truth)
        rows, _ = max_similarity_assignment(iou, 0.8)
        assert len(rows) == len(sim.truth_labels)


def test_wrong_class_workers_weigh_less_than_careful_ones() -> None:
    batch = box_batch(np.random.default_rng(9), CROWDS["wrong-class-3"], 60)
    model = BoxConsolidation().fit([s.items for s in batch])
    careful = [model.worker_weights_[f"w{k}"] for k in range(4)]
    wrong = [model.worker_weights_[f"w{k}"] for k in (4, 5)]
    assert min(careful) == 1.0
    assert max(wrong) < 0.5
    # their right-class boxes are as precise as anyone's: full weight when boxes are fused
    assert [model.fusion_weights_[f"w{k}"] for k in range(6)] == [1.0] * 6


def test_sloppy_workers_weigh_less_when_boxes_are_fused() -> None:
    batch = box_batch(np.random.default_rng(10), CROWDS["sloppy-5"], 60)
    model = BoxConsolidation().fit([s.items for s in batch])
    assert min(model.fusion_weights_[f"w{k}"] for k in range(6)) == 1.0
    assert max(model.fusion_weights_[f"w{k}"] for k in (6, 7)) < 0.5


def test_careful_keypoints_land_within_a_few_pixels() -> None:
    batch = keypoint_batch(np.random.default_rng(4), CROWDS["careful-3"], 20)
    results = KeypointConsolidation().fit_predict([s.items for s in batch])
    for sim, result in zip(batch, results, strict=True):
        assert sorted(map(str, result.labels)) == sorted(sim.truth_labels)
        for label, point in zip(result.labels, np.asarray(result.geometry), strict=True):
            truths = sim.truth[[i for i, t in enumerate(sim.truth_labels) if t == label]]
            assert np.hypot(*(truths - point).T).min() < 10.0


def test_careful_instances_overlap_the_truth() -> None:
    batch = instance_batch(np.random.default_rng(2), CROWDS["careful-3"], 3, width=160, height=120)
    model = InstanceConsolidation().fit([obj for _, _, obj in batch])
    for truth_map, truth_labels, obj in batch:
        result = model.predict(obj)
        fused = np.asarray(result.geometry)
        iou = instance_iou(fused, len(result.labels), truth_map, len(truth_labels))
        visible = np.bincount(truth_map.ravel(), minlength=len(truth_labels) + 1)[1:] > 50
        _, cols = max_similarity_assignment(iou, 0.7)
        assert set(np.flatnonzero(visible).tolist()) <= set(cols.tolist())


def test_the_benchmarks_plain_mean_baseline_really_fuses_by_the_mean() -> None:
    from bench.boxes import MeanFusion

    boxes = np.array([[[0, 0, 10, 10], [2, 0, 12, 10], [10, 0, 40, 10]], [[5, 5, 9, 9], [0, 0, 0, 0], [0, 0, 0, 0]]])
    weights = np.array([[1.0, 0.5, 0.2], [1.0, 0.0, 0.0]])
    assert MeanFusion().fuse_many(boxes, weights).tolist() == [[4.0, 0.0, 62 / 3, 10.0], [5.0, 5.0, 9.0, 9.0]]
    assert MeanFusion().fuse([[0, 0, 10, 10], [2, 0, 12, 10], [10, 0, 40, 10]], [1.0, 1.0, 1.0]).tolist() == [
        4.0,
        0.0,
        62 / 3,
        10.0,
    ]
