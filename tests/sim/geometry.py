"""Simulated crowds for the geometric tasks: boxes, keypoints and instance masks with known truth.

Test and benchmark helpers only. A scene is a list of objects (class and box); a simulated worker
(:class:`GeometryWorker`) draws it through their habits: edge jitter proportional to the object's
size, missed objects, invented ones, a wrong class, a second box on the same object, a careless
edge dragged far off. A crowd (:data:`CROWDS`) is a pool of workers; every object is answered by
some of them (a fixed number, or 1–5 at random), so the batch has the repeated workers that
reliability needs. Answers come as :class:`~tally.aggregation.geometric.WorkerItems`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from tally.aggregation.geometric import ObjectItems, WorkerItems

__all__ = [
    "CROWDS",
    "Crowd",
    "GeometryWorker",
    "SimObject",
    "box_batch",
    "instance_batch",
    "keypoint_batch",
    "random_scene",
]


@dataclass(frozen=True)
class GeometryWorker:
    """How one simulated worker draws."""

    jitter: float = 0.03
    """Standard deviation of every edge (keypoint coordinate), as a fraction of the object's side."""
    miss: float = 0.0
    """Chance of leaving an object out."""
    extra: float = 0.0
    """Mean number of invented objects per image (Poisson)."""
    wrong_class: float = 0.0
    """Chance of giving an object another class."""
    duplicate: float = 0.0
    """Chance of drawing a second, shifted box on an object."""
    careless: float = 0.0
    """Chance that one edge of a box is dragged off by 30–80 % of the object's side."""


@dataclass(frozen=True)
class Crowd:
    """A pool of workers and how many of them answer each object."""

    workers: tuple[GeometryWorker, ...]
    answers: tuple[int, int]
    """Answers per object: uniformly between these two numbers (inclusive)."""


CAREFUL = GeometryWorker(jitter=0.03)
CROWDS: dict[str, Crowd] = {
    "careful-3": Crowd((CAREFUL,) * 6, (3, 3)),
    "jitter-5": Crowd((GeometryWorker(jitter=0.06),) * 8, (5, 5)),
    "miss-extra-5": Crowd((GeometryWorker(jitter=0.04, miss=0.2, extra=0.4),) * 8, (5, 5)),
    "wrong-class-3": Crowd((CAREFUL,) * 4 + (GeometryWorker(jitter=0.03, wrong_class=0.6),) * 2, (3, 3)),
    "sloppy-5": Crowd((CAREFUL,) * 6 + (GeometryWorker(jitter=0.12, careless=0.4, miss=0.1),) * 2, (5, 5)),
    "duplicates-3": Crowd((CAREFUL,) * 4 + (GeometryWorker(jitter=0.03, duplicate=0.5, extra=0.5),) * 2, (3, 3)),
    "two-workers": Crowd((CAREFUL,) * 3 + (GeometryWorker(jitter=0.03, extra=1.0),), (2, 2)),
    "mixed-1to5": Crowd(
        (
            CAREFUL,
            CAREFUL,
            GeometryWorker(jitter=0.06, miss=0.15),
            GeometryWorker(jitter=0.03, extra=0.5),
            GeometryWorker(jitter=0.03, wrong_class=0.4),
            GeometryWorker(jitter=0.12, careless=0.3),
        ),
        (1, 5),
    ),
}
"""Named crowds the benchmark and tests run (the answer counts cover 1 to 5 workers)."""


@dataclass(frozen=True)
class SimObject:
    """One simulated object: the truth and the crowd's answers."""

    truth_labels: tuple[str, ...]
    truth: npt.NDArray[np.float64]
    """Boxes ``(n, 4)`` ``x0, y0, x1, y1``, or keypoints ``(n, 2)``."""
    items: ObjectItems


def random_scene(
    rng: np.random.Generator, width: int, height: int, labels: Sequence[str], n_objects: int
) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """``n_objects`` boxes of random classes, sides 5–35 % of the image, inside it."""
    sides = rng.uniform(0.05, 0.35, size=(n_objects, 2)) * np.array([width, height])
    x0 = rng.uniform(0, width - sides[:, 0])
    y0 = rng.uniform(0, height - sides[:, 1])
    boxes = np.stack([x0, y0, x0 + sides[:, 0], y0 + sides[:, 1]], axis=1)
    names = tuple(labels[int(k)] for k in rng.integers(0, len(labels), size=n_objects))
    return names, boxes


