"""How far one annotator's answer agrees with the gold answer to the same question, 0–1.

Both answers are what the Ground Truth crowd element submits (:mod:`.model`), of one kind:

===================  ===========================================================================
``classification``   1 when the label is the gold label, else 0
``multi-label``      the Jaccard index of the two label sets (1 when both are empty)
``entities``         F1 of the spans identical to a gold span (label, start and end)
``boxes``            F1 of the boxes matched one to one to a gold box of the same label at IoU ≥ 0.5
``keypoints``        F1 of the points matched to a gold point of the same label within 5 % of the
                     image diagonal
``polygons``         F1 of the polygons matched to a gold polygon of the same label at mask IoU ≥ 0.5
``semantic``         the share of the pixels either answer painted that both painted with the same
                     label (1 when neither painted anything)
``polylines``        F1 of the lines matched to a gold line of the same label at a line similarity
                     ≥ 0.5 (:func:`tally.aggregation.lines.line_distance`, σ 2 % of the image
                     diagonal, as the polyline task matches)
``number``           1 when the number is the gold number, else 0 (how far off a rater is, and how
                     noisy, is the worker model's: the label's ``worker-quality``)
``text``             ``1 - d``, ``d`` the normalised grapheme edit distance of the two texts
                     (:func:`tally.aggregation.text.similarity`, as the text vote compares answers)
===================  ===========================================================================

Matching is greedy, the closest pair first. An F1 is 1 when neither answer has anything. ``None``:
the two cannot be compared (masks of different sizes, an answer that is not a number or a text), or
the kind has no score (``instances``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..aggregation.instance_fusion import rasterise_polygons
from ..aggregation.pairing import greedy_pairs
from ..codecs import decode_class_runs
from ..tasks.base import figure
from ..tasks.review import f1, iou

__all__ = ["IOU_MATCH", "POINT_REACH", "agreement", "agreements"]

IOU_MATCH = 0.5
"""Boxes and polygons match from this intersection over union on."""
POINT_REACH = 0.05
"""Keypoints match within this share of the image diagonal."""


def _greedy(pairs: Iterable[tuple[float, int, int]]) -> int:
    """How many pairs (closeness, mine, gold) a one-to-one matching keeps, the closest first."""
    return len(greedy_pairs(sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))))


def _box_iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    return iou(*(tuple(float(box[k]) for k in ("left", "top", "width", "height")) for box in (a, b)))


def _matchedf1(
    mine: Sequence[Mapping[str, Any]],
    gold: Sequence[Mapping[str, Any]],
    closeness: Callable[[int, int], float | None],
) -> float:
    pairs = [
        (c, i, j)
        for i, a in enumerate(mine)
        for j, b in enumerate(gold)
        if a.get("label") == b.get("label") and (c := closeness(i, j)) is not None
    ]
    return f1(_greedy(pairs), len(mine), len(gold))


def _boxes(mine: Mapping[str, Any], gold: Mapping[str, Any]) -> float:
    a, b = list(mine.get("boundingBoxes", [])), list(gold.get("boundingBoxes", []))

    def close(i: int, j: int) -> float | None:
        iou = _box_iou(a[i], b[j])
        return iou if iou >= IOU_MATCH else None

    return _matchedf1(a, b, close)


def _keypoints(mine: Mapping[str, Any], gold: Mapping[str, Any]) -> float:
    a, b = list(mine.get("keypoints", [])), list(gold.get("keypoints", []))
    size = gold.get("inputImageProperties") or {}
    reach = POINT_REACH * float(np.hypot(float(size.get("width", 0)), float(size.get("height", 0))))

    def close(i: int, j: int) -> float | None:
        d = float(np.hypot(float(a[i]["x"]) - float(b[j]["x"]), float(a[i]["y"]) - float(b[j]["y"])))
        return -d if d <= reach else None

    return _matchedf1(a, b, close)


def _polylines(mine: Mapping[str, Any], gold: Mapping[str, Any]) -> float:
    from ..aggregation.lines import LineConsolidation, line_distance

    a, b = list(mine.get("polylines", [])), list(gold.get("polylines", []))
    size = gold.get("inputImageProperties") or {}
    model = LineConsolidation()
    scale = model.sigma * float(np.hypot(float(size.get("width", 0)), float(size.get("height", 0))))
    vertices = [
        [np.array([[float(v["x"]), float(v["y"])] for v in line.get("vertices", [])]) for line in x] for x in (a, b)
    ]

    def close(i: int, j: int) -> float | None:
        p, q = vertices[0][i], vertices[1][j]
        if len(p) < 2 or len(q) < 2 or scale <= 0:
            return None
        similarity = float(np.exp(-(line_distance(p, q, model.n_match) ** 2) / (2.0 * scale**2)))
        return similarity if similarity >= model.min_similarity else None

    return _matchedf1(a, b, close)


def _polygon_masks(answer: Mapping[str, Any], width: int, height: int) -> list[npt.NDArray[np.bool_] | None]:
    masks: list[npt.NDArray[np.bool_] | None] = []
    for polygon in answer.get("polygons", []):
        vertices = [(float(v["x"]), float(v["y"])) for v in polygon.get("vertices", [])]
        grid, kept = rasterise_polygons([vertices], width, height)
        masks.append(np.asarray(grid) == 1 if kept else None)
    return masks


def _polygons(
    mine: Mapping[str, Any], gold: Mapping[str, Any], gold_masks: list[npt.NDArray[np.bool_] | None] | None = None
) -> float:
    a, b = list(mine.get("polygons", [])), list(gold.get("polygons", []))
    size = gold.get("inputImageProperties") or {}
    width, height = int(size.get("width", 0)), int(size.get("height", 0))
    mine_masks = _polygon_masks(mine, width, height)
    if gold_masks is None:
        gold_masks = _polygon_masks(gold, width, height)

    def close(i: int, j: int) -> float | None:
        p, q = mine_masks[i], gold_masks[j]
        if p is None or q is None:
            return None
        union = int(np.count_nonzero(p | q))
        iou = int(np.count_nonzero(p & q)) / union if union else 0.0
        return iou if iou >= IOU_MATCH else None

    return _matchedf1(a, b, close)


def _label_pixels(answer: Mapping[str, Any], names: dict[str, int]) -> npt.NDArray[np.int32]:
    """Each pixel's label as a number of ``names`` (0: unpainted): the importer's decoded class array
    (``classRuns``), its classes named by ``labelMappings``' order."""
    size = answer["inputImageProperties"]
    mapped = [str(name) for name in answer.get("labelMappings") or {}]
    indices = decode_class_runs(
        answer["labeledImage"]["classRuns"], int(size["width"]), int(size["height"]), len(mapped)
    )
    lut = np.asarray([0] + [names.setdefault(name, len(names) + 1) for name in mapped], dtype=np.int32)
    return lut[indices]


