"""Numbers (``crowd-slider``, a number input, a 1–5 rating): the type's light half, its shape, its typed
result (:class:`NumberResult`) and its views; the adapter (:mod:`.adapter`: the worker-aware mean over the
batch, numpy) is imported only for a batch of this type.

Examples:
    >>> from tally.gt.answers import BareValue
    >>> NUMBER.shape.recognises(BareValue(value=4)), NUMBER.shape.recognises({"value": 4})
    (True, False)
    >>> label = {"type": "tally/number", "value": 4, "interval": [3, 5], "confidence": 0.5,
    ...          "scale": {"min": 1, "max": 5, "step": 1, "from": "template"},
    ...          "answers": [{"workerId": "w1", "value": 5, "weight": 0.5}],
    ...          "worker-quality": [{"workerId": "w1", "offset": 0.8, "noise": 0.4, "random-share": 0.05}]}
    >>> result = NumberResult.from_gt(label)
    >>> result.to_gt() == {k: v for k, v in label.items() if k != "type"}
    True
    >>> NUMBER.views.rows(result)
    [{'value': 4, 'interval-low': 3, 'interval-high': 5, 'confidence': 0.5, 'answers': 'w1=5'}]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ...gt.answers import BareValue
from ...gt.response import TaskType
from ..base import DIGITS
from ..kind import ReviewAnswer, ReviewSubject, TaskKind, Views, WorkerQuality

if TYPE_CHECKING:
    from ..figures import Distribution

__all__ = ["NUMBER", "NumberAnswer", "NumberResult", "NumberShape", "Scale"]


class NumberShape:
    """A form's only field, a bare number (``crowd-slider``): :class:`~tally.gt.answers.BareValue`."""

    name = "number"
    type = TaskType.NUMBER.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        value = element.get("value")
        return isinstance(element, BareValue) and isinstance(value, int | float) and not isinstance(value, bool)

    def labels_used(self, element: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        return []


def plain(value: float | None) -> int | float | None:
    """A number as JSON gives it: a whole number as an integer."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


@dataclass(frozen=True)
class Scale:
    """A number's scale: ``None`` is open (no bound, no step); ``source`` says where it came from."""

    minimum: float | None
    maximum: float | None
    step: float | None
    source: Literal["template", "answers", "template+answers"]

    def as_json(self) -> dict[str, Any]:
        return {
            "min": plain(self.minimum),
            "max": plain(self.maximum),
            "step": plain(self.step),
            "from": self.source,
        }

    @classmethod
    def from_gt(cls, scale: Mapping[str, Any]) -> Scale:
        return cls(scale.get("min"), scale.get("max"), scale.get("step"), scale.get("from", "answers"))

    def on_scale(self, value: float) -> str | None:
        """Why ``value`` cannot come from this scale, or ``None``."""
        if self.minimum is not None and value < self.minimum:
            return f"{plain(value)} is below the minimum {plain(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"{plain(value)} is above the maximum {plain(self.maximum)}"
        if self.step is not None:
            k = (value - (self.minimum or 0.0)) / self.step
            if abs(k - round(k)) > 1e-6:
                return f"{plain(value)} is not on a step of {plain(self.step)}"
        return None

    def shown(self, value: float) -> int | float:
        """A value as the label gives it: a whole number on an integer grid, else rounded to the step's decimals."""
        if self.step is not None and float(self.step).is_integer() and float(self.minimum or 0.0).is_integer():
            return round(value)
        decimals = DIGITS if self.step is None else max(0, -math.floor(math.log10(self.step) + 1e-9)) + 2
        rounded = round(value, min(decimals, DIGITS))
        return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


@dataclass(frozen=True)
class NumberAnswer:
    """One rater's number as given and its share of the value."""

    worker_id: str
    value: int | float
    weight: float | None

    def to_gt(self) -> dict[str, Any]:
        return {"workerId": self.worker_id, "value": self.value, "weight": self.weight}


@dataclass(frozen=True)
class NumberResult:
    """A consolidated number: the value on the scale's grid, its 90 % interval, the confidence, the
    scale, every rater's answer and the raters' figures over the batch."""

    value: int | float
    interval: tuple[int | float, int | float]
    confidence: float
    scale: Scale
    answers: tuple[NumberAnswer, ...]
    worker_quality: tuple[WorkerQuality, ...]

    def to_gt(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "interval": list(self.interval),
            "confidence": self.confidence,
            "scale": self.scale.as_json(),
            "answers": [a.to_gt() for a in self.answers],
            "worker-quality": [q.to_gt() for q in self.worker_quality],
        }

    def metadata(self) -> dict[str, Any]:
        """The entries of ``<attr>-metadata``."""
        return {"value": self.value, "interval": list(self.interval), "confidence": self.confidence}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> NumberResult:
        low, high = label["interval"]
        return cls(
            label["value"],
            (low, high),
            float(label.get("confidence", 0)),
            Scale.from_gt(label.get("scale") or {}),
            tuple(NumberAnswer(str(a["workerId"]), a["value"], a.get("weight")) for a in label.get("answers", [])),
            WorkerQuality.rows(label),
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class NumberViews(Views):
    def agreement(self, result: NumberResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """1 minus the answer's distance from the value, as a share of the scale's width (the batch's
        range when the scale is open); ``None`` when the scale has no width."""
        given = None if answer.value is None else _number(answer.value.get("value"))
        low, high = self._span(result)
        if given is None or not high > low:
            return None
        return max(0.0, 1.0 - abs(given - float(result.value)) / (high - low))

    @staticmethod
    def _span(result: NumberResult) -> tuple[float, float]:
        seen = [float(a.value) for a in result.answers] + [float(result.value)]
        low = float(result.scale.minimum) if result.scale.minimum is not None else min(seen)
        high = float(result.scale.maximum) if result.scale.maximum is not None else max(seen)
        return low, high

    def answer_summary(self, answer: Mapping[str, Any]) -> str:
        return str(answer.get("value"))

    def figure(self, result: NumberResult) -> Distribution:
        """The answers on the scale, each at its weight, with the value and its interval."""
        from ..figures import Distribution

        low, high = self._span(result)
        answers = tuple((a.worker_id, float(a.value), float(a.weight or 0.0)) for a in result.answers)
        interval = (float(result.interval[0]), float(result.interval[1]))
        return Distribution(low, high, answers, float(result.value), interval)

    def rows(self, result: NumberResult) -> list[dict[str, Any]]:
        """One row per object: the value, its interval and confidence, and each answer (``worker=value``)."""
        return [
            {
                "value": result.value,
                "interval-low": result.interval[0],
                "interval-high": result.interval[1],
                "confidence": result.confidence,
                "answers": " ".join(f"{a.worker_id}={a.value}" for a in result.answers),
            }
        ]


NUMBER = TaskKind(
    shape=NumberShape(),
    task=".adapter:Numbers",
    from_gt=NumberResult.from_gt,
    views=NumberViews(),
)
