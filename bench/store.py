"""Worker store benchmark (issue 14): what a batch costs in DynamoDB, and what small batches gain.

1. **Cost per batch**: :class:`tally.DynamoWorkerStore` on moto's DynamoDB, a classification job
   sent in batches of 1, 2, 10 and 50 objects (3 and 12 classes: 9 and 144 values per worker, the
   latter two items per worker). Counted per batch: calls (round trips), items asked and written, and
   the largest batch record's size (request units follow from item sizes: docs/worker-models.md).
2. **Quality by batch position**: the simulated job of :mod:`tests.sim.jobs` (200 objects, 1–3 answers
   each, 8 workers among them a swapper, a spammer and a biased one) sent as batches of 1 and 2 objects
   with an in-memory store, as the same batches without a store, and as one 200-object batch.
   Accuracy of the consolidated class, per range of object positions. Seeds 0–2 were looked at while
   writing the tests (tuning); the table uses report seeds 10–19.
3. **Boxes by position**: simulated box crowds (:data:`tests.sim.geometry.CROWDS`), 100 images per
   crowd and seed (report seeds 10–14), batches of 1 and 2 images: box F1 at IoU 0.5 for one batch,
   small batches with the store's steps (load, fit with the prior, record), and small batches alone.

Run: ``.venv/bin/python bench/store.py`` (writes ``bench/results/store.md``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from bench.boxes import Score, score_boxes  # noqa: E402
from tally.aggregation.box_consolidation import BoxConsolidation  # noqa: E402
from tally.stores.dynamodb import DynamoWorkerStore  # noqa: E402
from tally.worker_store import InMemoryWorkerStore  # noqa: E402
from tests.sim.classification import classification_crowd  # noqa: E402
from tests.sim.geometry import CROWDS, box_batch  # noqa: E402
from tests.sim.jobs import POOL, accuracy, classification_objects, job_crowd, run_batch, split  # noqa: E402
from tests.store.dynamo import TABLE, create_table  # noqa: E402

REPORT_SEEDS = tuple(range(10, 20))
TUNING_SEEDS = (0, 1, 2)
RANGES = ((0, 10), (10, 30), (30, 100), (100, 200))


class Counting:
    """A DynamoDB client that counts calls and items."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "batch_get_item":
                self.items["asked"] += sum(len(v["Keys"]) for v in kwargs["RequestItems"].values())
            if name == "transact_write_items":
                self.items["written"] += len(kwargs["TransactItems"])
            if name == "get_item":
                self.items["asked"] += 1
            return method(**kwargs)

        return call