def _semantic(
    mine: Mapping[str, Any],
    gold: Mapping[str, Any],
    decoded: tuple[npt.NDArray[np.int32], dict[str, int]] | None = None,
) -> float | None:
    """``decoded``: the gold answer's pixels and label numbers, when already decoded (:func:`agreements`)."""
    if decoded is None:
        decoded = _gold_pixels(gold)
    b, gold_names = decoded
    names = dict(gold_names)
    a = _label_pixels(mine, names)
    if a.shape != b.shape:
        return None
    painted = (a > 0) | (b > 0)
    total = int(np.count_nonzero(painted))
    return 1.0 if total == 0 else int(np.count_nonzero(painted & (a == b))) / total


def _gold_pixels(gold: Mapping[str, Any]) -> tuple[npt.NDArray[np.int32], dict[str, int]]:
    names: dict[str, int] = {}
    return _label_pixels(gold, names), names


def agreements(kind: str, answers: Sequence[Any], gold: Any) -> list[float | None]:
    """:func:`agreement` of each answer with one gold answer, the gold answer decoded (a mask) or
    rasterised (polygons) once for them all."""
    if kind == "semantic" and answers:
        decoded = _gold_pixels(gold)
        return [figure(_semantic(a, gold, decoded)) for a in answers]
    if kind == "polygons" and answers:
        size = gold.get("inputImageProperties") or {}
        masks = _polygon_masks(gold, int(size.get("width", 0)), int(size.get("height", 0)))
        return [figure(_polygons(a, gold, masks)) for a in answers]
    return [agreement(kind, a, gold) for a in answers]


def agreement(kind: str, mine: Any, gold: Any) -> float | None:
    """``mine``'s agreement with ``gold`` (two elements of ``kind``: module docstring), rounded to 4
    digits; ``None`` when the kind has no score or the two cannot be compared (masks of different
    sizes, an answer that is not a number or a text)."""
    score: float | None
    if kind == "classification":
        score = 1.0 if mine.get("label") == gold.get("label") else 0.0
    elif kind == "multi-label":
        a, b = set(mine.get("labels", [])), set(gold.get("labels", []))
        score = 1.0 if not a | b else len(a & b) / len(a | b)
    elif kind == "entities":
        spans = {(e.get("label"), e.get("startOffset"), e.get("endOffset")) for e in mine.get("entities", [])}
        gold_spans = {(e.get("label"), e.get("startOffset"), e.get("endOffset")) for e in gold.get("entities", [])}
        score = f1(len(spans & gold_spans), len(spans), len(gold_spans))
    elif kind == "boxes":
        score = _boxes(mine, gold)
    elif kind == "keypoints":
        score = _keypoints(mine, gold)
    elif kind == "polygons":
        score = _polygons(mine, gold)
    elif kind == "semantic":
        score = _semantic(mine, gold)
    elif kind == "polylines":
        score = _polylines(mine, gold)
    elif kind == "number":
        score = _number(mine, gold)
    elif kind == "text":
        score = _text(mine, gold)
    else:
        score = None
    return figure(score)


def _number(mine: Any, gold: Any) -> float | None:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mine, gold)):
        return None
    return 1.0 if math.isclose(mine, gold, rel_tol=1e-9, abs_tol=1e-12) else 0.0


def _text(mine: Any, gold: Any) -> float | None:
    from ..aggregation.text import similarity  # the text vote's module, loaded for a text field alone

    return similarity(mine, gold) if isinstance(mine, str) and isinstance(gold, str) else None
