"""The polygon task (``<crowd-polygon>``): each worker's polygons rasterised in order into an instance
map, then consolidated **as instances** (:class:`~tally.tasks.instances.adapter.InstanceSegmentation`:
the fused result is an instance mask, not vertices).

A polygon may carry a ``group`` (tally's own key, not Ground Truth's: the CVAT importer sets it from a
shape's nonzero ``group_id``): polygons of one answer with the same ``group`` and the same label are one
instance drawn in parts, their pixels' union (each painted in order as any polygon is). Polygons of one
group with different labels stay separate instances, with a warning on the answer: an instance has one
label, and tally will not choose which part's is meant."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ...aggregation.instance_fusion import MAX_INSTANCES, rasterise_polygons
from ...errors import AnswerError
from ...gt.answers import Answer
from ...labels import LabelSet
from ..base import known_labels
from ..geometry import Parsed, image_size, item_list, number
from ..instances.adapter import InstanceSegmentation
from . import PolygonsShape, group_key

__all__ = ["Polygons"]


class Polygons(PolygonsShape, InstanceSegmentation):
    def _parse(self, answer: Answer, labels: LabelSet) -> tuple[Parsed, tuple[int, int]]:
        size = image_size(answer.element)
        if size is None:
            raise AnswerError("no inputImageProperties (width and height) to draw the polygons in")
        raw = item_list(answer.element, self.key)
        if len(raw) > MAX_INSTANCES:
            raise AnswerError(f"{len(raw)} polygons; at most {MAX_INSTANCES} per answer")
        polygons = []
        for polygon in raw:
            vertices = polygon.get("vertices")
            if not isinstance(vertices, list) or not all(isinstance(v, dict) for v in vertices):
                raise AnswerError("a polygon's vertices are not a list of {x, y}")
            polygons.append([(number(v.get("x")), number(v.get("y"))) for v in vertices])
        instance_map, drawn = rasterise_polygons(polygons, *size)
        # each polygon's group key (its group, its label), None: not grouped; read once
        keys = [group_key(p) for p in raw]
        # left out: a polygon without area, unless a part of its group (same label) stands for it
        parts = {keys[k] for k in drawn} - {None}
        dropped = sum(1 for k in set(range(len(raw))) - set(drawn) if keys[k] is None or keys[k] not in parts)
        instance_map, kept, grouped = _join_groups(keys, instance_map, drawn, labels)
        names = [str(raw[k].get("label")) for k in kept]
        indices, warnings = known_labels(labels, names, "items")
        warnings += grouped
        if dropped:
            warnings.append(f"{dropped} polygon(s) with fewer than three vertices or no area were left out")
        parsed = self._keep_known(instance_map, indices, warnings)
        parsed.sources = [kept[k] for k in parsed.sources]  # the polygon each instance was drawn from
        return parsed, size


def _join_groups(
    keys: Sequence[tuple[str, str] | None], instance_map: npt.NDArray[np.int32], kept: list[int], job: LabelSet
) -> tuple[npt.NDArray[np.int32], list[int], list[str]]:
    """The instance map with each group's same-label polygons one instance (the first part's place in
    the order), the polygon each instance is drawn from, and a warning per group of several of the
    job's labels (one the job does not have is left out with its own warning). ``keys``: per polygon
    of the answer, its (group, label), or ``None`` when it is not grouped."""
    if not any(keys[k] for k in kept):
        return instance_map, kept, []
    labels: dict[str, list[str]] = {}
    for k in kept:
        key = keys[k]
        if key is not None and job.index(key[1]) is not None and key[1] not in labels.setdefault(key[0], []):
            labels[key[0]].append(key[1])
    first: dict[tuple[str, str], int] = {}
    lut = np.zeros(len(kept) + 1, dtype=np.int32)
    joined: list[int] = []
    for n, k in enumerate(kept, start=1):
        key = keys[k]
        if key is not None and key in first:
            lut[n] = first[key]
            continue
        joined.append(k)
        lut[n] = len(joined)
        if key is not None:
            first[key] = len(joined)
    warnings = [
        f"polygon group {group} has shapes of {len(names)} labels ({', '.join(names)}): kept as "
        "separate instances, one per label (an instance has one label)"
        for group, names in labels.items()
        if len(names) > 1
    ]
    return lut[instance_map], joined, warnings
