"""Task types tally consolidates, recognised from the shape of the workers' answers.

:func:`make_tasks` builds a batch's tasks (fresh per batch, configured by the settings). The order
matters: the first task whose ``recognises`` accepts an answer's element owns it. Answers of no known
shape are passed through unchanged (:mod:`.passthrough`).
"""

from __future__ import annotations

from typing import Any

from ..settings import Settings
from .base import JobContext, Observed, Task
from .classification import MultiLabelClassification, SingleLabelClassification
from .entities import NamedEntities
from .geometry import BoundingBoxes, InstanceSegmentation, Keypoints, Polygons
from .passthrough import Passthrough
from .segmentation import SemanticSegmentation

__all__ = [
    "BoundingBoxes",
    "InstanceSegmentation",
    "JobContext",
    "Keypoints",
    "MultiLabelClassification",
    "NamedEntities",
    "Observed",
    "Passthrough",
    "Polygons",
    "SemanticSegmentation",
    "SingleLabelClassification",
    "Task",
    "make_tasks",
]

AnyTask = Task[Any, Any, Any]


def make_tasks(settings: Settings) -> tuple[AnyTask, ...]:
    """The task types tally consolidates, in recognition order, for one batch."""
    return (
        SemanticSegmentation(settings),
        SingleLabelClassification(),
        MultiLabelClassification(),
        NamedEntities(),
        BoundingBoxes(),
        Keypoints(),
        InstanceSegmentation(),
        Polygons(),
    )
