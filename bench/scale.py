"""Scale benchmark: `make bench-scale`. One payload of 1,000 objects x 5 workers x 1280x960 masks.

The payload is written to a local file and consolidated by ``consolidate_batch`` exactly as the
Lambda does, with local storage in place of S3, so the peak RSS is that of the consolidation alone
(moto would hold its own copy of every object). The masks are drawn for 40 scenes and reused across
the 1,000 objects, which keeps the set-up short; every object is decoded and voted on its own. Prints
a Markdown table for the README: wall time, time per object, peak RSS, response size, and whether
the batch fits Lambda's limits (15 minutes, 6 MB response).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tally import ConsolidationRequest, Settings, consolidate_batch
from tally.storage import LocalStorage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.segmentation import WorkerStyle, answer_content, payload_entry, random_scene, worker_colours, worker_view  # noqa: E402

LABELS = ["road", "car", "person", "sign"]
HEIGHT, WIDTH = 960, 1280
STYLES = [WorkerStyle(jitter=1.5), WorkerStyle(jitter=2.0), WorkerStyle(jitter=2.5, grow=2),
          WorkerStyle(jitter=3, grow=4, miss_below=2000, wrong_class=0.1), WorkerStyle(jitter=2.0, grow=-1)]  # fmt: skip


def build_payload(path: Path, objects: int, workers: int, scenes: int) -> int:
    rng = np.random.default_rng(11)
    colours = [worker_colours(LABELS, rng) for _ in range(workers)]
    pool = []
    for _ in range(scenes):
        scene = random_scene(rng, HEIGHT, WIDTH, len(LABELS), n_shapes=10)
        pool.append(
            [
                json.dumps(answer_content(worker_view(scene, STYLES[k % len(STYLES)], rng, HEIGHT, WIDTH, len(LABELS)), LABELS, colours[k], mode="P" if k % 2 == 0 else "RGBA"))
                for k in range(workers)
            ]
        )  # fmt: skip
    with path.open("w") as fh:
        fh.write("[")
        for i in range(objects):
            answers = [(f"private.us-east-1.{k:016x}", content) for k, content in enumerate(pool[i % scenes])]
            item = payload_entry(str(i), f"s3://bench/images/{i}.jpg", answers)
            fh.write(("," if i else "") + json.dumps(item))
        fh.write("]")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--algorithm", default=Settings().algorithm)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        payload = root / "s3" / "bench" / "payload.json"
        payload.parent.mkdir(parents=True)
        start = time.perf_counter()
        size = build_payload(payload, args.objects, args.workers, args.scenes)
        built = time.perf_counter() - start
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        request = ConsolidationRequest.parse(
            {
                "labelAttributeName": "scale",
                "labelCategories": LABELS,
                "payload": {"s3Uri": "s3://bench/payload.json"},
                "outputConfig": "s3://bench/out",
            }
        )
        settings = Settings.from_env() if "TALLY_ALGORITHM" in os.environ else Settings(algorithm=args.algorithm)
        start = time.perf_counter()
        report = consolidate_batch(request, LocalStorage(root / "s3"), settings=settings)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        response_mb = len(json.dumps(report.response)) / 1e6
    print(f"Scale: {args.objects} objects x {args.workers} workers x {WIDTH}x{HEIGHT}, algorithm {settings.algorithm}, "
          f"{settings.threads} threads on {os.cpu_count()} cores (payload built in {built:.0f} s):\n")  # fmt: skip
    print(
        "| payload (MB) | wall time (s) | per object (ms) | peak RSS (MB) | response (MB) | consolidated | fits 15 min and 6 MB |"
    )
    print("|---|---|---|---|---|---|---|")
    fits = elapsed < 900 and response_mb < 6
    print(f"| {size / 1e6:.0f} | {elapsed:.0f} | {elapsed / args.objects * 1e3:.0f} | {peak:.0f} | {response_mb:.2f} "
          f"| {report.consolidated}/{args.objects} | {'yes' if fits else 'NO'} |")  # fmt: skip
    print(f"\n(RSS before consolidating, after building the payload: {rss_before:.0f} MB)")
    sys.exit(0 if fits and report.consolidated == args.objects else 1)


if __name__ == "__main__":
    main()
