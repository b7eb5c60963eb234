"""Simulated Label Studio exports with gold (``ground_truth``) annotations, for the geometric and pixel
kinds: a varied crowd (careful and sloppy annotators, each with their own habits) and one bad
annotator, ``bo``, who answers every task with shapes of his own that agree with nobody. A reviewer's
annotation, the truth itself and marked ``ground_truth``, is on a share of the tasks.

Test helpers only: each ``*_export`` returns the export (a list of Label Studio tasks), the truth
per task and the gold tasks.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from tally.aggregation.instance_fusion import rasterise_polygons
from tally.importers.gold import agreement
from tally.importers.rle import mask_to_brush_rle
from tally.tools.cli import main

from .segmentation import WorkerStyle, random_scene, worker_view

__all__ = [
    "LINE_CLASSES",
    "MASK_CLASSES",
    "SHAPE_CLASSES",
    "ShapeWorker",
    "brush_export",
    "gold_alone",
    "instance_f1",
    "line_f1",
    "mean_iou",
    "non_gold_quality",
    "polyline_batch",
    "shape_export",
    "shape_form_export",
    "span_export",
    "value_export",
    "value_form_export",
    "value_quality",
    "vector_export",
]

MASK_CLASSES = ["lesion", "organ"]
_MASK_SIZE = (48, 64)  # height, width


def _tasks(
    n: int,
    n_gold: int,
    rng: np.random.Generator,
    pool: list[tuple[str, Any]],
    bad: tuple[str, Any],
    answer: Callable[[int, Any], list[dict[str, Any]]],
    pair_share: float,
) -> tuple[list[dict[str, Any]], set[int]]:
    """Tasks whose annotations are one or two of ``pool`` (in turn), ``bad`` on every task and, on
    ``n_gold`` tasks, the reviewer's gold; ``answer(t, who)`` is an annotation's ``result`` list
    (``who`` None: the truth)."""
    gold = {int(t) for t in rng.choice(n, size=n_gold, replace=False)}
    tasks = []
    for t in range(n):
        chosen = [pool[t % len(pool)]]
        if rng.random() < pair_share:
            chosen.append(pool[(t + 1 + int(rng.integers(len(pool) - 1))) % len(pool)])
        answers = [(name, style, False) for name, style in [*chosen, bad]]
        if t in gold:
            answers.insert(0, ("rev", None, True))
        annotations = [
            {"id": t * 10 + k, "completed_by": {"id": k + 1, "email": name}, "ground_truth": is_gold,
             "was_cancelled": False, "result": answer(t, style)}
            for k, (name, style, is_gold) in enumerate(answers)
        ]  # fmt: skip
        tasks.append({"id": t + 1, "data": {"image": f"https://example.com/{t + 1}.jpg"}, "annotations": annotations})
    return tasks, gold


def brush_export(
    seed: int, n: int = 40, n_gold: int = 8, pair_share: float = 0.0
) -> tuple[list[dict[str, Any]], list[Any], set[int]]:
    """Brush masks (``brushlabels``) of two classes on 64 x 48 images."""
    rng = np.random.default_rng(seed)
    height, width = _MASK_SIZE
    pool: list[tuple[str, Any]] = [
        (f"w{i}", WorkerStyle(jitter=float(rng.uniform(0.5, 1.5)), grow=float(rng.uniform(-1.5, 1.5)),
                              drop_rate=float(rng.uniform(0.0, 0.15)), wrong_class=float(rng.uniform(0.0, 0.1))))
        for i in range(4)
    ]  # fmt: skip
    bad = ("bo", WorkerStyle(spam=True))
    scenes = [random_scene(rng, height, width, len(MASK_CLASSES), n_shapes=4) for _ in range(n)]
    truth = [worker_view(s, WorkerStyle(jitter=0.0), rng, height, width, len(MASK_CLASSES)) for s in scenes]

    def answer(t: int, style: WorkerStyle | None) -> list[dict[str, Any]]:
        classes = truth[t] if style is None else worker_view(scenes[t], style, rng, height, width, len(MASK_CLASSES))
        return [
            {"id": f"r{t}-{c}", "type": "brushlabels", "from_name": "tag", "to_name": "image",
             "original_width": width, "original_height": height, "image_rotation": 0,
             "value": {"format": "rle", "rle": mask_to_brush_rle(classes == c), "brushlabels": [name]}}
            for c, name in enumerate(MASK_CLASSES, start=1)
            if (classes == c).any()
        ]  # fmt: skip

    tasks, gold = _tasks(n, n_gold, rng, pool, bad, answer, pair_share)
    return tasks, truth, gold


def mean_iou(found: npt.NDArray[np.integer[Any]], truth: npt.NDArray[np.integer[Any]], n_classes: int) -> float:
    """The mean IoU over the classes present in either map (background included); 1.0 when both are empty."""
    ious = []
    for c in range(n_classes + 1):
        a, b = found == c, truth == c
        union = int(np.count_nonzero(a | b))
        if union:
            ious.append(int(np.count_nonzero(a & b)) / union)
    return float(np.mean(ious)) if ious else 1.0


SHAPE_CLASSES = ["car", "person"]
_SHAPE_SIZE = (200, 150)  # width, height


def _truth_boxes(rng: np.random.Generator) -> list[tuple[int, float, float, float, float]]:
    """2–4 boxes ``(class, x0, y0, x1, y1)`` of 20–60 px a side, apart enough that none hides another."""
    width, height = _SHAPE_SIZE
    boxes: list[tuple[int, float, float, float, float]] = []
    while len(boxes) < 2 or (len(boxes) < 4 and rng.random() < 0.6):
        w, h = rng.uniform(20, 60, size=2)
        x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
        box = (int(rng.integers(len(SHAPE_CLASSES))), float(x0), float(y0), float(x0 + w), float(y0 + h))
        if all(_overlap(box, other) < 0.1 for other in boxes):
            boxes.append(box)
    return boxes


def _overlap(a: tuple[int, float, float, float, float], b: tuple[int, float, float, float, float]) -> float:
    w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    h = max(0.0, min(a[4], b[4]) - max(a[2], b[2]))
    return w * h / min((a[3] - a[1]) * (a[4] - a[2]), (b[3] - b[1]) * (b[4] - b[2]))


@dataclass(frozen=True)
class ShapeWorker:
    """How one simulated annotator draws a scene's boxes (pixels)."""

    noise: float = 2.0  # s.d. of every edge, vertex or point
    miss: float = 0.0  # chance of leaving a shape out
    wrong_class: float = 0.0  # chance of giving a shape the other class
    spam: bool = False  # shapes of his own anywhere, nothing of the scene


