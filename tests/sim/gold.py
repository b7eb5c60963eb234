"""Simulated Label Studio exports with gold (``ground_truth``) annotations, for the geometric and pixel
kinds: a varied crowd (careful and sloppy annotators, each with their own habits) and one bad
annotator, ``bo``, who answers every task with shapes of his own that agree with nobody. A reviewer's
annotation, the truth itself and marked ``ground_truth``, is on a share of the tasks.

Test helpers only: each ``*_export`` returns the export (a list of Label Studio tasks), the truth
per task and the gold tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tally.importers.rle import mask_to_brush_rle

from .segmentation import WorkerStyle, random_scene, worker_view

__all__ = ["MASK_CLASSES", "brush_export", "mean_iou"]

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
    seed: int, n: int = 40, n_gold: int = 8, pair_share: float = 0.1
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
