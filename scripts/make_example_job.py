"""Write the example job in events/ (deterministic: run it again and nothing changes).

The job: four labels, six street-like scenes of 480x360, three workers per scene with their own
label colours. Worker C is sloppy (loose outlines, misses small things, sometimes the wrong class)
and sends RGBA instead of palette PNGs. Scene 4 has one truncated answer, scene 5 a single answer
(the other tasks expired).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests imports from the repo's root, without PYTHONPATH

from tests.sim.segmentation import WorkerStyle, answer_content, payload_entry, random_scene, worker_colours, worker_view

ROOT = Path(__file__).resolve().parents[1] / "events"
BUCKET = "tally-example-bucket"
JOB = "street-scenes"
LABELS = ["road", "car", "person", "sign"]
PAYLOAD_KEY = f"{JOB}/annotations/consolidated-annotation/consolidation-request/iteration-1/2026-11-01_12-00-00.json"
WORKERS = {
    "private.us-east-1.a1b2c3d4e5f6a7b8": WorkerStyle(jitter=1.5),
    "private.us-east-1.b2c3d4e5f6a7b8c9": WorkerStyle(jitter=2.0),
    "private.us-east-1.c3d4e5f6a7b8c9d0": WorkerStyle(jitter=4.0, grow=6, miss_below=900, wrong_class=0.15),
}
HEIGHT, WIDTH = 360, 480


def main() -> None:
    rng = np.random.default_rng(20261101)
    colours = {w: worker_colours(LABELS, rng) for w in WORKERS}
    payload = []
    for i in range(6):
        scene = random_scene(rng, HEIGHT, WIDTH, len(LABELS), n_shapes=9)
        annotations: list[tuple[str, str]] = []
        for w, style in WORKERS.items():
            if i == 5 and w != next(iter(WORKERS)):
                continue  # tasks expired: one answer only
            mask = worker_view(scene, style, rng, HEIGHT, WIDTH, len(LABELS))
            mode: Literal["P", "RGBA"] = "RGBA" if style.grow else "P"
            content = answer_content(mask, LABELS, colours[w], mode=mode, list_all_labels=False)
            if i == 4 and style.grow:
                element = content["crowd-semantic-segmentation"]["labeledImage"]
                raw = base64.b64decode(element["pngImageData"])
                element["pngImageData"] = base64.b64encode(raw[: len(raw) // 2]).decode()
            annotations.append((w, json.dumps(content)))
        payload.append(payload_entry(str(i), f"s3://{BUCKET}/{JOB}/images/scene-{i:03d}.jpg", annotations))
    payload_path = ROOT / "s3" / BUCKET / PAYLOAD_KEY
    payload_path.parent.mkdir(parents=True, exist_ok=True)
    payload_path.write_text(json.dumps(payload, indent=1) + "\n")
    event = {
        "version": "2018-10-16",
        "labelingJobArn": f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{JOB}",
        "labelCategories": LABELS,
        "labelAttributeName": JOB,
        "roleArn": "arn:aws:iam::111122223333:role/tally-ground-truth-execution",
        "payload": {"s3Uri": f"s3://{BUCKET}/{PAYLOAD_KEY}"},
        "outputConfig": f"s3://{BUCKET}/{JOB}/annotations",
        "maxHumanWorkersPerDataObject": 3,
        "vpcEnabled": False,
    }
    (ROOT / "consolidation.json").write_text(json.dumps(event, indent=2) + "\n")
    pre = {
        "version": "2018-10-16",
        "labelingJobArn": event["labelingJobArn"],
        "dataObject": {"source-ref": f"s3://{BUCKET}/{JOB}/images/scene-000.jpg", "labels": LABELS},
    }
    (ROOT / "pre_annotation.json").write_text(json.dumps(pre, indent=2) + "\n")
    adjust = {
        "version": "2018-10-16",
        "labelingJobArn": f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{JOB}-adjust",
        "dataObject": {
            "source-ref": f"s3://{BUCKET}/{JOB}/images/scene-000.jpg",
            JOB: {
                "mask-ref": f"s3://{BUCKET}/{JOB}/annotations/consolidated-annotation/output/0_example.png",
                "confidence": 0.93,
            },
            f"{JOB}-metadata": {
                "type": "groundtruth/semantic-segmentation",
                "job-name": f"labeling-job/{JOB}",
                "human-annotated": "yes",
                "creation-date": "2026-11-01T12:00:00.000000",
                "confidence": 0.93,
                "internal-color-map": {
                    "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.93},
                    **{
                        str(k): {"class-name": name, "hex-color": hexc, "confidence": 0.93}
                        for k, (name, hexc) in enumerate(
                            zip(LABELS, ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"], strict=True), start=1
                        )
                    },
                },
            },
        },
    }
    (ROOT / "pre_annotation_adjustment.json").write_text(json.dumps(adjust, indent=2) + "\n")


if __name__ == "__main__":
    main()
