"""What one task type declares: :class:`TaskKind` (its shape, its adapter, its output types, its typed
result and its views), and what its results and views share.

Each task type is a package ``tally.tasks.<type>`` whose light ``__init__`` (no numpy, no Pillow, no
algorithms) defines a :class:`TaskKind`; its adapter (the task class of :mod:`tally.tasks.base`, with
numpy and the aggregation algorithms) is a module of the package imported only when a batch is
consolidated as that type. :mod:`tally.tasks.registry` lists the kinds, one line each.

The views are what the tools (and pre-annotation) need of an output label, read back into the kind's
typed result (``from_gt``): the pre-annotation prior, the built-in and COCO export rows, and, for
``tally report``, the labels an object shows, each worker's agreement with the consensus, the items
numbered on the page and the overlays it draws, or, for a kind whose consensus is no image, a figure;
and the rows of ``tally export``'s CSV and JSONL. A view says *what* to draw, in the vocabulary of
:mod:`tally.tasks.figures` (imported by the views when called, never on a handler's import path); the
report draws it. :class:`Views` answers "nothing" to everything, so a new type implements only the
views it has.

A typed result has ``to_gt()`` (``content[<attr>]`` without the entries every result shares: ``type``,
rejected answers and warnings, which :class:`~tally.gt.response.ObjectResult` adds) and a class method
``from_gt(label)`` reading such a label back (raising ``KeyError`` naming a missing key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:  # importing numpy.typing imports numpy: this module stays light
    import numpy.typing as npt

    from .figures import Figure, MarkedText, Overlay

__all__ = [
    "ClassColour",
    "CocoSink",
    "ImageSize",
    "ItemsShape",
    "ReviewAnswer",
    "ReviewSubject",
    "Shape",
    "TaskKind",
    "Views",
    "WorkerQuality",
]


class Shape(Protocol):
    """The light half of a task: what its answers look like (the element keys that mark them are
    declared by the kind's registry line, :class:`~tally.tasks.registry.TaskEntry`)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    def recognises(self, element: Mapping[str, Any]) -> bool: ...

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]: ...


class ItemsShape:
    """A list of labelled items under ``key`` (boxes, keypoints, instances, polygons)."""

    name: str
    type: str
    key: str

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get(self.key), list)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(i["label"]), None) for i in element[self.key] if isinstance(i, dict) and "label" in i]


class WorkerQuality(NamedTuple):
    """One row of a label's ``worker-quality``: the worker and their figures (``None``: no evidence;
    a ranking's are ``{dimension: figure}`` each), in the label's order."""

    worker_id: str
    figures: tuple[tuple[str, Any], ...]

    def to_gt(self) -> dict[str, Any]:
        return {"workerId": self.worker_id, **dict(self.figures)}

    @classmethod
    def from_gt(cls, row: Mapping[str, Any]) -> WorkerQuality:
        return cls(str(row.get("workerId")), tuple((k, v) for k, v in row.items() if k != "workerId"))

    @classmethod
    def rows(cls, label: Mapping[str, Any]) -> tuple[WorkerQuality, ...]:
        """A label's ``worker-quality`` rows (none when the label has none)."""
        return tuple(cls.from_gt(r) for r in label.get("worker-quality", []) or [] if isinstance(r, Mapping))


class ImageSize(NamedTuple):
    """A label's ``image_size`` (Ground Truth's shape: a list of one ``{width, height, depth}``)."""

    width: int
    height: int
    depth: int = 3

    def to_gt(self) -> list[dict[str, int]]:
        return [{"width": self.width, "height": self.height, "depth": self.depth}]

    @classmethod
    def from_gt(cls, value: Any) -> ImageSize:
        first = value[0]
        return cls(first["width"], first["height"], first.get("depth", 3))

    @classmethod
    def of(cls, label: Mapping[str, Any]) -> ImageSize | None:
        """A label's ``image_size``, ``None`` when it has none (a label written by hand, or by another
        tool: the views that need the size say so)."""
        return cls.from_gt(label["image_size"]) if "image_size" in label else None

    @staticmethod
    def into(label: dict[str, Any], size: ImageSize | None) -> None:
        """Add ``size`` to ``label`` as ``image_size`` (nothing when ``None``)."""
        if size is not None:
            label["image_size"] = size.to_gt()


class ClassColour(NamedTuple):
    """One entry of a label's ``internal-color-map``: the class key (0 the background), the class's
    name and colour, and its confidence where the label gives one (semantic segmentation)."""

    key: str
    class_name: str
    hex_color: str
    confidence: float | None = None

    def to_gt(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"class-name": self.class_name, "hex-color": self.hex_color}
        if self.confidence is not None:
            entry["confidence"] = self.confidence
        return entry

    @staticmethod
    def map_to_gt(entries: Iterable[ClassColour]) -> dict[str, dict[str, Any]]:
        """The ``internal-color-map`` of ``entries``."""
        return {e.key: e.to_gt() for e in entries}

    @classmethod
    def map_from_gt(cls, colour_map: Mapping[str, Any]) -> tuple[ClassColour, ...]:
        """A label's ``internal-color-map`` read back, in its order."""
        return tuple(
            cls(str(key), e["class-name"], e["hex-color"], e.get("confidence")) for key, e in colour_map.items()
        )


