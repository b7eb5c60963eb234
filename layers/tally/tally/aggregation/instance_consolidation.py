"""Consolidate instance masks (and polygons, rasterised to instances): the geometric core
(:mod:`tally.aggregation.geometric`) on mask IoU, fused by a pixel vote inside each matched cluster.

Each answer is one instance map (0: no instance, ``k + 1``: instance *k*). The maps of an object are
tabulated once (:func:`~tally.aggregation.instance_fusion.tabulate_instances`: the distinct per-pixel
tuples of instance ids), and the IoUs and the vote run over that table
(:func:`~tally.aggregation.instance_fusion.fuse_instance_table`). Instance maps cannot hold one
worker's two masks on the same pixels, so there is no duplicate step.

The batch fit needs only each object's labels and similarities: :meth:`InstanceConsolidation.summary`
drops the maps, so a batch of 1280x960 answers is not kept whole until the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .base import Consolidated, ObjectItems, WorkerItems
from .geometric import ItemConsolidation
from .instance_fusion import fuse_instance_table, table_iou, tabulate_instances
from .matching import Cluster, item_offsets
from .vote_table import VoteTable

__all__ = ["InstanceConsolidation"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class InstanceConsolidation(ItemConsolidation[VoteTable]):
    """Match, keep and fuse the instance masks of a batch (this module's and
    :mod:`~tally.aggregation.geometric`'s docstrings).

    Fitted statistics: ``worker_statistics_``, per worker ID the eight evidence counts of
    :data:`~tally.aggregation.geometric.EVIDENCE_FIELDS` (a job's next batch takes their sum as ``prior``).

    Examples:
        >>> square = np.zeros((4, 6), dtype=np.uint8)
        >>> square[0:3, 0:3] = 1
        >>> shifted = np.roll(square, 1, axis=1)
        >>> obj = ObjectItems(
        ...     (WorkerItems("a", ("cat",), square), WorkerItems("b", ("cat",), square),
        ...      WorkerItems("c", ("cat",), shifted)), width=6, height=4)
        >>> result = InstanceConsolidation().fit_predict([obj])[0]
        >>> result.labels, result.geometry[0].tolist(), result.workers
        (['cat'], [1, 1, 1, 0, 0, 0], [('a', 'b', 'c')])
    """

    def predict(self, observation: ObjectItems, table: VoteTable | None = None) -> Consolidated:
        """The kept and fused instances of one object; ``table`` is its :meth:`instance_table` when
        already built (then ``observation`` may be its :meth:`summary`, without the maps)."""
        if not observation.answers:
            return self._empty(observation)
        if table is None:
            if observation.similarity is not None and any(a.geometry.size == 0 for a in observation.answers):
                raise ValueError("a fit summary without its instance maps cannot be predicted: pass its table")
            self._validate(observation)
            table = self.instance_table(observation)
        return self._predict(observation, table)

    def instance_table(self, obj: ObjectItems) -> VoteTable:
        """The distinct tuples of the answers' instance maps (what matching and fusing instances read)."""
        return tabulate_instances([np.asarray(a.geometry) for a in obj.answers], [len(a.labels) for a in obj.answers])

    def summary(self, obj: ObjectItems, table: VoteTable | None = None) -> ObjectItems:
        """What :meth:`fit` needs of ``obj``: the items' labels and their similarity matrix without the
        instance maps (a 1280x960 map per answer would otherwise be kept for every object of the batch
        until the fit). ``table``: the object's :meth:`instance_table`, when built."""
        if obj.similarity is not None:
            return obj
        self._validate(obj)
        similarity = self._similarity(obj, table)
        empty = np.zeros((0, 0), dtype=np.uint8)
        answers = tuple(WorkerItems(a.worker, a.labels, empty) for a in obj.answers)
        return ObjectItems(answers, obj.width, obj.height, similarity)

    def _check_answer(self, obj: ObjectItems, answer: WorkerItems) -> None:
        geometry = np.asarray(answer.geometry)
        if geometry.shape != (obj.height, obj.width):
            raise ValueError(
                f"worker {answer.worker}: instance map is {geometry.shape}, the image {obj.height}x{obj.width}"
            )

    def _no_items(self, obj: ObjectItems) -> npt.NDArray[np.generic]:
        return np.zeros((obj.height, obj.width), dtype=np.int32)

    def _item_similarity(self, obj: ObjectItems, prepared: VoteTable | None) -> FloatArray:
        answers = obj.answers
        offsets = item_offsets([a.labels for a in answers])
        matrix = np.zeros((offsets[-1], offsets[-1]))
        counts = [len(a.labels) for a in answers]
        if offsets[-1] == 0:
            return matrix
        votes = prepared if prepared is not None else self.instance_table(obj)
        for a, n_a in enumerate(counts):
            for b in range(a + 1, len(answers)):
                if n_a and counts[b]:
                    block = table_iou(votes, a, n_a, b, counts[b])
                    matrix[offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]] = block
                    matrix[offsets[b] : offsets[b + 1], offsets[a] : offsets[a + 1]] = block.T
        return matrix

    def _fuse(
        self, obj: ObjectItems, kept: Sequence[Cluster], weights: FloatArray, prepared: VoteTable | None
    ) -> tuple[npt.NDArray[np.generic], list[int]]:
        votes = prepared if prepared is not None else self.instance_table(obj)
        instance_map, order, _ = fuse_instance_table(votes, [c.members for c in kept], weights.tolist())
        return instance_map, order
