"""The polygon task (``<crowd-polygon>``): each worker's polygons rasterised in order into an instance
map, then consolidated **as instances** (:class:`~tally.tasks.instances.adapter.InstanceSegmentation`:
the fused result is an instance mask, not vertices)."""

from __future__ import annotations

from ...aggregation.instance_fusion import MAX_INSTANCES, rasterise_polygons
from ...errors import AnswerError
from ...gt.answers import Answer
from ...labels import LabelSet
from ..base import known_labels
from ..geometry import Parsed, image_size, item_list, number
from ..instances.adapter import InstanceSegmentation
from . import PolygonsShape

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
        instance_map, kept = rasterise_polygons(polygons, *size)
        names = [str(raw[k].get("label")) for k in kept]
        indices, warnings = known_labels(labels, names, "items")
        if len(kept) < len(raw):
            warnings.append(
                f"{len(raw) - len(kept)} polygon(s) with fewer than three vertices or no area were left out"
            )
        parsed = self._keep_known(instance_map, indices, warnings)
        parsed.sources = [kept[k] for k in parsed.sources]  # the polygon each instance was drawn from
        return parsed, size