class ReviewSubject(Protocol):
    """What a report view may read of an object besides its label: its artefacts (masks)."""

    @property
    def artefacts(self) -> Mapping[str, bytes]: ...

    def indices(self, name: str) -> npt.NDArray[Any]: ...


class ReviewAnswer(Protocol):
    """One worker's answer as the report read it (``value``: the element, ``None`` when unreadable)."""

    @property
    def worker_id(self) -> str: ...

    @property
    def value(self) -> dict[str, Any] | None: ...

    def regions(self) -> tuple[npt.NDArray[Any], list[str]] | None: ...


class CocoSink(Protocol):
    """What a COCO view writes into (:class:`tally.tools.export.CocoBuilder`)."""

    def category(self, name: str, index: int | None) -> int: ...

    def annotation(self, image_id: int, category: int, **fields: Any) -> None: ...

    def mask(self, uri: str, key: str) -> npt.NDArray[Any]: ...

    def sized(self, image: dict[str, Any], mask: npt.NDArray[Any]) -> None: ...

    def keypoints(self, image_id: int, points: Sequence[Mapping[str, Any]]) -> None: ...

    def keypoint_names(self, category: int, count: int) -> None:
        """Category ``category`` holds lines of up to ``count`` points, named ``v1``…, joined in order."""
        ...


class Views:
    """A task type's views of its typed result (module docstring). Every method here answers
    "nothing"; a kind overrides the ones it has. ``visual``: the report draws the object's image
    (else the consensus is text); ``shaded_items``: the items are drawn in shades of their class."""

    visual = False
    shaded_items = False

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """The worker template's ``initialValue`` from a prior label of the type on a manifest line
        (``value``: ``line[<attr>]``, tally's label or the built-in's; ``meta``: its metadata), or ``None``."""
        return None

    prior_rank = 9
    """Which prior wins when a line has labels of several kinds (lower first); within a rank, the
    newest ``creation-date``."""

    def builtin(self, result: Any, attr: str, common: Callable[[str | None], dict[str, Any]]) -> dict[str, Any] | None:
        """The line's label keys in Ground Truth's built-in shape (``common(type)``: the metadata's
        common entries, with ``type`` replaced when given), or ``None``: no built-in shape."""
        return None

    def coco(self, result: Any, image: dict[str, Any], sink: CocoSink) -> bool:
        """Add the result's annotations for ``image``; ``False``: nothing COCO holds."""
        return False

    def labels(self, result: Any, subject: ReviewSubject) -> list[str]:
        """The label names the consensus uses (the report's filter and legend)."""
        return []

    def agreement(self, result: Any, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """How far ``answer`` agrees with the consensus, 0–1 (``None``: not measurable)."""
        return None

    def items(self, result: Any) -> list[tuple[str, float | None]]:
        """The consensus's items numbered on the page, ``(label, confidence)`` each."""
        return []

    def consensus(self, result: Any, subject: ReviewSubject, tags: Sequence[str]) -> list[Overlay]:
        """The consensus's overlays (``tags``: one per item of :meth:`items`)."""
        return []

    def consensus_text(self, result: Any) -> MarkedText | None:
        """The consensus as marked text (a text type), or ``None``."""
        return None

    def answer_overlays(self, answer: Mapping[str, Any]) -> list[Overlay]:
        """A worker's answer (the element) drawn over the image."""
        return []

    def answer_summary(self, answer: Mapping[str, Any]) -> str | MarkedText | None:
        """A worker's answer in words (or marked text), for a type the report does not draw."""
        return None

    def answer_notes(self, answer: ReviewAnswer, classes: set[str]) -> list[str]:
        """What an answer's drawing does not show (colours it did not map, labels the job lacks)."""
        return []

    def figure(self, result: Any) -> Figure | None:
        """The consensus, with the workers' answers, as a figure (a kind the report does not draw over
        an image), or ``None``."""
        return None

    def rows(self, result: Any) -> list[dict[str, Any]]:
        """The result as flat rows for ``tally export --format csv/jsonl`` (none: nothing to write)."""
        return []


class TaskKind(NamedTuple):
    """One task type, as its package declares it (module docstring).

    Attributes:
        shape: how its answers are recognised (light).
        task: the task class, ``"<module>:<Class>"`` with the module relative to the kind's package
            (``".adapter:Name"``; imported per batch).
        from_gt: reads one of its labels back into its typed result (the result's ``from_gt``;
            ``None``: a kind without a typed result); the views take what it returns.
        views: its views.
        configured: whether the task class takes the :class:`~tally.settings.Settings`.
    """

    shape: Shape
    task: str
    from_gt: Callable[[Mapping[str, Any]], Any] | None = None
    views: Views = Views()  # stateless: one instance serves every kind without views
    configured: bool = False
