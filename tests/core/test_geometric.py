"""Match, keep and fuse: the keep rule, worker reliability, the three kinds, and real answers."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

import tally.aggregation.geometric as geometric
from tally.aggregation.base import Consolidated, ObjectItems, WorkerItems
from tally.aggregation.box_consolidation import BoxConsolidation
from tally.aggregation.box_fusion import boxes_from_ltwh, boxes_to_ltwh, huber_k
from tally.aggregation.geometric import ItemConsolidation
from tally.aggregation.instance_consolidation import InstanceConsolidation
from tally.aggregation.instance_fusion import instance_map_from_colours, instance_map_from_palette, rasterise_polygons
from tally.aggregation.keypoint_consolidation import KeypointConsolidation
from tally.aggregation.matching import matching_orders
from tally.codecs import hex_to_rgb
from tests.project import SHARED
from tests.sim.geometry import CROWDS, box_batch, keypoint_batch

CAR = [10.0, 10.0, 50.0, 40.0]


def box_answer(worker: str, *items: tuple[str, list[float]]) -> WorkerItems:
    geometry = np.array([b for _, b in items], dtype=np.float64).reshape(-1, 4)
    return WorkerItems(worker, tuple(label for label, _ in items), geometry)


def box_object(*answers: WorkerItems) -> ObjectItems:
    return ObjectItems(tuple(answers), width=100, height=100)


def shifted(box: list[float], dx: float = 0.0, dy: float = 0.0) -> list[float]:
    return [box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy]


def test_one_workers_boxes_come_back_exactly_with_zero_confidence() -> None:
    obj = box_object(box_answer("a", ("car", CAR), ("car", shifted(CAR, 2, 1)), ("bus", [60, 60, 90, 99])))
    result = BoxConsolidation().fit([obj]).predict(obj)
    assert result.labels == ["bus", "car", "car"]
    assert result.geometry.tolist() == [[60, 60, 90, 99], CAR, shifted(CAR, 2, 1)]
    assert result.support.tolist() == [1.0, 1.0, 1.0]
    assert result.confidence.tolist() == [0.0, 0.0, 0.0]
    assert result.workers == [("a",), ("a",), ("a",)]


def test_the_aws_recipes_one_worker_payload_comes_back_as_exactly_its_boxes() -> None:
    payload = json.loads((SHARED / "data/recipe-events/sample_annotation_consolidation_payload.json").read_text())
    objects, drawn = [], []
    for entry in payload:
        (annotation,) = entry["annotations"]
        answer = json.loads(annotation["annotationData"]["content"])["annotatedResult"]
        size = answer["inputImageProperties"]
        ltwh = [[b["left"], b["top"], b["width"], b["height"]] for b in answer["boundingBoxes"]]
        xyxy, ok = boxes_from_ltwh(ltwh, size["width"], size["height"])
        assert ok.all()
        labels = tuple(b["label"] for b in answer["boundingBoxes"])
        objects.append(ObjectItems((WorkerItems(annotation["workerId"], labels, xyxy),), size["width"], size["height"]))
        drawn.append(sorted(zip(labels, map(tuple, ltwh), strict=True)))
    results = BoxConsolidation().fit_predict(objects)
    for result, expected in zip(results, drawn, strict=True):
        got = sorted(zip(result.labels, map(tuple, boxes_to_ltwh(result.geometry).tolist()), strict=True))
        assert got == expected
    assert drawn[0] == [("Green", (418, 281, 138, 141)), ("Red", (116, 283, 137, 128))]


def test_three_workers_keep_what_two_agree_on_and_average_close_edges() -> None:
    obj = box_object(
        box_answer("a", ("car", CAR)),
        box_answer("b", ("car", shifted(CAR, 1))),
        box_answer("c", ("car", shifted(CAR, 2)), ("car", [70, 70, 90, 90])),
    )
    result = BoxConsolidation().predict(obj)
    assert result.labels == ["car"]
    assert result.geometry.tolist() == [shifted(CAR, 1)]
    assert result.support.tolist() == [1.0]
    assert sorted(result.workers[0]) == ["a", "b", "c"]


def test_confidence_is_support_times_agreement() -> None:
    obj = box_object(box_answer("a", ("car", CAR)), box_answer("b", ("car", CAR)), box_answer("c"))
    result = BoxConsolidation().predict(obj)
    assert result.support.tolist() == pytest.approx([2 / 3])
    assert result.agreement.tolist() == [1.0]
    assert result.confidence.tolist() == pytest.approx([2 / 3])


def test_one_of_three_workers_drawing_is_not_enough() -> None:
    obj = box_object(box_answer("a"), box_answer("b", ("car", CAR)), box_answer("c"))
    result = BoxConsolidation().fit([obj]).predict(obj)
    assert result.labels == [] and result.geometry.shape == (0, 4)


def test_no_answers_or_only_empty_answers_give_nothing() -> None:
    model = BoxConsolidation()
    assert model.predict(box_object()).labels == []
    assert model.predict(box_object(box_answer("a"), box_answer("b"))).labels == []


def test_a_wrong_class_worker_neither_adds_a_box_nor_blocks_the_right_one() -> None:
    obj = box_object(
        box_answer("a", ("car", CAR)), box_answer("b", ("car", shifted(CAR, 1))), box_answer("c", ("bus", CAR))
    )
    result = BoxConsolidation().predict(obj)
    assert result.labels == ["car"]
    # c's bus box is dropped as a bus but still drew the car: the car borrows it at half weight,
    # x edges (10 + 11 + ½ × 10) / 2.5 = 10.4 (all within Huber's threshold: a weighted mean)
    assert result.geometry.tolist() == [shifted(CAR, 0.4)]
    assert result.support.tolist() == pytest.approx([2 / 3])
    assert result.workers == [("a", "b")]
    without = BoxConsolidation(borrow_weight=0.0).predict(obj)
    assert without.geometry.tolist() == [shifted(CAR, 0.5)]


def test_a_wrong_class_box_below_the_borrow_overlap_is_not_borrowed() -> None:
    # IoU of the bus box with the fused car: 31.5 × 30 / (2 × 1200 − 945) ≈ 0.65 < 0.7
    obj = box_object(
        box_answer("a", ("car", CAR)),
        box_answer("b", ("car", shifted(CAR, 1))),
        box_answer("c", ("bus", shifted(CAR, 9))),
    )
    result = BoxConsolidation().predict(obj)
    assert result.labels == ["car"]
    assert result.geometry.tolist() == [shifted(CAR, 0.5)]


def test_a_kept_box_of_another_label_is_never_borrowed() -> None:
    # a and b both drew a person where c drew its car: the person is kept, so it lends nothing
    obj = box_object(
        box_answer("a", ("car", CAR), ("person", shifted(CAR, 2))),
        box_answer("b", ("car", shifted(CAR, 1)), ("person", shifted(CAR, 2))),
        box_answer("c", ("car", shifted(CAR, 4))),
    )
    result = BoxConsolidation().predict(obj)
    assert result.labels == ["car", "person"]
    assert result.geometry.tolist() == [shifted(CAR, 5 / 3), shifted(CAR, 2)]


def test_each_borrowed_box_goes_to_one_cluster_and_one_per_worker() -> None:
    # c drew two bus boxes, on the car and on the sign; each lends to its own object, at half weight
    sign = [60.0, 60.0, 90.0, 90.0]
    obj = box_object(
        box_answer("a", ("car", CAR), ("sign", sign)),
        box_answer("b", ("car", shifted(CAR, 1)), ("sign", shifted(sign, 1))),
        box_answer("c", ("bus", shifted(CAR, 1)), ("bus", shifted(sign, 6))),
    )
    result = BoxConsolidation().predict(obj)
    assert result.labels == ["car", "sign"]
    # car: (10 + 11 + ½ × 11) / 2.5 = 10.6; sign: IoU 24.5 × 30 / (1800 − 735) ≈ 0.69 < 0.7 → the mean
    assert result.geometry.tolist() == [shifted(CAR, 0.6), shifted(sign, 0.5)]


def test_two_workers_keep_what_either_drew() -> None:
    obj = box_object(
        box_answer("a", ("car", CAR), ("car", [60, 60, 80, 80])),
        box_answer("b", ("car", shifted(CAR, 2)), ("sign", [0, 80, 5, 90])),
    )
    result = BoxConsolidation().fit([obj]).predict(obj)
    assert result.labels == ["car", "car", "sign"]
    assert result.geometry.tolist() == [shifted(CAR, 1), [60, 60, 80, 80], [0, 80, 5, 90]]
    assert result.support.tolist() == [1.0, 0.5, 0.5]


def test_a_second_box_two_of_three_workers_drew_on_one_object_is_suppressed() -> None:
    second = [14.0, 12.0, 56.0, 44.0]  # IoU about 0.62 with CAR
    obj = box_object(
        box_answer("a", ("car", CAR)),
        box_answer("b", ("car", shifted(CAR, 1)), ("car", second)),
        box_answer("c", ("car", shifted(CAR, 2)), ("car", shifted(second, 1))),
    )
    result = BoxConsolidation().predict(obj)
    assert result.labels == ["car"]
    assert result.geometry.tolist() == [shifted(CAR, 1)]


def test_overlapping_objects_everyone_drew_both_stay() -> None:
    second = [14.0, 12.0, 56.0, 44.0]
    answers = [box_answer(w, ("car", shifted(CAR, k)), ("car", shifted(second, k))) for k, w in enumerate("abc")]
    result = BoxConsolidation().predict(box_object(*answers))
    assert result.labels == ["car", "car"]
    assert result.geometry.tolist() == [shifted(CAR, 1), shifted(second, 1)]


def careful_crowd(n_objects: int, inventor: str | None = None, misser: str | None = None) -> list[ObjectItems]:
    """Objects of three workers, each object with two cars every worker draws; ``inventor`` adds a
    box nobody else draws on every object; ``misser`` skips one car on the first object only."""
    objects = []
    for k in range(n_objects):
        answers = []
        for worker in ("a", "b", "c"):
            items: list[tuple[str, list[float]]] = [("car", shifted(CAR, k % 5)), ("car", [60.0, 60 - k % 3, 90, 90])]
            if worker == misser and k == 0:
                items = items[:1]
            if worker == inventor:
                items.append(("car", [0, 80, 8, 99]))
            answers.append(box_answer(worker, *items))
        objects.append(box_object(*answers))
    return objects


def test_the_batch_shows_an_inventor_and_its_lone_box_is_dropped_in_a_two_worker_object() -> None:
    pair = box_object(box_answer("a", ("car", CAR)), box_answer("c", ("car", CAR), ("car", [0, 80, 8, 99])))
    model = BoxConsolidation().fit([*careful_crowd(10, inventor="c"), pair])
    assert model.worker_weights_["a"] == 1.0 and model.worker_weights_["b"] == 1.0
    # c: 20 of 30 items matched in the crowd, 1 of 2 in the pair, and its lone box there counts as
    # confirmed with the posterior q that it is real (EM); a left out nothing the others agreed on
    # but that lone box (a miss with weight q): its miss rate stays at the noise floor
    q = model.lone_item_is_real("c", "a")
    assert model.miss_["a"] == 0.05
    assert model.invention_["c"] == pytest.approx((11 - q + 4 * 0.05) / (21 + q + 4))
    assert q == pytest.approx(0.05 / (0.05 + model.invention_["c"]))
    assert q == pytest.approx(0.1016, abs=1e-4)  # the root of q = 0.05 / (0.05 + (11.2 - q) / (25 + q))
    pooled = (20 + 20 + 21 + 1 + q) / (20 + 20 + 32 + 1)
    assert model.precision_["c"] == pytest.approx((21 + q + 4 * pooled) / (32 + 4))
    assert model.worker_weights_["c"] < 0.9
    result = model.predict(pair)
    assert result.labels == ["car"]
    assert result.geometry.tolist() == [CAR]


def rates_model(**evidence: Sequence[float]) -> BoxConsolidation:
    """A model fitted on prior evidence only (EVIDENCE_FIELDS order: items, confirmed, chances, hits, …)."""
    return BoxConsolidation().fit([], prior=evidence)


# "c" invents: 80 of 100 items confirmed, 20 invented; "a" careful; "m" misses (loses) 40 of 100 agreed items
INVENTOR = [100, 80, 100, 100, 0, 0, 20, 0]
CAREFUL = [100, 100, 100, 100, 0, 0, 0, 0]
MISSER = [60, 60, 100, 60, 0, 0, 0, 40]


def test_an_inventors_lone_box_stays_when_its_partner_is_a_known_misser() -> None:
    model = rates_model(c=INVENTOR, a=CAREFUL, m=MISSER)
    invention = (20 + 0.2) / (80 + 4)  # unconfirmed per confirmed item, 4 pseudo-items at the floor 0.05
    miss = (40 + 0.2) / (100 + 4)
    assert model.invention_ == pytest.approx({"c": invention, "a": 0.05, "m": 0.05})
    assert model.miss_ == pytest.approx({"c": 0.05, "a": 0.05, "m": miss})
    lone = ("car", [0.0, 80.0, 8.0, 99.0])
    with_careful = box_object(box_answer("a", ("car", CAR)), box_answer("c", ("car", CAR), lone))
    with_misser = box_object(box_answer("m", ("car", CAR)), box_answer("c", ("car", CAR), lone))
    assert model.lone_item_is_real("c", "a") == pytest.approx(0.05 / (0.05 + invention))  # 0.17
    assert model.lone_item_is_real("c", "m") == pytest.approx(miss / (miss + invention))  # 0.62
    assert model.predict(with_careful).geometry.tolist() == [CAR]
    assert model.predict(with_misser).geometry.tolist() == [CAR, lone[1]]
    assert model.predict(with_misser).support.tolist() == pytest.approx(
        [1.0, model.worker_weights_["c"] / (1 + model.worker_weights_["c"])]
    )


def test_careful_workers_keep_each_others_lone_boxes_whatever_their_small_differences() -> None:
    # 1 and 3 items of 100 unconfirmed, 1 and 2 misses: all below the noise floor, so the posterior is ½
    model = rates_model(a=[100, 99, 100, 99, 0, 0, 1, 1], b=[100, 97, 100, 98, 0, 0, 3, 2])
    assert model.invention_ == {"a": 0.05, "b": 0.05} and model.miss_ == {"a": 0.05, "b": 0.05}
    obj = box_object(box_answer("a", ("car", CAR)), box_answer("b", ("sign", [70, 0, 80, 8])))
    assert model.predict(obj).labels == ["car", "sign"]


def test_one_of_three_drawing_stays_only_when_both_others_are_known_missers() -> None:
    model = rates_model(a=CAREFUL, b=CAREFUL, m=MISSER, n=MISSER)
    miss = (40 + 0.2) / (100 + 4)
    assert model.lone_item_is_real("a", "m", "n") == pytest.approx(miss**2 / (miss**2 + 0.05))  # 0.75
    assert model.lone_item_is_real("a", "b", "m") == pytest.approx(0.05 * miss / (0.05 * miss + 0.05))  # 0.28
    alone = box_answer("a", ("car", CAR))
    assert model.predict(box_object(alone, box_answer("m"), box_answer("n"))).labels == ["car"]
    assert model.predict(box_object(alone, box_answer("b"), box_answer("m"))).labels == []


def test_the_careful_partner_of_an_inventor_keeps_its_lone_box() -> None:
    pair = box_object(box_answer("a", ("car", CAR), ("sign", [70, 0, 80, 8])), box_answer("c", ("car", CAR)))
    model = BoxConsolidation().fit([*careful_crowd(10, inventor="c"), pair])
    result = model.predict(pair)
    assert result.labels == ["car", "sign"]


def test_a_careful_worker_who_missed_once_keeps_full_weight() -> None:
    pair = box_object(box_answer("a", ("car", CAR)), box_answer("b", ("car", CAR), ("sign", [70, 0, 80, 8])))
    model = BoxConsolidation().fit([*careful_crowd(10, misser="b"), pair])
    assert model.recall_["b"] < model.recall_["a"]
    assert model.worker_weights_ == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert model.predict(pair).labels == ["car", "sign"]


def test_workers_unknown_to_fit_weigh_one() -> None:
    model = BoxConsolidation().fit(careful_crowd(3, inventor="c"))
    obj = box_object(box_answer("new", ("car", CAR)), box_answer("other", ("car", [60, 60, 80, 80])))
    assert model.predict(obj).support.tolist() == [0.5, 0.5]


def test_the_result_does_not_depend_on_the_order_of_the_answers() -> None:
    answers = [
        box_answer("a", ("car", CAR), ("car", [60, 60, 80, 80])),
        box_answer("b", ("car", shifted(CAR, 2)), ("car", [61, 60, 81, 80])),
        box_answer("c", ("car", shifted(CAR, 1, 1))),
        box_answer("d", ("bus", CAR), ("car", [62, 61, 80, 80])),
    ]
    reference = BoxConsolidation().predict(box_object(*answers))
    for order in ([3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]):
        result = BoxConsolidation().predict(box_object(*[answers[i] for i in order]))
        assert result.labels == reference.labels
        assert result.geometry.tolist() == reference.geometry.tolist()
        assert [sorted(w) for w in result.workers] == [sorted(w) for w in reference.workers]


def test_keypoints_match_by_distance_and_fuse_by_weighted_median() -> None:
    def points(worker: str, *items: tuple[str, float, float]) -> WorkerItems:
        return WorkerItems(worker, tuple(i[0] for i in items), np.array([i[1:] for i in items], dtype=float))

    # image diagonal 500 → σ = 10 px; an eye 100 px away is another point
    obj = ObjectItems(
        (
            points("a", ("eye", 100, 100), ("nose", 120, 130)),
            points("b", ("eye", 104, 101), ("nose", 121, 128)),
            points("c", ("eye", 101, 140), ("eye", 200, 100), ("nose", 150, 200)),
        ),
        width=300,
        height=400,
    )
    result = KeypointConsolidation().predict(obj)
    assert result.labels == ["eye", "nose"]
    assert result.geometry.tolist() == [[102.0, 100.5], [120.5, 129.0]]
    assert [sorted(w) for w in result.workers] == [["a", "b"], ["a", "b"]]


def test_instances_vote_pixels_inside_matched_masks() -> None:
    a, _ = rasterise_polygons([[(0, 0), (5, 0), (5, 5), (0, 5)], [(10, 0), (14, 0), (14, 4)]], 16, 8)
    b, _ = rasterise_polygons([[(1, 0), (5, 0), (5, 5), (1, 5)]], 16, 8)
    c, _ = rasterise_polygons([[(0, 1), (5, 1), (5, 5), (0, 5)]], 16, 8)
    obj = ObjectItems(
        (
            WorkerItems("a", ("person", "person"), a),
            WorkerItems("b", ("person",), b),
            WorkerItems("c", ("person",), c),
        ),
        width=16,
        height=8,
    )
    result = InstanceConsolidation().predict(obj)
    expected = np.zeros((8, 16), dtype=np.int32)
    expected[0:6, 0:6] = 1  # each pixel of the square drawn by at least two of three
    expected[0, 0] = 0  # only a drew the top-left pixel (b starts at x=1, c at y=1)
    assert result.labels == ["person"]
    assert result.geometry.tolist() == expected.tolist()
    assert result.support.tolist() == [1.0]


def streetscenes() -> dict[str, ObjectItems]:
    objects = {}
    for line in (SHARED / "data/streetscenes-custom-job-output.manifest").read_text().splitlines():
        record = json.loads(line)
        answers = []
        for worker in record["gt-label"]["annotationsFromAllWorkers"]:
            answer = json.loads(worker["annotationData"]["content"])["annotatedResult"]
            png = base64.b64decode(answer["labeledImage"]["pngImageData"])
            image = Image.open(io.BytesIO(png))
            rgba = np.asarray(image.convert("RGBA"))
            colours = [hex_to_rgb(i["color"]) for i in answer["instances"]]
            instance_map = instance_map_from_colours(rgba[..., :3], colours, alpha=rgba[..., 3])
            # the tool's PNGs are palette images: the per-entry path gives the same map
            assert image.mode == "P"
            palette = np.array(image.getpalette(), dtype=np.int64).reshape(-1, 3)
            entry_alpha = np.full(len(palette), 255)
            transparency = image.info["transparency"]  # one index (int) or per-entry alpha (bytes)
            if isinstance(transparency, int):
                entry_alpha[transparency] = 0
            else:
                entry_alpha[: len(transparency)] = list(transparency)
            by_entry = instance_map_from_palette(np.asarray(image), palette, colours, palette_alpha=entry_alpha)
            assert by_entry.tolist() == instance_map.tolist()
            labels = tuple(i["label"] for i in answer["instances"])
            answers.append(WorkerItems(worker["workerId"], labels, instance_map))
        size = answer["inputImageProperties"]
        name = record["source-ref"].rsplit("/", 1)[-1].removesuffix(".JPG")
        objects[name] = ObjectItems(tuple(answers), size["width"], size["height"])
    return objects


def test_real_streetscenes_two_of_three_drew_two_people_and_one_of_three_drew_one() -> None:
    objects = streetscenes()
    model = InstanceConsolidation().fit(list(objects.values()))
    people = model.predict(objects["SSDB00016"])
    assert people.labels == ["Person", "Person"]
    assert people.geometry.shape == (960, 1280)
    assert sorted(np.unique(people.geometry).tolist()) == [0, 1, 2]
    assert [len(w) for w in people.workers] == [2, 2]
    assert people.support.tolist() == pytest.approx([2 / 3, 2 / 3])
    assert model.predict(objects["SSDB00010"]).labels == []
    assert not model.predict(objects["SSDB00010"]).geometry.any()


def test_the_fit_of_real_instances_reads_summaries_without_their_maps() -> None:
    objects = streetscenes()
    model = InstanceConsolidation()
    summaries = [model.summary(obj) for obj in objects.values()]
    for summary, obj in zip(summaries, objects.values(), strict=True):
        assert [a.labels for a in summary.answers] == [a.labels for a in obj.answers]
        assert all(a.geometry.size == 0 for a in summary.answers)  # no 1280x960 map kept per answer
        assert summary.similarity is not None
        n = sum(len(a.labels) for a in obj.answers)
        assert summary.similarity.shape == (n, n)
    from_summaries = InstanceConsolidation().fit(summaries)
    from_objects = InstanceConsolidation().fit(list(objects.values()))
    assert from_summaries.worker_statistics_ == from_objects.worker_statistics_
    assert from_summaries.worker_weights_ == from_objects.worker_weights_
    people = from_summaries.predict(objects["SSDB00016"])
    assert people.labels == ["Person", "Person"]
    assert people.geometry.tolist() == from_objects.predict(objects["SSDB00016"]).geometry.tolist()
    with pytest.raises(ValueError, match="cannot be predicted"):
        from_summaries.predict(summaries[0])


@pytest.mark.parametrize(
    ("model", "geometry", "message"),
    [
        (BoxConsolidation(), np.array([[0.0, 0.0, np.nan, 5.0]]), "NaN or infinite"),
        (BoxConsolidation(), np.array([[0.0, 0.0, 5.0]]), "geometry of shape"),
        (KeypointConsolidation(), np.array([[1.0, 2.0], [3.0, 4.0]]), "1 labels but"),
        (InstanceConsolidation(), np.zeros((4, 4), dtype=np.uint8), "instance map is"),
    ],
)
def test_unreadable_geometry_is_refused_naming_the_worker(
    model: ItemConsolidation[object], geometry: np.ndarray, message: str
) -> None:
    obj = ObjectItems((WorkerItems("w9", ("car",), geometry),), width=8, height=6)
    with pytest.raises(ValueError, match=f"worker w9: .*{message}"):
        model.predict(obj)


def test_a_class_dispute_keeps_the_object_and_the_heavier_label() -> None:
    # a says car, w says bus for the same box, b drew nothing: two of three drew something there, so
    # the object is present (weighted share 2/3); the label is the members' share among those two
    obj = box_object(box_answer("a", ("car", CAR)), box_answer("b"), box_answer("w", ("bus", CAR)))
    equal = BoxConsolidation().predict(obj)
    assert equal.labels == ["bus", "car"]  # a tie between the labels stays, as in the keep rule
    assert equal.support.tolist() == pytest.approx([1 / 3, 1 / 3])
    # the batch shows w gives the wrong class: 60 of its 100 items unconfirmed, though drawn where
    # others drew (no inventions); its keep weight falls, and the car wins the vote
    model = rates_model(a=CAREFUL, b=CAREFUL, w=[100, 40, 100, 100, 0, 0, 0, 0])
    assert model.worker_weights_["w"] < 1.0
    assert model.invention_["w"] == 0.05
    result = model.predict(obj)
    assert result.labels == ["car"]
    assert result.geometry.tolist() == [CAR]
    assert result.support.tolist() == pytest.approx([1 / (2 + model.worker_weights_["w"])])
    assert BoxConsolidation(class_vote=False).predict(obj).labels == []


def test_two_answer_objects_alone_show_an_inventor_through_em() -> None:
    # a and b draw the same two cars four times; a and c the same car four times, c adding a ghost each
    # time. Nothing but two-answer objects: whether the ghosts are c's inventions or a's misses is the
    # EM's fixed point, and a's record (12 agreed items, all drawn) makes them inventions
    ghost = ("car", [0.0, 80.0, 8.0, 99.0])
    second = ("car", [60.0, 60.0, 90.0, 90.0])
    objects = [box_object(box_answer("a", ("car", CAR), second), box_answer("b", ("car", CAR), second))] * 4
    objects += [box_object(box_answer("a", ("car", CAR)), box_answer("c", ("car", CAR), ghost))] * 4
    model = BoxConsolidation().fit(objects)
    q = model.lone_item_is_real("c", "a")
    # a: 12 agreed items drawn, 4 q lost; c: 4 + 4 q confirmed, 4 (1 - q) invented (4 pseudo-items at 0.05)
    assert model.miss_["a"] == pytest.approx(max(0.05, (4 * q + 0.2) / (12 + 4 * q + 4)))
    assert model.invention_["c"] == pytest.approx((4 * (1 - q) + 0.2) / (4 + 4 * q + 4))
    assert q == pytest.approx(model.miss_["a"] / (model.miss_["a"] + model.invention_["c"]))
    assert q < 0.5
    assert model.worker_statistics_["c"] == pytest.approx([8, 4 + 4 * q, 4, 4, 4, 4, 4 * (1 - q), 0])
    assert model.predict(objects[-1]).labels == ["car"]


def _pair_batch(n_objects: int, *answers: list[float]) -> list[ObjectItems]:
    """``n_objects`` copies of one car drawn by workers a, b, c … (one box each)."""
    return [
        ObjectItems(
            tuple(WorkerItems("abc"[k], ("car",), np.array([box], dtype=float)) for k, box in enumerate(answers)),
            width=300,
            height=200,
        )
        for _ in range(n_objects)
    ]


def test_fit_pools_the_edge_scale_over_the_batch() -> None:
    # ten objects, two workers 2 pixels apart on every edge of a 100-pixel box: 40 differences of 0.02
    model = BoxConsolidation().fit(_pair_batch(10, [0, 0, 100, 100], [2, 2, 102, 102]))
    assert model.edge_scale_ == pytest.approx(1.4826 * 0.02 / np.sqrt(2.0))
    assert model.edge_contamination_ == 0.0  # no difference beyond 3 √2 scales
    assert model.edge_k_ == 3.0
    # nine objects give 36 differences, fewer than min_scale_pairs (40): each cluster's own MAD
    small = BoxConsolidation().fit(_pair_batch(9, [0, 0, 100, 100], [2, 2, 102, 102]))
    assert small.edge_scale_ is None and small.edge_k_ is None
    off = BoxConsolidation(pooled_scale=False).fit(_pair_batch(10, [0, 0, 100, 100], [2, 2, 102, 102]))
    assert off.edge_scale_ is None and off.edge_k_ is None


def test_fit_reads_gross_edge_errors_from_the_tail_and_lowers_hubers_k() -> None:
    # worker c drags the right edge 50 pixels out on every object; per object 12 differences over the
    # cluster's median box (width 102, height 100): 3 of 0, 3 of 2/102, 4 of 2/100, and 50/102, 48/102
    model = BoxConsolidation().fit(_pair_batch(4, [0, 0, 100, 100], [2, 2, 102, 102], [0, 0, 150, 100]))
    assert model.edge_scale_ == pytest.approx(1.4826 * (2 / 102 + 2 / 100) / 2 / np.sqrt(2.0))
    contamination = (2 / 12 - 0.0026998) / 2  # two gross differences in twelve, less a normal tail, halved
    assert model.edge_contamination_ == pytest.approx(contamination)
    assert model.edge_k_ == pytest.approx(huber_k(contamination))
    assert model.edge_k_ == pytest.approx(1.216, abs=1e-3)  # between Huber's 1.140 (ε 0.1) and 1.399 (0.05)
    # the fused right edge: near a and b's (100, 102), not their mean with c's (117.3)
    fused = model.predict(_pair_batch(1, [0, 0, 100, 100], [2, 2, 102, 102], [0, 0, 150, 100])[0]).geometry
    assert fused.shape == (1, 4) and 101.0 < fused[0, 2] < 104.0


def counting(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Replace ``owner.name`` by a wrapper that counts its calls (one entry per call)."""
    calls: list[int] = []
    real = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def _same(a: Consolidated, b: Consolidated) -> bool:
    return (
        a.labels == b.labels
        and a.geometry.tolist() == b.geometry.tolist()
        and a.confidence.tolist() == b.confidence.tolist()
        and a.support.tolist() == b.support.tolist()
        and a.workers == b.workers
        and a.members == b.members
    )


