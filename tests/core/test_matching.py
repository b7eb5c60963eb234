"""Matching items of different workers: similarities, ties, duplicates, empty answers, order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tally.aggregation.matching import Cluster, box_iou, instance_iou, match_items, point_similarity


def boxes(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def all_boxes(geometry: list[np.ndarray]) -> np.ndarray:
    stacked = np.concatenate([g.reshape(-1, 4) for g in geometry])
    return box_iou(stacked, stacked)


def match_boxes(answers: list[tuple[list[str], np.ndarray]], **kwargs) -> list[Cluster]:
    return match_items([labels for labels, _ in answers], all_boxes([g for _, g in answers]), **kwargs)


def test_box_iou_of_hand_made_boxes() -> None:
    iou = box_iou(boxes([0, 0, 10, 10]), boxes([5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30], [3, 3, 3, 9]))
    assert iou.tolist() == [[50 / 150, 1.0, 0.0, 0.0]]


def test_point_similarity_is_a_gaussian_of_distance() -> None:
    sim = point_similarity([[0, 0]], [[0, 0], [6, 8], [0, 20]], sigma=10.0)
    assert sim[0].tolist() == pytest.approx([1.0, np.exp(-0.5), np.exp(-2.0)])


def test_instance_iou_from_two_maps() -> None:
    a = np.array([[1, 1, 2, 2], [0, 0, 2, 2]])
    b = np.array([[1, 0, 0, 1], [0, 0, 1, 1]])
    # instance 1 of a: 2 pixels, 1 shared with b's 4 → 1/5; instance 2: 4 pixels, 3 shared → 3/5
    assert instance_iou(a, 2, b, 1).tolist() == [[1 / 5], [3 / 5]]


def test_three_workers_one_object_each_make_one_cluster() -> None:
    clusters = match_boxes(
        [(["car"], boxes([0, 0, 10, 10])), (["car"], boxes([1, 0, 11, 10])), (["car"], boxes([0, 1, 10, 11]))]
    )
    assert clusters == [Cluster("car", ((0, 0), (1, 0), (2, 0)))]


def test_items_of_different_labels_never_match() -> None:
    clusters = match_boxes([(["car"], boxes([0, 0, 10, 10])), (["bus"], boxes([0, 0, 10, 10]))])
    assert clusters == [Cluster("bus", ((1, 0),)), Cluster("car", ((0, 0),))]


def test_below_min_similarity_opens_a_new_cluster() -> None:
    # IoU 50/150 = 0.33 < 0.5
    clusters = match_boxes([(["car"], boxes([0, 0, 10, 10])), (["car"], boxes([5, 0, 15, 10]))])
    assert clusters == [Cluster("car", ((0, 0),)), Cluster("car", ((1, 0),))]
    lenient = match_boxes([(["car"], boxes([0, 0, 10, 10])), (["car"], boxes([5, 0, 15, 10]))], min_similarity=0.3)
    assert lenient == [Cluster("car", ((0, 0), (1, 0)))]


def test_optimal_assignment_beats_greedy() -> None:
    # greedy takes the best pair (a0, b0) first, and a1-b1 is then below 0.5: one cluster of two.
    # The optimum pairs a0-b1 and a1-b0.
    a = boxes([0, 0, 10, 10], [2, 0, 12, 10])
    b = boxes([0.5, 0, 10.5, 10], [-1.5, 0, 8.5, 10])
    iou = box_iou(a, b)
    assert iou.round(3).tolist() == [[0.905, 0.739], [0.739, 0.481]]
    clusters = match_boxes([(["car", "car"], a), (["car", "car"], b)])
    assert clusters == [Cluster("car", ((0, 0), (1, 1))), Cluster("car", ((0, 1), (1, 0)))]


def test_a_tie_between_two_clusters_goes_to_the_earlier_cluster() -> None:
    # worker 1's box overlaps both of worker 0's boxes with IoU 90/110
    a = boxes([0, 0, 10, 10], [2, 0, 12, 10])
    b = boxes([1, 0, 11, 10])
    assert box_iou(a, b)[:, 0].tolist() == [90 / 110, 90 / 110]
    clusters = match_boxes([(["car", "car"], a), (["car"], b)])
    assert clusters == [Cluster("car", ((0, 0), (1, 0))), Cluster("car", ((0, 1),))]


def test_a_worker_who_draws_two_boxes_on_one_object_leaves_one_alone() -> None:
    clusters = match_boxes(
        [
            (["car"], boxes([0, 0, 10, 10])),
            (["car", "car"], boxes([0, 0, 10, 10], [1, 1, 10, 10])),
            (["car"], boxes([0, 0, 10, 11])),
        ]
    )
    # worker 1 has the most items and goes first; its two boxes open two clusters; the others join the
    # first (identical box), never both
    assert clusters == [Cluster("car", ((1, 0), (0, 0), (2, 0))), Cluster("car", ((1, 1),))]


def test_empty_answers_make_no_clusters() -> None:
    assert match_items([[], []], np.zeros((0, 0))) == []
    assert match_items([[], ["car"], []], np.zeros((1, 1))) == [Cluster("car", ((1, 0),))]


def test_weights_and_keys_order_the_workers() -> None:
    sim = all_boxes([boxes([0, 0, 10, 10]), boxes([0, 0, 10, 10])])
    labels = [["car"], ["car"]]
    assert match_items(labels, sim, keys=["b", "a"]) == [Cluster("car", ((1, 0), (0, 0)))]
    assert match_items(labels, sim, keys=["b", "a"], weights=[2.0, 1.0]) == [Cluster("car", ((0, 0), (1, 0)))]


def test_clusters_do_not_depend_on_the_order_of_the_answers() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 80, size=(6, 2))
    answers = {}
    for worker in "abcd":
        keep = rng.random(6) > 0.3
        jitter = rng.normal(0, 1.5, size=(6, 4))
        xy = np.concatenate([base, base + 15], axis=1) + jitter
        labels = ["car" if k % 2 else "bus" for k in range(6)]
        answers[worker] = ([lab for lab, k in zip(labels, keep, strict=True) if k], xy[keep])

    def clusters_by_worker(order: tuple[str, ...]) -> set[tuple[object, frozenset[tuple[str, tuple[float, ...]]]]]:
        geometry = [answers[w][1] for w in order]
        found = match_items([answers[w][0] for w in order], all_boxes(geometry), keys=list(order))
        return {(c.label, frozenset((order[a], tuple(geometry[a][i].round(6))) for a, i in c.members)) for c in found}

    reference = clusters_by_worker(("a", "b", "c", "d"))
    assert sum(len(members) for _, members in reference) == sum(len(labels) for labels, _ in answers.values())
    for order in itertools.permutations("abcd"):
        assert clusters_by_worker(order) == reference


def test_a_similarity_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        match_items([["car"], ["car"]], np.zeros((3, 3)))
