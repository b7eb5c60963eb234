"""Which labels a job has, and the class key and colour each one gets in a mask.

The ordered label list comes from the first of these that is available:

1. ``labelCategories`` in the consolidation event;
2. the labels configured for the deployment (``TALLY_LABELS``, the template's ``Labels`` parameter);
3. the job's label category file, found through ``DescribeLabelingJob`` and cached per container
   (the same list for every batch of a job, so keys stay stable across batches);
4. last resort: the sorted names of every label the batch's workers used. Keys are then stable only
   while batches see the same labels, so this source is reported on every label it produces.

Label *i* of the list is ``class_id`` *i* of classification and box outputs (0-based, as Ground
Truth's built-in tasks write it) and class key *i + 1* of a segmentation mask (key 0 is
``BACKGROUND``, ``#ffffff``). Names must be unique; a list that repeats one is a :class:`ConfigError`
that fails every object with that reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .colours import BACKGROUND_HEX, FAR, RGB, assign_colours, hex_to_rgb
from .errors import ConfigError

__all__ = [
    "BACKGROUND",
    "MAX_MASK_CLASSES",
    "ClassTable",
    "LabelSet",
    "LabelSource",
    "batch_labels",
    "parse_label_category_file",
    "parse_label_list",
    "resolve_labels",
]

BACKGROUND = "BACKGROUND"
MAX_MASK_CLASSES = FAR - 1
"""Labels a palette mask can hold: 256 entries, less background (0), the far-background marker (254)
and the no-vote marker (255)."""
LabelSource = Literal["event", "configured", "label-category-file", "template", "batch"]
"""``template``: a form field's options, as its worker template lists them (:mod:`tally.forms`)."""


@dataclass(frozen=True)
class LabelSet:
    """The job's labels in order and where they came from."""

    names: tuple[str, ...]
    source: LabelSource

    def __post_init__(self) -> None:
        repeated = sorted(name for name, n in Counter(self.names).items() if n > 1)
        if repeated:
            shown = ", ".join(repeated[:5])
            raise ConfigError(f"the job's labels ({self.source}) repeat {shown}: label names must be unique")

    def index(self, name: str) -> int | None:
        """0-based position of ``name`` (the built-in tasks' ``class_id``), ``None`` when unknown."""
        try:
            return self.names.index(name)
        except ValueError:
            return None


@dataclass(frozen=True)
class ClassTable:
    """A segmentation mask's classes: key ``i + 1`` for ``labels.names[i]``, key 0 background, and the
    colour of each (:func:`tally.colours.assign_colours`)."""

    labels: LabelSet
    colours: tuple[str, ...]

    @classmethod
    def build(cls, labels: LabelSet, painted: Mapping[str, Counter[str]] | None = None) -> ClassTable:
        if len(labels.names) > MAX_MASK_CLASSES:
            raise ConfigError(
                f"the job has {len(labels.names)} labels; a palette mask holds at most {MAX_MASK_CLASSES}"
            )
        return cls(labels, assign_colours(labels.names, painted or {}))

    @property
    def names(self) -> tuple[str, ...]:
        return self.labels.names

    @property
    def source(self) -> LabelSource:
        return self.labels.source

    @property
    def n_classes(self) -> int:
        """Number of classes including background."""
        return len(self.names) + 1

    def key_of(self, name: str) -> int | None:
        index = self.labels.index(name)
        return None if index is None else index + 1

    def name_of(self, key: int) -> str:
        return BACKGROUND if key == 0 else self.names[key - 1]

    def hex_of(self, key: int) -> str:
        return BACKGROUND_HEX if key == 0 else self.colours[key - 1]

    def palette(self) -> list[RGB]:
        """RGB colour of every class key, background first."""
        return [hex_to_rgb(self.hex_of(k)) for k in range(self.n_classes)]

    def color_map(self, confidences: Sequence[float]) -> dict[str, dict[str, Any]]:
        """Ground Truth's ``internal-color-map``: ``{"0": {"class-name", "hex-color", "confidence"}, ...}``."""
        return {
            str(k): {"class-name": self.name_of(k), "hex-color": self.hex_of(k), "confidence": confidences[k]}
            for k in range(self.n_classes)
        }


NOT_A_LABEL_LIST = 'not a JSON array of strings (quote each name: ["road", "car"]) nor comma-separated names'


def parse_label_list(text: str | None) -> list[str] | None:
    """A configured label list: a JSON array of strings, or comma-separated names. Empty → ``None``.

    The one check of a label list given by hand (``TALLY_LABELS`` / the ``Labels`` parameter and the
    command line's ``--labels``), so both fail with the same reason: raises ``ValueError`` for JSON
    that does not parse (``[road, car]``: quote each name), a JSON value that is not an array of
    strings, and a name listed twice.

    >>> parse_label_list("road, car")
    ['road', 'car']
    >>> parse_label_list("road,road")
    Traceback (most recent call last):
    ...
    ValueError: a label is listed twice: road (label names must be unique)
    """
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            raise ValueError(NOT_A_LABEL_LIST) from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("not a JSON array of strings nor comma-separated names")
        names = [str(v) for v in value]
    else:
        names = [part.strip() for part in stripped.split(",") if part.strip()]
    repeated = sorted(name for name, n in Counter(names).items() if n > 1)
    if repeated:
        shown = ", ".join(repeated[:5])
        raise ValueError(f"a label is listed twice: {shown} (label names must be unique)")
    return names


def parse_label_category_file(document: Any) -> list[str]:
    """Label names from a ``LabelCategoryConfigS3Uri`` document (``{"labels": [{"label": ...}]}``)."""
    labels = document.get("labels") if isinstance(document, dict) else None
    if not isinstance(labels, list):
        raise ValueError("label category file has no 'labels' list")
    names = [item["label"] for item in labels if isinstance(item, dict) and isinstance(item.get("label"), str)]
    if not names:
        raise ValueError("label category file lists no labels")
    return names


def resolve_labels(
    *,
    event_labels: Sequence[str] | None,
    configured: Sequence[str] | None,
    job_labels: Callable[[], Sequence[str] | None],
) -> LabelSet | None:
    """The ordered label list by the precedence in the module docstring, or ``None`` when only the
    batch itself can tell (:func:`batch_labels`). ``job_labels`` is called only when needed (it may
    reach AWS). Raises :class:`ConfigError` for repeated names."""
    if event_labels:
        return LabelSet(tuple(event_labels), "event")
    if configured:
        return LabelSet(tuple(configured), "configured")
    from_job = job_labels()
    if from_job:
        return LabelSet(tuple(from_job), "label-category-file")
    return None


def batch_labels(used: Iterable[str]) -> LabelSet:
    """The last resort: the sorted names of every label the batch's workers used."""
    return LabelSet(tuple(sorted(set(used))), "batch")
