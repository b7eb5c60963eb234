"""Digests of every output of both segmentation votes, to prove a speed change leaves them byte-identical.

Runs ``majority`` and the default ``reliability`` vote (observe, fit, consolidate) on the simulated
crowds of :mod:`tests.sim.segmentation` (every crowd, several seeds, every image size) and prints one
SHA-256 per crowd, seed and vote over: every PNG written (masks, confidence maps), every object's
label and metadata JSON (floats by ``repr``), the observed vote tuples (the table's nonempty tuples
in order and each pixel's tuple), and the fitted worker
accuracies. Run it before and after a change and compare (``--save FILE`` / ``--check FILE``)::

    PYTHONPATH=. .venv/bin/python bench/vote_digest.py --save /tmp/before.json
    PYTHONPATH=. .venv/bin/python bench/vote_digest.py --check /tmp/before.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from typing import Any, Literal

import numpy as np

from tally.gt.answers import Answer
from tally.gt.events import DatasetObject
from tally.labels import LabelSet
from tally.settings import Settings
from tally.storage import MemoryStorage
from tally.tasks import JobContext, SemanticSegmentation
from tally.vote import VoteTable
from tests.sim.segmentation import CROWDS, crowd_batch


def _votes_bytes(summary: Any) -> bytes:
    if summary is None:
        return b"none"
    parts = [repr(summary.workers).encode(), summary.votes.tobytes(), summary.counts.tobytes(), summary.group.tobytes()]
    return b"|".join(parts)


def _table_bytes(table: VoteTable) -> bytes:
    """The vote table as the votes see it: its tuples of nonzero count in order, their counts, and
    each pixel's rank among them (a table may carry empty tuples, and number its rows differently)."""
    present = table.counts > 0
    rank = np.cumsum(present) - 1
    inverse = rank[np.asarray(table.inverse, dtype=np.intp)]
    return table.votes[present].tobytes() + table.counts[present].tobytes() + inverse.astype(np.int64).tobytes()


def digest_batch(
    crowd_key: str, seed: int, objects: int, scale: float, algorithm: Literal["majority", "reliability"]
) -> str:
    crowd = next(c for c in CROWDS if c.key == crowd_key)
    batch = crowd_batch(crowd, objects, seed, scale=scale)
    labels = LabelSet(tuple(batch.labels), "event")
    storage = MemoryStorage()
    settings = Settings(algorithm=algorithm, confidence_maps=True)  # every output tally can write
    task = SemanticSegmentation(settings)
    job = JobContext(labels, {}, storage, "s3://digest/out", settings)
    task.prepare(job)
    h = hashlib.sha256()
    observed = []
    for obj in batch.objects:
        answers = [
            Answer(w, c["crowd-semantic-segmentation"], c, {})
            for w, c in zip(obj.worker_ids, obj.contents, strict=True)
        ]
        dataset_object = DatasetObject.model_validate({"datasetObjectId": obj.object_id})
        seen = task.observe(dataset_object, answers, job)
        h.update(_votes_bytes(seen.summary))
        h.update(_table_bytes(seen.prepared.table))
        observed.append((dataset_object, seen))
    model = None
    if task.uses_batch_model:
        model = task.fit([(o.dataset_object_id, s.summary) for o, s in observed if s.summary is not None], job)
        h.update(repr(sorted(model.accuracy_.items())).encode() + repr(model.mean_accuracy_).encode())
    for dataset_object, seen in observed:
        result = task.consolidate(dataset_object, seen, model, job)
        # what the result says, not how the response sink may pack it (batch_figures: which
        # worker-quality keys it may move to a per-batch file), so digests compare across versions
        fields = {k: v for k, v in dataclasses.asdict(result).items() if k != "batch_figures"}
        h.update(json.dumps(fields, sort_keys=True, default=repr).encode())
    for uri in sorted(storage.objects):
        h.update(uri.encode() + storage.objects[uri])
    return h.hexdigest()


def all_digests(objects: int, seeds: list[int], scale: float) -> dict[str, str]:
    out = {}
    algorithms: tuple[Literal["majority", "reliability"], ...] = ("majority", "reliability")
    for crowd in CROWDS:
        for seed in seeds:
            for algorithm in algorithms:
                key = f"{crowd.key}/{seed}/{algorithm}"
                out[key] = digest_batch(crowd.key, seed, objects, scale, algorithm)
                print(key, out[key][:16], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=4, help="objects per crowd and seed (sizes cycle)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--save", help="write the digests to this JSON file")
    parser.add_argument("--check", help="compare with the digests in this JSON file")
    args = parser.parse_args()
    digests = all_digests(args.objects, args.seeds, args.scale)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(digests, f, indent=1, sort_keys=True)
    if args.check:
        with open(args.check) as f:
            expected = json.load(f)
        differ = sorted(k for k in expected if digests.get(k) != expected[k])
        if differ or set(expected) != set(digests):
            print("DIFFERENT:", ", ".join(differ) or "key sets differ")
            sys.exit(1)
        print(f"identical: {len(digests)} digests")


if __name__ == "__main__":
    main()