def _drawn(
    truth: list[tuple[int, float, float, float, float]], worker: ShapeWorker | None, rng: np.random.Generator
) -> list[tuple[int, npt.NDArray[np.float64]]]:
    """What the worker draws: per shape its class and its box's edges ``x0, y0, x1, y1`` (the truth's when
    ``worker`` is None), the noise added later by the kind."""
    if worker is None:
        return [(c, np.array(b)) for c, *b in truth]
    if worker.spam:
        return [(c, np.array(b)) for c, *b in _truth_boxes(rng)]
    out = []
    for c, *box in truth:
        if rng.random() < worker.miss:
            continue
        if rng.random() < worker.wrong_class:
            c = 1 - c
        out.append((c, np.array(box)))
    return out


def _shape_crowd(rng: np.random.Generator, size: int) -> tuple[list[tuple[str, Any]], tuple[str, Any]]:
    pool: list[tuple[str, Any]] = [
        (f"w{i}", ShapeWorker(noise=float(rng.uniform(1.0, 4.0)), miss=float(rng.uniform(0.0, 0.15)),
                              wrong_class=float(rng.uniform(0.0, 0.1))))
        for i in range(size)
    ]  # fmt: skip
    return pool, ("bo", ShapeWorker(spam=True))


def shape_export(
    kind: str, seed: int, n: int = 40, n_gold: int = 8, pair_share: float = 0.0, pool_size: int = 4
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[int]]:
    """Boxes (``rectanglelabels``), polygons (``polygonlabels``: each box's outline, 8 vertices) or
    keypoints (``keypointlabels``: each box's centre) of two classes on 200 x 150 images; the truth per
    task as the Ground Truth crowd element's answer (what :func:`tally.importers.gold.agreement` reads)."""
    rng = np.random.default_rng(seed)
    width, height = _SHAPE_SIZE
    pool, bad = _shape_crowd(rng, pool_size)
    scenes = [_truth_boxes(rng) for _ in range(n)]

    def region(c: int, box: npt.NDArray[np.float64], noise: float, k: int, t: int) -> dict[str, Any]:
        x0, y0, x1, y1 = box
        value: dict[str, Any]
        if kind == "boxes":
            x0, y0, x1, y1 = np.sort(box.reshape(2, 2) + rng.normal(0, noise, (2, 2)), axis=0).ravel()
            value = {"x": 100 * x0 / width, "y": 100 * y0 / height, "width": 100 * (x1 - x0) / width,
                     "height": 100 * (y1 - y0) / height, "rotation": 0, "rectanglelabels": [SHAPE_CLASSES[c]]}  # fmt: skip
        elif kind == "keypoints":
            x, y = (x0 + x1) / 2 + rng.normal(0, noise), (y0 + y1) / 2 + rng.normal(0, noise)
            value = {"x": 100 * x / width, "y": 100 * y / height, "width": 0.5, "keypointlabels": [SHAPE_CLASSES[c]]}
        else:
            angle = np.linspace(0, 2 * np.pi, 8, endpoint=False)
            xs = (x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(angle) + rng.normal(0, noise, 8)
            ys = (y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(angle) + rng.normal(0, noise, 8)
            points = [[100 * float(x) / width, 100 * float(y) / height] for x, y in zip(xs, ys, strict=True)]
            value = {"closed": True, "points": points, "polygonlabels": [SHAPE_CLASSES[c]]}
        tag = {"boxes": "rectanglelabels", "keypoints": "keypointlabels", "polygons": "polygonlabels"}[kind]
        return {"id": f"r{t}-{k}", "type": tag, "from_name": "shape", "to_name": "image", "image_rotation": 0,
                "original_width": width, "original_height": height, "value": value}  # fmt: skip

    def answer(t: int, worker: ShapeWorker | None) -> list[dict[str, Any]]:
        noise = 0.0 if worker is None else worker.noise
        return [region(c, box, noise, k, t) for k, (c, box) in enumerate(_drawn(scenes[t], worker, rng))]

    tasks, gold = _tasks(n, n_gold, rng, pool, bad, answer, pair_share)
    truth = [_truth_element(kind, scene) for scene in scenes]
    return tasks, truth, gold


SPAN_CLASSES = ["Person", "Place"]


@dataclass(frozen=True)
class SpanWorker:
    """How one simulated annotator marks a text's entities (word spans)."""

    miss: float = 0.0  # chance of leaving an entity out
    wrong_class: float = 0.0  # chance of giving an entity the other class
    slip: float = 0.0  # chance of taking a word too many or too few at one end
    spam: bool = False  # spans of his own anywhere, nothing of the text's entities


def span_export(
    seed: int, n: int = 40, n_gold: int = 8, pair_share: float = 0.0, pool_size: int = 1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[int]]:
    """Text spans (``labels``) of two classes in texts of 24–40 made-up words, 2–4 entities of 1–3 words
    each; the truth per task as the Ground Truth crowd element's answer (``{"entities": [...]}``)."""
    rng = np.random.default_rng(seed)
    pool: list[tuple[str, Any]] = [
        (f"w{i}", SpanWorker(miss=float(rng.uniform(0.0, 0.15)), wrong_class=float(rng.uniform(0.0, 0.1)),
                             slip=float(rng.uniform(0.05, 0.25))))
        for i in range(pool_size)
    ]  # fmt: skip
    bad = ("bo", SpanWorker(spam=True))
    texts: list[tuple[str, list[tuple[int, int]]]] = []  # text, each word's (start, end)
    scenes: list[list[tuple[int, int, int]]] = []  # (class, first word, last word + 1)
    for _ in range(n):
        words = [
            "".join(rng.choice(list("abcdefghij"), size=int(rng.integers(2, 8))))
            for _ in range(int(rng.integers(24, 41)))
        ]
        offsets, at = [], 0
        for word in words:
            offsets.append((at, at + len(word)))
            at += len(word) + 1
        texts.append((" ".join(words), offsets))
        scenes.append(_spans_in(len(words), rng, int(rng.integers(2, 5))))

    def answer(t: int, worker: SpanWorker | None) -> list[dict[str, Any]]:
        text, offsets = texts[t]
        if worker is None:
            spans = scenes[t]
        elif worker.spam:
            spans = _spans_in(len(offsets), rng, int(rng.integers(2, 5)))
        else:
            spans = []
            for c, a, b in scenes[t]:
                if rng.random() < worker.miss:
                    continue
                if rng.random() < worker.wrong_class:
                    c = 1 - c
                if rng.random() < worker.slip:
                    if rng.random() < 0.5:
                        a = min(max(0, a + int(rng.choice([-1, 1]))), b - 1)
                    else:
                        b = max(min(len(offsets), b + int(rng.choice([-1, 1]))), a + 1)
                spans.append((c, a, b))
        return [
            {"id": f"s{t}-{k}", "type": "labels", "from_name": "ner", "to_name": "text",
             "value": {"start": offsets[a][0], "end": offsets[b - 1][1], "text": text[offsets[a][0]:offsets[b - 1][1]],
                       "labels": [SPAN_CLASSES[c]]}}
            for k, (c, a, b) in enumerate(spans)
        ]  # fmt: skip

    tasks, gold = _tasks(n, n_gold, rng, pool, bad, answer, pair_share)
    for task, (text, _) in zip(tasks, texts, strict=True):
        task["data"] = {"text": text}
    truth = [
        {"entities": [{"label": SPAN_CLASSES[c], "startOffset": offsets[a][0], "endOffset": offsets[b - 1][1]}
                      for c, a, b in scene]}
        for scene, (_, offsets) in zip(scenes, texts, strict=True)
    ]  # fmt: skip
    return tasks, truth, gold


def _spans_in(n_words: int, rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
    """``count`` entities ``(class, first word, last word + 1)`` of 1–3 words, none touching another."""
    spans: list[tuple[int, int, int]] = []
    while len(spans) < count:
        length = int(rng.integers(1, 4))
        a = int(rng.integers(0, n_words - length + 1))
        if all(a + length < s or a > e for _, s, e in spans):
            spans.append((int(rng.integers(len(SPAN_CLASSES))), a, a + length))
    return sorted(spans, key=lambda s: s[1])


def shape_form_export(
    kind: str, seed: int, n: int = 40, n_gold: int = 8, pair_share: float = 0.0, pool_size: int = 1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[int]]:
    """:func:`shape_export`'s tasks as a form: each annotation also answers a choice (``light``: ``day`` or
    ``night``; the reviewer the truth, a careful annotator right 9 times in 10, ``bo`` at random), so the
    import is a form of two fields and the shapes are its field ``shape``."""
    tasks, truth, gold = shape_export(kind, seed, n, n_gold, pair_share, pool_size)
    _answer_light(tasks, seed, at_random="bo")
    return tasks, truth, gold


def _answer_light(tasks: list[dict[str, Any]], seed: int, at_random: str | None = None) -> None:
    """Each annotation of ``tasks`` also answers a choice ``light`` (``day`` or ``night``, drawn per task):
    the reviewer the truth, ``at_random`` at random, the others right 9 times in 10."""
    rng = np.random.default_rng(seed + 1000)
    for task in tasks:
        light = int(rng.integers(2))
        for annotation in task["annotations"]:
            if annotation["ground_truth"]:
                chosen = light
            elif annotation["completed_by"]["email"] == at_random:
                chosen = int(rng.integers(2))
            else:
                chosen = light if rng.random() < 0.9 else 1 - light
            annotation["result"].append(
                {"id": f"c{task['id']}", "type": "choices", "from_name": "light", "to_name": "image",
                 "value": {"choices": [["day", "night"][chosen]]}}
            )  # fmt: skip


def _truth_element(kind: str, scene: list[tuple[int, float, float, float, float]]) -> dict[str, Any]:
    width, height = _SHAPE_SIZE
    size = {"width": width, "height": height}
    if kind == "boxes":
        boxes = [{"label": SHAPE_CLASSES[c], "left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0}
                 for c, x0, y0, x1, y1 in scene]  # fmt: skip
        return {"boundingBoxes": boxes, "inputImageProperties": size}
    if kind == "keypoints":
        points = [{"label": SHAPE_CLASSES[c], "x": (x0 + x1) / 2, "y": (y0 + y1) / 2} for c, x0, y0, x1, y1 in scene]
        return {"keypoints": points, "inputImageProperties": size}
    angle = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    polygons = [
        {"label": SHAPE_CLASSES[c], "vertices": [{"x": float((x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(a)),
                                                  "y": float((y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(a))} for a in angle]}
        for c, x0, y0, x1, y1 in scene
    ]  # fmt: skip
    return {"polygons": polygons, "inputImageProperties": size}


def instance_f1(instance_map: npt.NDArray[np.integer[Any]], labels: list[str], truth: dict[str, Any]) -> float:
    """F1 of a consolidated instance map (pixel value *k*: instance *k*, labelled ``labels[k - 1]``)
    against the truth's polygons, matched one to one at mask IoU 0.5 or more with the same label, the
    closest pair first; 1.0 when both are empty."""
    height, width = instance_map.shape
    truth_masks = [
        (p["label"], np.asarray(rasterise_polygons([[(v["x"], v["y"]) for v in p["vertices"]]], width, height)[0]) == 1)
        for p in truth["polygons"]
    ]
    pairs = []
    for k, label in enumerate(labels, start=1):
        mine = instance_map == k
        for j, (name, theirs) in enumerate(truth_masks):
            union = int(np.count_nonzero(mine | theirs))
            iou = int(np.count_nonzero(mine & theirs)) / union if union else 0.0
            if name == label and iou >= 0.5:
                pairs.append((iou, k, j))
    used_mine: set[int] = set()
    used_truth: set[int] = set()
    for _, k, j in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if k not in used_mine and j not in used_truth:
            used_mine.add(k)
            used_truth.add(j)
    total = len(labels) + len(truth_masks)
    return 1.0 if total == 0 else 2 * len(used_mine) / total


def gold_alone(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The export as the importer consolidated these kinds before issue 23's gold scoring: a gold task
    from its gold answer alone, the others' answers neither voted nor teaching anything."""
    alone: list[dict[str, Any]] = json.loads(json.dumps(tasks))
    for task in alone:
        if any(a["ground_truth"] for a in task["annotations"]):
            task["annotations"] = [a for a in task["annotations"] if a["ground_truth"]]
    return alone


def _imported_labels(tasks: list[dict[str, Any]], work: Path) -> list[dict[str, Any]]:
    """Each task's label from ``tally consolidate --from labelstudio`` on ``tasks`` (in the new directory
    ``work``)."""
    work.mkdir()
    (work / "export.json").write_text(json.dumps(tasks))
    out = work / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["consolidate", "--from", "labelstudio", str(work / "export.json"), "--out", str(out)])
    if code != 0:
        raise RuntimeError(f"tally consolidate exited with {code}")
    lines = (out / "results.jsonl").read_text().splitlines()
    return [json.loads(line)["consolidatedAnnotation"]["content"]["label"] for line in lines]


def non_gold_quality(
    kind: str, tasks: list[dict[str, Any]], truth: list[Any], gold: set[int], work: Path, field: str | None = None
) -> tuple[float, bool]:
    """``tally consolidate --from labelstudio`` on the export (in the new directory ``work``): the mean,
    over the non-gold tasks, of the consolidated answer's quality against the truth (masks: mean IoU;
    boxes and polygons: F1 at IoU 0.5, keypoints within 5 % of the diagonal, polylines within 5 px, the
    same label), and whether every gold task is its gold answer with confidence 1 (never outvoted).
    ``field``: the kind is that field of a form (:func:`shape_form_export`)."""
    labels = _imported_labels(tasks, work)
    if field is not None:  # a form's field: its value is the kind's label, its confidence beside it
        labels = [{**label["fields"][field]["value"], "confidence": label["fields"][field]["confidence"]}
                  for label in labels]  # fmt: skip
    scores = [_quality(kind, label, expected, work / "out") for label, expected in zip(labels, truth, strict=True)]
    held = all(scores[t] == 1.0 and labels[t]["confidence"] == 1.0 for t in gold)
    return statistics.mean(scores[t] for t in range(len(truth)) if t not in gold), held


def _quality(kind: str, label: dict[str, Any], expected: Any, out: Path) -> float:
    if kind == "semantic":
        with Image.open(out / label["mask-ref"]) as image:
            return mean_iou(np.asarray(image), expected, len(MASK_CLASSES))
    if kind == "entities":
        spans = {"entities": [{k: e[k] for k in ("label", "startOffset", "endOffset")}
                              for e in label["annotations"]["entities"]]}  # fmt: skip
        marked = agreement(kind, spans, expected)
        assert marked is not None
        return marked
    if kind == "polygons":
        with Image.open(out / label["instance-mask-ref"]) as image:
            return instance_f1(np.asarray(image), [i["label"] for i in label["instances"]], expected)
    if kind == "polylines":  # within 5 px, the same label (the core batches' figure)
        return line_f1(label["polylines"], expected, 5.0)
    if kind == "boxes":
        names = label["class-map"]
        keys = ("left", "top", "width", "height")
        found: dict[str, Any] = {"boundingBoxes": [{"label": names[str(a["class_id"])], **{k: a[k] for k in keys}}
                                   for a in label["annotations"]]}  # fmt: skip
    else:
        found = {"keypoints": label["keypoints"]}
    score = agreement(kind, found, expected)
    assert score is not None
    return score


LINE_CLASSES = ["lane", "kerb"]


def polyline_batch(
    seed: int, n: int = 40, n_gold: int = 8
) -> tuple[list[dict[str, Any]], list[list[tuple[str, npt.NDArray[np.float64]]]], set[int]]:
    """A Ground Truth batch of ``crowd-polyline`` answers with gold, as an importer hands it on: on 200 x
    150 images, 2–4 lines of 4 vertices across the image, one per horizontal band; a careful annotator
    (vertex noise, misses, wrong classes drawn per seed) and ``bo`` (lines of his own, across the bands)
    on every object, the reviewer's truth marked ``annotationData.gold`` on ``n_gold``. Returns the
    payload's objects, the truth per object and the gold objects."""
    rng = np.random.default_rng(seed)
    width, height = _SHAPE_SIZE
    careful = ShapeWorker(noise=float(rng.uniform(1.0, 3.0)), miss=float(rng.uniform(0.0, 0.15)),
                          wrong_class=float(rng.uniform(0.0, 0.1)))  # fmt: skip
    truth = []
    for _ in range(n):
        bands = sorted(rng.choice(4, size=int(rng.integers(2, 5)), replace=False).tolist())
        xs = np.linspace(10, width - 10, 4)
        truth.append([
            (LINE_CLASSES[int(rng.integers(2))],
             np.column_stack([xs, (b + 0.5) * height / 4 + rng.uniform(-8, 8, 4)]))
            for b in bands
        ])  # fmt: skip
    gold = {int(t) for t in rng.choice(n, size=n_gold, replace=False)}

    def drawn(t: int, worker: ShapeWorker | None) -> list[tuple[str, npt.NDArray[np.float64]]]:
        if worker is None:
            return truth[t]
        if worker.spam:
            lines = []
            for _ in range(int(rng.integers(2, 5))):
                x = rng.uniform(10, width - 10)
                ys = np.linspace(5, height - 5, 4)
                lines.append((LINE_CLASSES[int(rng.integers(2))], np.column_stack([x + rng.uniform(-20, 20, 4), ys])))
            return lines
        out = []
        for label, line in truth[t]:
            if rng.random() < worker.miss:
                continue
            if rng.random() < worker.wrong_class:
                label = LINE_CLASSES[1 - LINE_CLASSES.index(label)]
            out.append((label, line + rng.normal(0, worker.noise, line.shape)))
        return out

    def content(lines: list[tuple[str, npt.NDArray[np.float64]]]) -> str:
        items = [
            {"label": label, "vertices": [{"x": float(x), "y": float(y)} for x, y in line]} for label, line in lines
        ]
        return json.dumps({"crowdPolyline": {"inputImageProperties": {"width": width, "height": height},
                                             "polylines": items}})  # fmt: skip

    objects = []
    for t in range(n):
        answers: list[tuple[str, ShapeWorker | None]] = [("w0", careful), ("bo", ShapeWorker(spam=True))]
        if t in gold:
            answers.insert(0, ("rev", None))
        annotations = []
        for worker, style in answers:
            data: dict[str, Any] = {"content": content(drawn(t, style))}
            if style is None:
                data["gold"] = True
            annotations.append({"workerId": worker, "annotationData": data})
        objects.append({"datasetObjectId": str(t), "dataObject": {"s3Uri": f"s3://bucket/{t}.jpg"},
                        "annotations": annotations})  # fmt: skip
    return objects, truth, gold


def vector_export(
    seed: int, n: int = 40, n_gold: int = 8
) -> tuple[list[dict[str, Any]], list[list[tuple[str, npt.NDArray[np.float64]]]], set[int]]:
    """:func:`polyline_batch`'s batch as the Label Studio export it stands for: each answer's lines as
    open ``vectorlabels`` paths (percent of the 200 x 150 image, each vertex linked to the one before by
    ``prevPointId``, a third of the paths with the vertices after the first listed in shuffled order), the
    reviewer's annotation marked
    ``ground_truth``. Returns the tasks, the truth per task and the gold tasks."""
    objects, truth, gold = polyline_batch(seed, n, n_gold)
    rng = np.random.default_rng(seed + 1000)
    width, height = _SHAPE_SIZE
    tasks = []
    for obj in objects:
        annotations = []
        for k, a in enumerate(obj["annotations"]):
            lines = json.loads(a["annotationData"]["content"])["crowdPolyline"]["polylines"]
            result = []
            for j, line in enumerate(lines):
                ids = [f"{obj['datasetObjectId']}-{k}-{j}-{i}" for i in range(len(line["vertices"]))]
                vertices = [
                    {"id": ids[i], "x": v["x"] * 100 / width, "y": v["y"] * 100 / height,
                     "prevPointId": ids[i - 1] if i else None, "isBezier": False}
                    for i, v in enumerate(line["vertices"])
                ]  # fmt: skip
                if rng.random() < 1 / 3:  # the first vertex starts the path (the editor's reading)
                    vertices = [vertices[0], *(vertices[1 + i] for i in rng.permutation(len(vertices) - 1))]
                result.append({"id": f"r{k}{j}", "type": "vectorlabels", "from_name": "lines", "to_name": "image",
                               "original_width": width, "original_height": height, "image_rotation": 0,
                               "value": {"vertices": vertices, "closed": False, "vectorlabels": [line["label"]]}})  # fmt: skip
            annotations.append({"id": int(obj["datasetObjectId"]) * 10 + k, "completed_by": {"email": a["workerId"]},
                                "ground_truth": bool(a["annotationData"].get("gold")), "was_cancelled": False,
                                "result": result})  # fmt: skip
        tasks.append({"id": int(obj["datasetObjectId"]), "data": {"image": obj["dataObject"]["s3Uri"]},
                      "annotations": annotations})  # fmt: skip
    return tasks, truth, gold


def line_f1(found: list[dict[str, Any]], truth: list[tuple[str, npt.NDArray[np.float64]]], reach: float) -> float:
    """F1 of consolidated polylines (``{"label", "vertices"}``) against the truth, matched one to one
    within a mean distance of ``reach`` pixels with the same label, the closest pair first."""
    from tally.aggregation.lines import line_distance

    lines = [(f["label"], np.array([[v["x"], v["y"]] for v in f["vertices"]], dtype=float)) for f in found]
    pairs = sorted(
        (d, i, j)
        for i, (a, p) in enumerate(lines)
        for j, (b, q) in enumerate(truth)
        if a == b and (d := line_distance(p, q)) <= reach
    )
    used_found: set[int] = set()
    used_truth: set[int] = set()
    for _, i, j in pairs:
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    total = len(lines) + len(truth)
    return 1.0 if total == 0 else 2 * len(used_found) / total


def value_export(
    kind: str, seed: int, n: int = 40, n_gold: int = 8
) -> tuple[list[dict[str, Any]], list[Any], set[int]]:
    """A Label Studio export of one ``number`` or ``textarea`` control where only the gold can tell who is
    wrong: on every task a careful annotator (``w0``) and ``oz``, whose answers look as careful but are
    wrong in a habit of his own, in an order drawn per task; the reviewer's truth marked ``ground_truth``
    on ``n_gold`` tasks.

    * ``number`` (counts 0–30): ``w0`` the count plus rounded noise (s.d. 0.3–1.0, drawn per seed);
      ``oz`` the count plus a hidden offset of 2 or 3 (per seed) and noise of his own;
    * ``text`` (names of one to three made-up words): ``w0`` the name with a typo now and then (5–20 %
      of the tasks, per seed); ``oz`` the name with its last word swapped for another of the batch's
      words on 50–80 % of the tasks (per seed), else the name.

    Returns the tasks, the truth per task (the count or the name) and the gold tasks."""
    rng = np.random.default_rng(seed)
    if kind == "number":
        truth: list[Any] = [int(v) for v in rng.integers(0, 31, n)]
        careful, noise = float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.0))
        offset = int(rng.integers(2, 4))

        def given(t: int, who: str) -> Any:
            shift, sd = (0, careful) if who == "w0" else (offset, noise)
            return max(0, truth[t] + shift + round(float(rng.normal(0, sd))))
    elif kind == "text":
        vocabulary = ["".join(rng.choice(list("abcdefghijklmnop"), size=int(rng.integers(3, 8)))) for _ in range(30)]
        truth = [" ".join(rng.choice(vocabulary, size=int(rng.integers(1, 4)), replace=False)) for _ in range(n)]
        typo, habit = float(rng.uniform(0.05, 0.2)), float(rng.uniform(0.5, 0.8))

        def given(t: int, who: str) -> Any:
            words = truth[t].split(" ")
            if who == "w0" and rng.random() < typo:
                word = words[-1]
                k = int(rng.integers(len(word)))
                words[-1] = word[:k] + str(rng.choice(list("qrstuvwxyz"))) + word[k + 1 :]
            elif who == "oz" and rng.random() < habit:
                words[-1] = str(rng.choice([v for v in vocabulary if v not in words]))
            return " ".join(words)
    else:
        raise ValueError(kind)
    gold = {int(t) for t in rng.choice(n, size=n_gold, replace=False)}
    tag, key = ("number", "number") if kind == "number" else ("textarea", "text")
    tasks = []
    for t in range(n):
        crowd = ["w0", "oz"] if rng.random() < 0.5 else ["oz", "w0"]
        answers = [("rev", truth[t], True)] if t in gold else []
        answers += [(who, given(t, who), False) for who in crowd]
        annotations = [
            {"id": t * 10 + k, "completed_by": {"id": k + 1, "email": who}, "ground_truth": is_gold,
             "was_cancelled": False,
             "result": [{"id": f"v{t}", "type": tag, "from_name": "answer", "to_name": "image",
                         "value": {key: value if kind == "number" else [value]}}]}
            for k, (who, value, is_gold) in enumerate(answers)
        ]  # fmt: skip
        tasks.append({"id": t + 1, "data": {"image": f"https://example.com/{t + 1}.jpg"}, "annotations": annotations})
    return tasks, truth, gold


def value_form_export(
    kind: str, seed: int, n: int = 40, n_gold: int = 8
) -> tuple[list[dict[str, Any]], list[Any], set[int]]:
    """:func:`value_export`'s tasks as a form: each annotation also answers a choice (``light``, as in
    :func:`shape_form_export`), so the import is a form of two fields and the values its field ``answer``."""
    tasks, truth, gold = value_export(kind, seed, n, n_gold)
    _answer_light(tasks, seed)
    return tasks, truth, gold


def value_quality(
    kind: str, tasks: list[dict[str, Any]], truth: list[Any], gold: set[int], work: Path, form: bool = False
) -> tuple[float, bool]:
    """``tally consolidate --from labelstudio`` on a :func:`value_export` (in the new directory ``work``):
    over the non-gold tasks, the numbers' mean absolute error or the texts' exact-match accuracy against
    the truth, and whether every gold task is its gold answer with confidence 1 (never outvoted);
    ``form``: the values are the form's field ``answer`` (:func:`value_form_export`)."""
    labels = _imported_labels(tasks, work)
    if form:  # the field's entry: its value, its confidence beside it
        labels = [{"value": label["fields"]["answer"]["value"], "text": label["fields"]["answer"]["value"],
                   "confidence": label["fields"]["answer"]["confidence"]} for label in labels]  # fmt: skip
    found = [label["value"] if kind == "number" else label["text"] for label in labels]
    held = all(found[t] == truth[t] and labels[t]["confidence"] == 1.0 for t in gold)
    rest = [t for t in range(len(truth)) if t not in gold]
    if kind == "number":
        return statistics.mean(abs(found[t] - truth[t]) for t in rest), held
    return statistics.mean(1.0 if found[t] == truth[t] else 0.0 for t in rest), held