@pytest.mark.parametrize(
    ("model", "make", "crowd"),
    [
        (BoxConsolidation(), box_batch, "careful-3"),
        (BoxConsolidation(), box_batch, "mixed-1to5"),
        (KeypointConsolidation(), keypoint_batch, "duplicates-3"),
    ],
)
def test_predict_starts_from_the_fits_matching_and_decides_as_a_fresh_match_does(
    model: ItemConsolidation[None], make: Any, crowd: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = [s.items for s in make(np.random.default_rng(21), CROWDS[crowd], 40)]
    model.fit(objects)
    multi = [o for o in objects if len(o.answers) >= 2]
    assert set(model.fitted_) == {id(o) for o in multi}
    # an equal object that is not the fitted one is matched afresh: the reference
    fresh = [model.predict(ObjectItems(o.answers, o.width, o.height)) for o in objects]
    matched = counting(monkeypatch, geometric, "match_items")
    measured = counting(monkeypatch, type(model), "_item_similarity")
    reused = [model.predict(o) for o in objects]
    assert all(_same(a, b) for a, b in zip(reused, fresh, strict=True))
    # the fitted objects' similarities are never computed again; their clusters only when the fitted
    # weights change the order the answers are matched in
    assert len(measured) == len(objects) - len(multi)
    reordered = [
        o
        for o in multi
        if matching_orders(
            [a.labels for a in o.answers], keys=[f"{a.worker}\x00{i:06d}" for i, a in enumerate(o.answers)]
        )
        != matching_orders(
            [a.labels for a in o.answers],
            keys=[f"{a.worker}\x00{i:06d}" for i, a in enumerate(o.answers)],
            weights=[model.worker_weights_.get(a.worker, 1.0) for a in o.answers],
        )
    ]
    assert len(matched) == len(objects) - len(multi) + len(reordered)
    if crowd == "careful-3":
        assert reordered == [] and matched == []  # every careful worker weighs 1: nothing matched twice
    else:
        assert 0 < len(reordered) < len(multi)


def test_instances_predict_from_the_fitted_summary_and_its_table() -> None:
    objects = streetscenes()
    model = InstanceConsolidation()
    tables = {name: model.instance_table(obj) for name, obj in objects.items()}
    summaries = {name: model.summary(obj, tables[name]) for name, obj in objects.items()}
    model.fit(list(summaries.values()))
    assert set(model.fitted_) == {id(s) for s in summaries.values()}
    for name, summary in summaries.items():
        assert _same(model.predict(summary, tables[name]), model.predict(objects[name]))


def test_a_worker_who_drew_nothing_has_no_precision_and_others_no_recall_without_a_chance() -> None:
    # GIVEN four objects where a and b draw the same car and e draws nothing
    objects = [
        box_object(
            box_answer("a", ("car", shifted(CAR, k))), box_answer("b", ("car", shifted(CAR, k + 1))), box_answer("e")
        )
        for k in range(4)
    ]
    model = BoxConsolidation().fit(objects)
    # THEN e has no items, so no precision of its own; it weighs at the pooled precision (here 1)
    assert model.precision_ == {"a": 1.0, "b": 1.0}
    assert model.worker_weights_ == {"a": 1.0, "b": 1.0, "e": 1.0}
    # e had four chances (a car both others drew) and took none; for a and b, a car two of three drew is
    # no chance (only one of their two others drew it): no recall, not 0
    assert model.recall_ == {"e": 0.0}
    assert model.worker_statistics_["e"] == [0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 4.0]
    # with the evidence of an earlier batch where e drew and was matched, e has a precision again
    later = BoxConsolidation().fit(objects, {"e": [10, 9, 10, 9, 9, 9, 0, 1]})
    assert later.precision_["e"] == pytest.approx((9 + 4 * (8 + 9) / (8 + 10)) / (10 + 4))