def _draw_boxes(
    rng: np.random.Generator,
    worker: GeometryWorker,
    truth_labels: Sequence[str],
    truth: npt.NDArray[np.float64],
    labels: Sequence[str],
    width: int,
    height: int,
) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    out_labels: list[str] = []
    out: list[npt.NDArray[np.float64]] = []
    for label, box in zip(truth_labels, truth, strict=True):
        if rng.random() < worker.miss:
            continue
        side = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        drawn = box + rng.normal(0.0, worker.jitter, size=4) * side
        if rng.random() < worker.careless:
            edge = int(rng.integers(0, 4))
            drawn[edge] += (1 if edge >= 2 else -1) * rng.uniform(0.3, 0.8) * side[edge]
        name = label
        if rng.random() < worker.wrong_class:
            name = str(rng.choice([other for other in labels if other != label]))
        out_labels.append(name)
        out.append(drawn)
        if rng.random() < worker.duplicate:
            out_labels.append(name)
            out.append(drawn + rng.normal(0.0, 0.15, size=4) * side)
    for _ in range(int(rng.poisson(worker.extra))):
        fake_labels, fake = random_scene(rng, width, height, labels, 1)
        out_labels.append(fake_labels[0])
        out.append(fake[0])
    boxes = np.array(out, dtype=np.float64).reshape(-1, 4)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    lo = np.minimum(boxes[:, :2], boxes[:, 2:])
    hi = np.maximum(boxes[:, :2], boxes[:, 2:])
    boxes = np.concatenate([lo, hi], axis=1)
    ok = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
    return tuple(lab for lab, keep in zip(out_labels, ok, strict=True) if keep), boxes[ok]


def _answering(rng: np.random.Generator, crowd: Crowd) -> list[int]:
    low, high = crowd.answers
    count = int(rng.integers(low, high + 1))
    return sorted(rng.choice(len(crowd.workers), size=min(count, len(crowd.workers)), replace=False).tolist())


def box_batch(
    rng: np.random.Generator,
    crowd: Crowd,
    n_objects: int,
    *,
    width: int = 640,
    height: int = 480,
    labels: Sequence[str] = ("car", "person", "sign"),
    per_image: tuple[int, int] = (1, 6),
) -> list[SimObject]:
    """``n_objects`` images with boxes, each answered by workers of ``crowd`` (ids ``w0``, ``w1``, …)."""
    batch = []
    for _ in range(n_objects):
        truth_labels, truth = random_scene(
            rng, width, height, labels, int(rng.integers(per_image[0], per_image[1] + 1))
        )
        answers = []
        for w in _answering(rng, crowd):
            drawn_labels, drawn = _draw_boxes(rng, crowd.workers[w], truth_labels, truth, labels, width, height)
            answers.append(WorkerItems(f"w{w}", drawn_labels, drawn))
        batch.append(SimObject(truth_labels, truth, ObjectItems(tuple(answers), width, height)))
    return batch


def keypoint_batch(
    rng: np.random.Generator,
    crowd: Crowd,
    n_objects: int,
    *,
    width: int = 640,
    height: int = 480,
    labels: Sequence[str] = ("head", "hand", "foot"),
    per_image: tuple[int, int] = (1, 6),
) -> list[SimObject]:
    """Keypoints at the centres of random boxes; jitter is a fraction of the box's side (as for boxes)."""
    batch = []
    for _ in range(n_objects):
        truth_labels, boxes = random_scene(
            rng, width, height, labels, int(rng.integers(per_image[0], per_image[1] + 1))
        )
        truth = (boxes[:, :2] + boxes[:, 2:]) / 2
        answers = []
        for w in _answering(rng, crowd):
            drawn_labels, drawn = _draw_boxes(rng, crowd.workers[w], truth_labels, boxes, labels, width, height)
            centres = (drawn[:, :2] + drawn[:, 2:]) / 2
            answers.append(WorkerItems(f"w{w}", drawn_labels, centres))
        batch.append(SimObject(truth_labels, truth, ObjectItems(tuple(answers), width, height)))
    return batch


def _paint(boxes: npt.NDArray[np.float64], width: int, height: int) -> npt.NDArray[np.int32]:
    canvas = Image.new("I", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for k, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        draw.ellipse([x0, y0, max(x1 - 1, x0), max(y1 - 1, y0)], fill=k + 1)
    return np.asarray(canvas, dtype=np.int32)


def instance_batch(
    rng: np.random.Generator,
    crowd: Crowd,
    n_objects: int,
    *,
    width: int = 1280,
    height: int = 960,
    labels: Sequence[str] = ("car", "person", "sign"),
    per_image: tuple[int, int] = (2, 8),
) -> list[tuple[npt.NDArray[np.int32], tuple[str, ...], ObjectItems]]:
    """Ellipses inscribed in random boxes, painted in order into instance maps (truth map, truth
    labels, answers); a later ellipse covers an earlier one where they overlap."""
    batch = []
    for _ in range(n_objects):
        truth_labels, boxes = random_scene(
            rng, width, height, labels, int(rng.integers(per_image[0], per_image[1] + 1))
        )
        answers = []
        for w in _answering(rng, crowd):
            drawn_labels, drawn = _draw_boxes(rng, crowd.workers[w], truth_labels, boxes, labels, width, height)
            answers.append(WorkerItems(f"w{w}", drawn_labels, _paint(drawn, width, height)))
        batch.append((_paint(boxes, width, height), truth_labels, ObjectItems(tuple(answers), width, height)))
    return batch
