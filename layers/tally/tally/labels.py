"""Which labels a job has, and the class key and colour each one gets.

Class keys are what the consolidated PNG stores per pixel and what ``internal-color-map`` is keyed
by: ``0`` is always ``BACKGROUND`` (``#ffffff``) and label *i* of the ordered label list gets key
*i + 1*. The ordered list comes from the first of these that is available:

1. ``labelCategories`` in the consolidation event;
2. the labels configured for the deployment (``TALLY_LABELS``, the template's ``Labels`` parameter);
3. the job's label category file, found through ``DescribeLabelingJob`` and cached per container
   (the same list for every batch of a job, so keys stay stable across batches);
4. last resort: the sorted names of every label the batch's workers used. Keys are then stable only
   while batches see the same labels, so this source is reported on every label it produces.

Colours follow d3's category10 (the palette Ground Truth's tools use) for the first ten classes and
continue with evenly spaced hues after that.
"""

from __future__ import annotations

import colorsys
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .colours import ABSTAIN, RGB, hex_to_rgb, rgb_to_hex

__all__ = [
    "BACKGROUND",
    "ClassTable",
    "LabelSource",
    "parse_label_category_file",
    "parse_label_list",
    "resolve_class_table",
]

BACKGROUND = "BACKGROUND"
BACKGROUND_HEX = "#ffffff"
MAX_CLASSES = ABSTAIN - 1
LabelSource = Literal["event", "configured", "label-category-file", "batch"]

_CATEGORY10 = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def _class_colour(key: int) -> str:
    if key <= len(_CATEGORY10):
        return _CATEGORY10[key - 1]
    hue = ((key - len(_CATEGORY10)) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.85)
    return rgb_to_hex((round(r * 255), round(g * 255), round(b * 255)))


@dataclass(frozen=True)
class ClassTable:
    """The job's labels in class-key order (key ``i + 1`` for ``names[i]``) and where they came from."""

    names: tuple[str, ...]
    source: LabelSource

    def __post_init__(self) -> None:
        if len(self.names) > MAX_CLASSES:
            raise ValueError(f"{len(self.names)} labels; a palette mask holds at most {MAX_CLASSES}")
        if len(set(self.names)) != len(self.names):
            raise ValueError("label names must be unique")

    @property
    def n_classes(self) -> int:
        """Number of classes including background."""
        return len(self.names) + 1

    def key_of(self, name: str) -> int | None:
        try:
            return self.names.index(name) + 1
        except ValueError:
            return None

    def name_of(self, key: int) -> str:
        return BACKGROUND if key == 0 else self.names[key - 1]

    def hex_of(self, key: int) -> str:
        return BACKGROUND_HEX if key == 0 else _class_colour(key)

    def palette(self) -> list[RGB]:
        """RGB colour of every class key, background first."""
        return [hex_to_rgb(self.hex_of(k)) for k in range(self.n_classes)]

    def color_map(self, confidences: Sequence[float]) -> dict[str, dict[str, Any]]:
        """Ground Truth's ``internal-color-map``: ``{"0": {"class-name", "hex-color", "confidence"}, ...}``."""
        return {
            str(k): {"class-name": self.name_of(k), "hex-color": self.hex_of(k), "confidence": confidences[k]}
            for k in range(self.n_classes)
        }


def parse_label_list(text: str | None) -> list[str] | None:
    """A configured label list: a JSON array of strings, or comma-separated names. Empty → ``None``."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if stripped.startswith("["):
        value = json.loads(stripped)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("TALLY_LABELS must be a JSON array of strings or comma-separated names")
        return [str(v) for v in value]
    return [part.strip() for part in stripped.split(",") if part.strip()]


def parse_label_category_file(document: Any) -> list[str]:
    """Label names from a ``LabelCategoryConfigS3Uri`` document (``{"labels": [{"label": ...}]}``)."""
    labels = document.get("labels") if isinstance(document, dict) else None
    if not isinstance(labels, list):
        raise ValueError("label category file has no 'labels' list")
    names = [item["label"] for item in labels if isinstance(item, dict) and isinstance(item.get("label"), str)]
    if not names:
        raise ValueError("label category file lists no labels")
    return names


def resolve_class_table(
    *,
    event_labels: Sequence[str] | None,
    configured: Sequence[str] | None,
    job_labels: Callable[[], Sequence[str] | None],
    batch_labels: Callable[[], Iterable[str]],
) -> ClassTable:
    """Pick the ordered label list by the precedence in the module docstring.

    ``job_labels`` and ``batch_labels`` are called only when needed (the first may reach AWS).
    """
    if event_labels:
        return ClassTable(tuple(event_labels), "event")
    if configured:
        return ClassTable(tuple(configured), "configured")
    from_job = job_labels()
    if from_job:
        return ClassTable(tuple(from_job), "label-category-file")
    return ClassTable(tuple(sorted(set(batch_labels()))), "batch")
