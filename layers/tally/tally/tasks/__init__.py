"""Task types tally consolidates, recognised from the shape of the workers' answers.

The registry is ordered: the first task whose ``matches`` accepts an answer's element owns it.
Answers of no known shape are passed through unchanged (:mod:`.passthrough`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Answer, AnswerIssue, BatchCache, ObjectContext, Outcome, Task
from .passthrough import PASSTHROUGH
from .segmentation import SEMANTIC_SEGMENTATION

__all__ = [
    "PASSTHROUGH",
    "REGISTRY",
    "SEMANTIC_SEGMENTATION",
    "Answer",
    "AnswerIssue",
    "BatchCache",
    "ObjectContext",
    "Outcome",
    "Task",
    "task_for",
]

REGISTRY: tuple[Task, ...] = (SEMANTIC_SEGMENTATION,)


def task_for(element: Mapping[str, Any]) -> Task | None:
    """The registered task that recognises this element's shape, if any."""
    return next((task for task in REGISTRY if task.matches(element)), None)
