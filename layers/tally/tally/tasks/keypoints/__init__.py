"""``<crowd-keypoint>``: the type's light half (its shape); the adapter (:mod:`.adapter`, the geometric consolidation) is
imported only for a batch of this type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import CocoSink, ItemsShape, TaskKind, Views

if TYPE_CHECKING:
    from .adapter import Keypoints

__all__ = ["KEYPOINTS", "Keypoints", "KeypointsShape"]


class KeypointsShape(ItemsShape):
    """``{"keypoints": [...]}`` (``<crowd-keypoint>``)."""

    name = "keypoint"
    type = TaskType.KEYPOINTS.value
    key = "keypoints"
    keys: tuple[str, ...] = ("keypoints",)


class KeypointsViews(Views):
    visual = True
    prior_rank = 2

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """``{"keypoints": [{label, x, y}]}`` from tally's label."""
        if not isinstance(value, dict) or not isinstance(value.get("keypoints"), list):
            return None
        points = [{k: p.get(k) for k in ("label", "x", "y")} for p in value["keypoints"] if isinstance(p, dict)]
        return {"keypoints": points}

    def coco(self, result: Mapping[str, Any], image: dict[str, Any], sink: CocoSink) -> bool:
        """The points, grouped into one annotation per repeat of a label (:meth:`CocoSink.keypoints`)."""
        sink.keypoints(image["id"], result.get("keypoints", []))
        return True


_VIEWS = KeypointsViews()

KEYPOINTS = TaskKind(types=(TaskType.KEYPOINTS.value,), views=_VIEWS, shape=KeypointsShape(), task=".adapter:Keypoints")


def __getattr__(name: str) -> Any:
    if name != "Keypoints":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .adapter import Keypoints

    return Keypoints
