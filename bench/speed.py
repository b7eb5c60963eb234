"""Speed benchmark: `make bench`. Prints Markdown tables for the README.

1. Per object, in process, one thread: consolidating 1280x960 masks from 3 and 5 careful workers of
   the quality benchmark's kind (4 labels, palette PNGs as Ground Truth's tool writes them, each
   worker with their own colours) with the plain vote
   (``majority``) and with the default ``reliability`` vote (both of its phases), without its per-pixel
   confidence map PNG (the default) and with it (``ConfidenceMaps=true``), next to the codec floor
   measured in the same run: base64-decode and PNG-decode the K worker masks, then encode one output
   mask with the same settings. Each object is timed three times, interleaved with its floor, and
   the best run of each counts; the table shows the median over the objects.
2. A 200-object batch (3 workers, 1280x960) through the Lambda handler under moto: wall time and the
   process's peak RSS (measured in a child process so nothing else counts).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tally.codecs import encode_palette_png
from tally.gt.answers import Answer
from tally.gt.events import DatasetObject
from tally.labels import ClassTable, LabelSet
from tally.settings import Settings
from tally.storage import MemoryStorage
from tally.tasks import JobContext, SemanticSegmentation
from tests.sim.segmentation import answer_content, crowd_scene, draw_habits, payload_entry, worker_colours, worker_view

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["road", "car", "person", "sign"]
HEIGHT, WIDTH = 960, 1280
REPEATS = 3
clock = time.perf_counter  # --clock cpu: time.process_time (this process's CPU time; steadier on a busy machine)


def make_object(rng: np.random.Generator, workers: int) -> list[dict[str, Any]]:
    """One object answered by ``workers`` careful workers of the quality benchmark's crowds (own outline
    bias, jitter, polygon vertex noise, skipped small objects; :func:`tests.sim.segmentation.draw_habits`)."""
    scene = crowd_scene(rng, HEIGHT, WIDTH, len(LABELS))
    contents = []
    for _ in range(workers):
        style = draw_habits("careful", rng).style(min(HEIGHT, WIDTH) / 600)
        mask = worker_view(scene, style, rng, HEIGHT, WIDTH, len(LABELS))
        contents.append(answer_content(mask, LABELS, worker_colours(LABELS, rng)))
    return contents


def codec_floor(contents: list[dict[str, Any]], output: np.ndarray, palette: list[tuple[int, int, int]]) -> float:
    start = clock()
    for content in contents:
        raw = base64.b64decode(content["crowd-semantic-segmentation"]["labeledImage"]["pngImageData"], validate=True)
        Image.open(io.BytesIO(raw)).load()
    encode_palette_png(output, palette)
    return clock() - start


def per_object(workers: int, objects: int, seed: int) -> dict[str, float]:
    """Median per-object times: the codec floor, the plain vote, and the reliability-weighted vote
    (both of its phases: observing the object for the batch model, then consolidating it) with and
    without its confidence map PNG."""
    rng = np.random.default_rng(seed)
    labels = LabelSet(tuple(LABELS), "event")
    classes = ClassTable.build(labels)
    storage = MemoryStorage()
    votes = {
        "majority": SemanticSegmentation(Settings(algorithm="majority")),
        "reliability": SemanticSegmentation(Settings()),  # the default: the mask only
        "with_map": SemanticSegmentation(Settings(confidence_maps=True)),
    }
    job = JobContext(labels, {}, storage, "s3://bench/out", Settings())
    for task in votes.values():
        task.prepare(job)
    reliability = votes["reliability"]
    samples = [make_object(rng, workers) for _ in range(objects)]
    answers = [[Answer(f"w{k}", c["crowd-semantic-segmentation"], c, {}) for k, c in enumerate(s)] for s in samples]
    objs = [DatasetObject.model_validate({"datasetObjectId": str(i)}) for i in range(len(answers))]
    observed = [
        (o.dataset_object_id, reliability.observe(o, a, job).summary) for o, a in zip(objs, answers, strict=True)
    ]
    model = reliability.fit([(i, summary) for i, summary in observed if summary is not None], job)
    best: dict[str, list[float]] = {"floor": [], **{name: [] for name in votes}}
    for obj, contents, object_answers in zip(objs, samples, answers, strict=True):
        runs: dict[str, list[float]] = {name: [] for name in best}
        for _ in range(REPEATS):  # interleaved, best of REPEATS: the least disturbed run of each
            for name, task in votes.items():
                start = clock()
                result = task.consolidate(
                    obj, task.observe(obj, object_answers, job), None if name == "majority" else model, job
                )
                runs[name].append(clock() - start)
            label = result.label
            assert label is not None
            output = np.asarray(Image.open(io.BytesIO(storage.read(label["mask-ref"]))))
            runs["floor"].append(codec_floor(contents, output, classes.palette()))
        for name, times in runs.items():
            best[name].append(min(times))
    return {"workers": workers, **{f"{name}_ms": statistics.median(x) * 1e3 for name, x in best.items()}}


def batch_child(objects: int, workers: int) -> None:
    """Runs in a child process: build the payload, run the handler under moto, print JSON."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="tally", POWERTOOLS_LOG_LEVEL="WARNING")
    os.environ.update(POWERTOOLS_METRICS_NAMESPACE="tally", POWERTOOLS_TRACE_DISABLED="true")
    import boto3
    from moto import mock_aws

    sys.path.insert(0, str(ROOT))
    from tests.conftest import FakeContext, load_handler

    rng = np.random.default_rng(7)
    payload = [
        payload_entry(
            str(i),
            f"s3://bench-bucket/images/{i}.jpg",
            [(f"private.us-east-1.{k:016x}", json.dumps(c)) for k, c in enumerate(make_object(rng, workers))],
        )
        for i in range(objects)
    ]
    body = json.dumps(payload).encode()
    del payload
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_object(Bucket="bench-bucket", Key="job/annotations/req.json", Body=body)
        size_mb = len(body) / 1e6
        del body
        handler = load_handler("consolidation")
        event = {
            "labelAttributeName": "bench",
            "labelCategories": LABELS,
            "payload": {"s3Uri": "s3://bench-bucket/job/annotations/req.json"},
            "outputConfig": "s3://bench-bucket/job/annotations",
        }
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        response = handler.lambda_handler(event, FakeContext())
        elapsed = time.perf_counter() - start
    assert len(response) == objects
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"objects": objects, "workers": workers, "seconds": elapsed, "payload_mb": size_mb,
                      "peak_rss_mb": peak, "rss_before_mb": rss_before, "response_kb": len(json.dumps(response)) / 1e3}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=20, help="objects per per-object measurement")
    parser.add_argument("--batch", type=int, default=200, help="objects in the handler batch (0: none)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="per-object timer: wall (perf_counter) or this process's CPU time (process_time), steadier when "
        "other jobs share the machine",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.child:
        batch_child(args.batch, 3)
        return
    print(
        f"Per object, {WIDTH}x{HEIGHT}, {len(LABELS)} labels, median of {args.objects} objects ({args.clock} clock):\n"
    )
    print(
        "| workers | codec floor (ms) | majority (ms) | / floor | reliability (default, ms) | / floor "
        "| reliability + confidence map (ms) | / floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for workers in (3, 5):
        r = per_object(workers, args.objects, seed=workers)
        cells = [
            f"{r[f'{name}_ms']:.1f} | {r[f'{name}_ms'] / r['floor_ms']:.2f}x"
            for name in ("majority", "reliability", "with_map")
        ]
        print(f"| {workers} | {r['floor_ms']:.1f} | " + " | ".join(cells) + " |")
    if not args.batch:
        return
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--batch", str(args.batch)], check=True, capture_output=True, text=True
    ).stdout
    b = json.loads(out.strip().splitlines()[-1])
    print(
        f"\nBatch through the handler under moto ({b['objects']} objects x {b['workers']} workers, {WIDTH}x{HEIGHT}):\n"
    )
    print("| objects | payload (MB) | wall time (s) | per object (ms) | peak RSS (MB) | response (kB) |")
    print("|---|---|---|---|---|---|")
    print(f"| {b['objects']} | {b['payload_mb']:.1f} | {b['seconds']:.1f} | {b['seconds'] / b['objects'] * 1e3:.0f} "
          f"| {b['peak_rss_mb']:.0f} | {b['response_kb']:.0f} |")  # fmt: skip
    print(f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
