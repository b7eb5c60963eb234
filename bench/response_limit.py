"""Response size at Ground Truth's largest batches: `make bench-response`. Prints a Markdown table for
docs/benchmarks.md.

Each row consolidates one simulated payload of a task type (`tests/sim/batches.py`: 5,000 objects x 9
workers by default, workers of differing skill, 6x8 masks) through `consolidate_batch` with in-memory
storage, and reports the response as built, with its metadata cut (what tally returned before the later steps existed, over the
limit) and as returned, the steps of `tally.gt.sink` it took
(1 metadata cut, 2 batch figures moved, 3 per-object detail trimmed, 4 labels spilled) with the labels
each changed, and the consolidation's CPU time. It also checks what the tests check at smaller
scale: the response fits, every label read back through `LabelReader` equals the label as built, and
the sink run again on the same results returns the same response and writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

import tally.consolidate
from tally.consolidate import consolidate_batch
from tally.gt.events import ConsolidationRequest
from tally.gt.response import RESPONSE_LIMIT_BYTES, ObjectResult, response_size
from tally.gt.sink import LabelReader, respond
from tally.storage import MemoryStorage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.batches import BUILDERS  # noqa: E402

PAYLOAD = (
    "s3://gt-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-01-01_00:00:00.json"
)
OUTPUT = "s3://gt-bucket/job/annotations"
ATTR = "label"


def run(task: str, objects: int, workers: int, limit: int) -> dict[str, Any]:
    payload, labels = BUILDERS[task](np.random.default_rng(18), objects, workers)
    storage = MemoryStorage({PAYLOAD: json.dumps(payload).encode()})
    event: dict[str, Any] = {"labelAttributeName": ATTR, "payload": {"s3Uri": PAYLOAD}, "outputConfig": OUTPUT}
    if labels:
        event["labelCategories"] = labels
    seen: dict[str, Any] = {}

    def spy(results: list[ObjectResult], attr: str, **kwargs: Any) -> Any:
        seen.update(results=results, attr=attr, kwargs=kwargs)
        return respond(results, attr, **kwargs)

    with mock.patch.object(tally.consolidate, "respond", spy):  # to keep the results for the checks
        start = time.process_time()
        report = consolidate_batch(ConsolidationRequest.parse(event), storage, response_limit=limit)
        cpu = time.process_time() - start
    kwargs = {**seen["kwargs"], "limit": 10**12, "storage": MemoryStorage()}
    built = respond(seen["results"], ATTR, **kwargs).entries
    reader = LabelReader(storage.read)
    lost = sum(
        reader.resolve(e["consolidatedAnnotation"]["content"][ATTR]) != b["consolidatedAnnotation"]["content"][ATTR]
        for e, b in zip(report.response, built, strict=True)
    )
    again = MemoryStorage()
    retry = respond(seen["results"], ATTR, **{**seen["kwargs"], "storage": again}).entries
    written = {k: v for k, v in storage.objects.items() if k.endswith(".json") and k != PAYLOAD}
    return {
        "task": task,
        "built": response_size(built),
        "cut": next((s.after for s in report.response_steps if s.number == 1), response_size(built)),
        "returned": response_size(report.response),
        "steps": [(s.number, s.changed) for s in report.response_steps],
        "failed": report.failed,
        "lost": lost,
        "same on retry": retry == report.response and again.objects == written,
        "files": len(written),
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=9)
    parser.add_argument("--tasks", nargs="*", default=list(BUILDERS), choices=list(BUILDERS), metavar="TASK")
    args = parser.parse_args()
    limit = RESPONSE_LIMIT_BYTES * args.objects // 5000  # fewer objects: the limit scaled to match
    print(f"{args.objects} objects x {args.workers} workers, limit {limit:,} bytes\n")
    print("| task | as built (MB) | metadata cut (MB) | returned (MB) | steps (labels changed) | files written | lost "
          "| same on retry | CPU (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for task in args.tasks:
        r = run(task, args.objects, args.workers, limit)
        steps = ", ".join(f"{n} ({c})" for n, c in r["steps"]) or "none"
        print(f"| {r['task']} | {r['built'] / 1e6:.2f} | {r['cut'] / 1e6:.2f} | {r['returned'] / 1e6:.2f} | {steps} | {r['files']} | "
              f"{r['lost']} | {'yes' if r['same on retry'] else 'NO'} | {r['cpu']:.1f} |", flush=True)  # fmt: skip
    print(f"\nMachine: {os.cpu_count()} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