def cost_table(seed: int) -> list[str]:
    rows = [
        "| classes | objects per batch | batches | calls per batch (load + record) | items asked per batch | items written per batch | batch record bytes (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for n_classes, labels in ((3, ["Dog", "Cat", "Bird"]), (12, [f"c{i}" for i in range(12)])):
        for size in (1, 2, 10, 50):
            with mock_aws():
                client = boto3.resource("dynamodb", region_name="us-east-1").meta.client
                create_table(client)
                counting = Counting(client)
                store = DynamoWorkerStore(counting, TABLE)
                crowd = classification_crowd(
                    np.random.default_rng(seed), 200, POOL, n_classes=n_classes, answers=(1, 3)
                )
                objects = _objects(crowd, labels)
                batches = split(len(objects), [size])
                for b, part in enumerate(batches):
                    run_batch([objects[i] for i in part], store, uri=f"s3://bucket/{b}.json", labels=labels)
                records = [i for i in client.scan(TableName=TABLE)["Items"] if "#b#" in str(i["sk"])]
                biggest = max(len(bytes(i["prior"].value)) for i in records)
                n = len(batches)
                asked, written = counting.items["asked"] / n, counting.items["written"] / n
                rows.append(
                    f"| {n_classes} | {size} | {n} | {counting.calls['batch_get_item'] / n:.2f} + {counting.calls['transact_write_items'] / n:.2f}"
                    f" | {asked:.1f} | {written:.1f} | {biggest} |"
                )
    return rows


def _objects(crowd: Any, labels: list[str]) -> list[dict[str, Any]]:
    import json

    objects: list[dict[str, Any]] = [
        {"datasetObjectId": f"o{i}", "dataObject": {"s3Uri": f"s3://bucket/images/o{i}.jpg"}, "annotations": []}
        for i in range(crowd.n_tasks)
    ]
    for t, w, k in zip(crowd.tasks.tolist(), crowd.workers.tolist(), crowd.labels.tolist(), strict=True):
        content = json.dumps({"crowd-image-classifier": {"label": labels[k]}})
        objects[t]["annotations"].append({"workerId": f"w{w}", "annotationData": {"content": content}})
    return objects


def quality_table(seeds: tuple[int, ...], sizes: tuple[int, ...]) -> list[str]:
    right: dict[str, dict[tuple[int, int], list[bool]]] = {m: {r: [] for r in RANGES} for m in ("one", "kept", "alone")}
    for seed in seeds:
        crowd = job_crowd(seed)
        objects = classification_objects(crowd)
        one = accuracy(run_batch(objects, None, uri=f"s3://bucket/all-{seed}.json"), crowd)
        store = InMemoryWorkerStore()
        kept: dict[str, bool] = {}
        alone: dict[str, bool] = {}
        for b, part in enumerate(split(len(objects), sizes)):
            batch = [objects[i] for i in part]
            kept |= accuracy(run_batch(batch, store, uri=f"s3://bucket/{seed}/{b}.json"), crowd)
            alone |= accuracy(run_batch(batch, None, uri=f"s3://bucket/{seed}/{b}.json"), crowd)
        for lo, hi in RANGES:
            ids = [f"o{i}" for i in range(lo, hi)]
            right["one"][(lo, hi)] += [one[o] for o in ids]
            right["kept"][(lo, hi)] += [kept[o] for o in ids]
            right["alone"][(lo, hi)] += [alone[o] for o in ids]
    rows = [
        "| objects (position in the job) | one 200-object batch | small batches + store | small batches alone | gap to one batch (store) |",
        "|---|---|---|---|---|",
    ]
    for r in RANGES:
        one_, kept_, alone_ = (float(np.mean(right[m][r])) for m in ("one", "kept", "alone"))
        rows.append(f"| {r[0]}–{r[1] - 1} | {one_:.3f} | {kept_:.3f} | {alone_:.3f} | {one_ - kept_:+.3f} |")
    total = {m: float(np.mean([v for r in RANGES for v in right[m][r]])) for m in right}
    rows.append(
        f"| all | {total['one']:.3f} | {total['kept']:.3f} | {total['alone']:.3f} | {total['one'] - total['kept']:+.3f} |"
    )
    return rows


BOX_RANGES = ((0, 10), (10, 30), (30, 60), (60, 100))


def boxes_table(seeds: tuple[int, ...], crowds: tuple[str, ...], sizes: tuple[int, ...]) -> list[str]:
    """Box F1 (IoU 0.5) by position: the same fit-with-prior and record steps as the driver's, on
    :class:`BoxConsolidation` directly (a 100-image job per crowd and seed)."""
    rows = [
        "| crowd | images (position) | one 100-image batch | small batches + store | small batches alone |",
        "|---|---|---|---|---|",
    ]
    for name in crowds:
        scores = {m: {r: Score() for r in BOX_RANGES} for m in ("one", "kept", "alone")}
        for seed in seeds:
            batch = box_batch(np.random.default_rng(seed), CROWDS[name], 100)
            items = [o.items for o in batch]
            one = BoxConsolidation().fit(items)
            store = InMemoryWorkerStore()
            for b, part in enumerate(split(len(batch), sizes)):
                part_items = [items[i] for i in part]
                keys = sorted({a.worker for it in part_items for a in it.answers})
                prior = store.load("job", "boxes", f"b{b}", keys).prior
                kept = BoxConsolidation().fit(part_items, prior)
                store.record("job", "boxes", f"b{b}", kept.worker_statistics_, prior)
                alone = BoxConsolidation().fit(part_items)
                for i in part:
                    r = next(r for r in BOX_RANGES if r[0] <= i < r[1])
                    obj = batch[i]
                    for method, model in (("one", one), ("kept", kept), ("alone", alone)):
                        result = model.predict(obj.items)
                        scores[method][r].add(
                            score_boxes(
                                [str(c) for c in result.labels],
                                np.asarray(result.geometry, dtype=np.float64),
                                obj.truth_labels,
                                obj.truth,
                            )
                        )
        for r in BOX_RANGES:
            f1 = []
            for method in ("one", "kept", "alone"):
                precision, recall, _ = scores[method][r].row()
                f1.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
            rows.append(f"| {name} | {r[0]}–{r[1] - 1} | {f1[0]:.3f} | {f1[1]:.3f} | {f1[2]:.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/store.md"))
    args = parser.parse_args()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[key] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    lines = [
        "# Worker store benchmark (bench/store.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; Python {platform.python_version()}.",
        f"Report seeds {REPORT_SEEDS[0]}–{REPORT_SEEDS[-1]}; tuning seeds {', '.join(map(str, TUNING_SEEDS))} (not in the tables).",
        "",
        "## Cost per batch (moto's DynamoDB, seed 10, a 200-object job)",
        "",
        *cost_table(REPORT_SEEDS[0]),
        "",
        "## Accuracy by position, batches of 1 and 2 objects alternating",
        "",
        *quality_table(REPORT_SEEDS, (1, 2)),
        "",
        "## Accuracy by position, batches of 10 objects",
        "",
        *quality_table(REPORT_SEEDS, (10,)),
        "",
        "## Bounding boxes: F1 by position, batches of 1 and 2 images alternating",
        "",
        *boxes_table(REPORT_SEEDS[:5], ("mixed-1to5", "wrong-class-3", "two-workers"), (1, 2)),
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
