"""What a task type's views return for the report to draw (:class:`~tally.tasks.kind.Views`): the
overlays drawn over an object's image (:data:`Overlay`), the marked text of a text type
(:class:`MarkedText`), and the figure of a kind whose consensus is no image (:data:`Figure`).

A view says *what* to draw; :mod:`tally.tools.report` (and :mod:`tally.tools._figures`) draws it. Only
the views and the tools import this module (a view imports it when it is called), never the handlers:
recognising and consolidating a batch needs none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Boxes",
    "ClassMask",
    "Distribution",
    "Figure",
    "InstanceMask",
    "LineStrokes",
    "MarkedText",
    "Overlay",
    "Points",
    "Polygons",
    "RankTable",
    "WordVote",
    "WorkerMask",
]


@dataclass(frozen=True)
class ClassMask:
    """A class mask artefact (``artefact``: the report's name for it) in the classes' colours."""

    artefact: str
    colour_map: Mapping[str, Any]


@dataclass(frozen=True)
class InstanceMask:
    """An instance mask artefact: instance ``k`` (1-based pixel value) of label ``names[k - 1]``, each
    in a shade of its class colour, outlined and numbered."""

    artefact: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Boxes:
    """Boxes ``(label, (left, top, width, height))``; ``tags`` (the consensus's) numbered in a corner."""

    boxes: tuple[tuple[str, tuple[float, float, float, float]], ...]
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Points:
    """Points ``(label, x, y)``."""

    points: tuple[tuple[str, float, float], ...]


@dataclass(frozen=True)
class Polygons:
    """A worker's polygons as they drew them (the element's ``polygons`` list)."""

    polygons: tuple[Any, ...]


@dataclass(frozen=True)
class LineStrokes:
    """Open lines ``(label, ((x, y), ...))`` in image pixels; ``tags`` (the consensus's) as their titles."""

    lines: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class WorkerMask:
    """A worker's painted mask, through their own colours to label names (``instances``: one region
    per instance, shaded and outlined)."""

    instances: bool = False


@dataclass(frozen=True)
class MarkedText:
    """The object's text with spans ``(label, start, end)`` marked."""

    spans: tuple[tuple[str, int, int], ...]


Overlay = ClassMask | InstanceMask | Boxes | Points | Polygons | LineStrokes | WorkerMask
"""A layer drawn over the object's image."""


@dataclass(frozen=True)
class Distribution:
    """Numbers on a scale from ``low`` to ``high``: each answer ``(worker, value, weight)`` (weight 0–1:
    its share of the consensus), the consensus ``value`` and its ``interval``."""

    low: float
    high: float
    answers: tuple[tuple[str, float, float], ...]
    value: float | None
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class WordVote:
    """A text consensus and each worker's text as words ``(worker, words, indices of the words the vote
    overruled)``."""

    text: str
    answers: tuple[tuple[str, tuple[str, ...], frozenset[int]], ...]


@dataclass(frozen=True)
class RankTable:
    """Rankings side by side: the workers, and per dimension ``(name, rows)`` with one row per response
    ``(combined rank, confidence, each worker's rank of it or None)``."""

    workers: tuple[str, ...]
    dimensions: tuple[tuple[str, tuple[tuple[int, float | None, tuple[int | None, ...]], ...]], ...]


Figure = Distribution | WordVote | RankTable
"""The consensus of a kind that is no image drawn as a figure, the workers' answers in it."""
