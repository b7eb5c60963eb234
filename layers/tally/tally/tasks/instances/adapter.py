"""The instance-segmentation task (``<crowd-instance-segmentation>``): each worker's instance PNG read
through their instance colours, instances matched across workers and fused by pixel
(:class:`~tally.aggregation.instance_consolidation.InstanceConsolidation`); the label points at an
instance mask and a class mask written beside the job's other artefacts (:mod:`tally.tasks.geometry`
describes what every geometric task shares)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ...aggregation.base import Consolidated, ObjectItems
from ...aggregation.geometric import ItemConsolidation
from ...aggregation.instance_consolidation import InstanceConsolidation
from ...aggregation.instance_fusion import MAX_INSTANCES, instance_map_from_colours, instance_map_from_palette
from ...aggregation.vote_table import VoteTable
from ...codecs import decode_png, encode_palette_png, palette_indices
from ...colours import assign_colours, hex_to_rgb
from ...errors import AnswerError
from ...gt.answers import Answer, AnswerIssue
from ...gt.events import DatasetObject
from ...gt.response import artefact_name
from ...labels import ClassTable, LabelSet
from ...storage import join_uri
from ..base import DIGITS, JobContext, Observed, known_labels
from ..geometry import Common, Geometric, Parsed, image_size, item_list, kept_ids
from ..kind import ClassColour
from . import Instance, InstancesResult, InstancesShape, NoInstances

__all__ = ["InstanceSegmentation"]


def read_instance_map(image: Image.Image, colours: Sequence[tuple[int, int, int]]) -> npt.NDArray[np.uint8]:
    """A decoded instance PNG → instance map: per palette entry for palette PNGs (what Ground Truth's
    tool writes), per pixel otherwise."""
    if image.mode == "P":
        palette = np.asarray(image.getpalette("RGB") or [], dtype=np.int64).reshape(-1, 3)
        alpha = np.full(len(palette), 255, dtype=np.int64)
        transparency = image.info.get("transparency")
        if isinstance(transparency, int) and transparency < len(alpha):
            alpha[transparency] = 0
        elif isinstance(transparency, bytes):
            t = np.frombuffer(transparency[: len(alpha)], dtype=np.uint8)
            alpha[: len(t)] = t
        indices = palette_indices(image)
        return np.asarray(instance_map_from_palette(indices, palette, colours, palette_alpha=alpha), dtype=np.uint8)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    return np.asarray(instance_map_from_colours(rgba[..., :3], colours, alpha=rgba[..., 3]), dtype=np.uint8)


class InstanceSegmentation(InstancesShape, Geometric):
    algorithm = InstanceConsolidation

    def __init__(self) -> None:
        self._classes: ClassTable | None = None

    def prepare(self, job: JobContext) -> None:
        self._classes = ClassTable.build(job.require_labels())

    def _observed(
        self, whole: ObjectItems, issues: list[AnswerIssue], sources: tuple[tuple[int, ...], ...] | None = None
    ) -> Observed[ObjectItems, VoteTable | None]:
        """The fit reads the summary (labels and similarities, no maps), kept for the whole batch; the
        consolidation reads the summary and the maps' tuple table, tabulated once here."""
        model = InstanceConsolidation()
        table = model.instance_table(whole)
        nbytes = int(table.inverse.nbytes + table.votes.nbytes + table.counts.nbytes)
        summary = model.summary(whole, table)
        return Observed(summary, table, issues, nbytes=nbytes, answers_used=len(whole.answers), sources=sources)

    def _predict(
        self, model: ItemConsolidation[Any], observed: Observed[ObjectItems, VoteTable | None]
    ) -> Consolidated:
        assert observed.summary is not None and isinstance(model, InstanceConsolidation)
        return model.predict(observed.summary, observed.prepared)

    def _parse(self, answer: Answer, labels: LabelSet) -> tuple[Parsed, tuple[int, int]]:
        raw = item_list(answer.element, self.key)
        if len(raw) > MAX_INSTANCES:
            raise AnswerError(f"{len(raw)} instances; at most {MAX_INSTANCES} per answer")
        image_data = answer.element.get("labeledImage")
        png = image_data.get("pngImageData") if isinstance(image_data, dict) else None
        if not isinstance(png, str):
            raise AnswerError("labeledImage has no pngImageData")
        size = image_size(answer.element)
        image = decode_png(png, expected_size=size)
        try:
            colours = [hex_to_rgb(str(i.get("color"))) for i in raw]
        except ValueError as exc:
            raise AnswerError("an instance colour is not a hex colour") from exc
        instance_map = read_instance_map(image, colours)
        indices, warnings = known_labels(labels, [str(i.get("label")) for i in raw], "items")
        return self._keep_known(instance_map, indices, warnings), (image.width, image.height)

    @staticmethod
    def _keep_known(instance_map: npt.NDArray[np.integer], indices: list[int | None], warnings: list[str]) -> Parsed:
        """Instances of unknown labels, and instances without a pixel, are left out; the rest renumbered."""
        present = np.bincount(np.asarray(instance_map).ravel(), minlength=len(indices) + 1)[1 : len(indices) + 1] > 0
        renumber = np.zeros(len(indices) + 1, dtype=np.uint8)
        classes: list[int] = []
        sources: list[int] = []
        for k, (index, has_pixels) in enumerate(zip(indices, present.tolist(), strict=True)):
            if index is not None and has_pixels:
                classes.append(index)
                sources.append(k)
                renumber[k + 1] = len(classes)
        return Parsed(classes, renumber[instance_map], warnings, sources)

    def _result(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext, common: Common
    ) -> InstancesResult:
        classes = self._classes
        if classes is None:
            raise RuntimeError("prepare() was not called for this batch")
        instance_map = np.asarray(result.geometry)
        n = len(result.labels)
        colours = assign_colours([str(k) for k in range(n)], {})
        palette = [(255, 255, 255), *(hex_to_rgb(c) for c in colours)]
        instance_png = encode_palette_png(instance_map.astype(np.uint8), palette)
        lut = np.array([0, *(c + 1 for c in kept_ids(result))], dtype=np.uint8)
        class_png = encode_palette_png(lut[instance_map], classes.palette())
        name = artefact_name(obj.dataset_object_id, instance_png + class_png, "")
        instance_uri = join_uri(job.artefact_prefix, f"{name}-instances.png")
        class_uri = join_uri(job.artefact_prefix, f"{name}-classes.png")
        job.storage.write(instance_uri, instance_png, "image/png")
        job.storage.write(class_uri, class_png, "image/png")
        names = job.require_labels().names
        instances = tuple(
            Instance(names[c], colours[k], round(float(result.confidence[k]), DIGITS), tuple(result.workers[k]))
            for k, c in enumerate(kept_ids(result))
        )
        colour_map = tuple(ClassColour(str(k), classes.name_of(k), classes.hex_of(k)) for k in range(classes.n_classes))
        return InstancesResult(
            instance_uri,
            class_uri,
            instances,
            colour_map,
            common.image_size,
            common.confidence,
            common.worker_quality,
            # a gold object's empty result is its gold answer (the truth), not a vote that kept nothing
            None
            if instances or common.gold
            else NoInstances.of([(a.worker, len(a.labels)) for a in items.answers], common.warned),
        )
