"""Label Studio exports through `tally consolidate --from labelstudio`, end to end, against the same
answers as a Ground Truth payload through `tally consolidate` (figures for docs/benchmarks.md).

* choices: a 10,000-task export, 3 annotators a task (accuracies 0.9, 0.8 and 0.6; the third prefers
  the first class when wrong), one `choices` control tag of 4 classes. Target (issue 23): under 5 s
  from the command to the written files (interpreter start, parse, payload, Dawid–Skene, results.jsonl,
  predictions.json).
* masks: 40 image tasks of 640x480, 3 annotators painting 1-3 ellipses as `brushlabels` (Label
  Studio's RLE) against the same masks as `crowd-semantic-segmentation` palette PNGs. Target: the same
  cost per object as Ground Truth masks (the ratio is printed).

Each command runs in a child process, the two sources interleaved, `--repeats` times; the median is
reported. Only ratios within one run are comparable (the machine is shared).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tally.importers.rle import mask_to_brush_rle

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["Positive", "Negative", "Neutral", "Mixed"]
ANNOTATORS = [("ana@example.com", 0.9, None), ("ben@example.com", 0.8, None), ("cy@example.com", 0.6, 0)]


def choices_export(n: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Label Studio export and the equivalent Ground Truth payload."""
    rng = np.random.default_rng(seed)
    tasks, payload = [], []
    for t in range(n):
        truth = int(rng.integers(len(CLASSES)))
        annotations, answers = [], []
        for a, (who, accuracy, bias) in enumerate(ANNOTATORS):
            if rng.random() < accuracy:
                chosen = truth
            elif bias is not None and rng.random() < 0.7:
                chosen = bias
            else:
                chosen = int(rng.integers(len(CLASSES)))
            result = [{"id": f"r{t}", "type": "choices", "from_name": "sentiment", "to_name": "text",
                       "value": {"choices": [CLASSES[chosen]]}}]  # fmt: skip
            annotations.append({"id": t * 3 + a, "completed_by": {"id": a, "email": who}, "result": result,
                                "was_cancelled": False, "ground_truth": False})  # fmt: skip
            answers.append(
                {"workerId": who, "annotationData": {"content": json.dumps({"sentiment": {"label": CLASSES[chosen]}})}}
            )
        text = f"review {t}"
        tasks.append({"id": t, "data": {"text": text}, "annotations": annotations})
        payload.append({"datasetObjectId": str(t), "dataObject": {"content": text}, "annotations": answers})
    return tasks, payload


def _ellipses(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    mask = np.zeros((height, width), dtype=bool)
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = rng.uniform(80, width - 80), rng.uniform(60, height - 60)
        rx, ry = rng.uniform(20, 70), rng.uniform(20, 50)
        mask |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    return mask


def masks_export(
    n: int, seed: int, width: int = 640, height: int = 480
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    tasks, payload = [], []
    for t in range(n):
        base = _ellipses(rng, width, height)
        annotations, answers = [], []
        for a, (who, _, _) in enumerate(ANNOTATORS):
            shift = int(rng.integers(-3, 4))
            mask = np.roll(base, shift, axis=1)
            result = [{"id": f"b{t}", "type": "brushlabels", "from_name": "tag", "to_name": "image",
                       "original_width": width, "original_height": height, "image_rotation": 0,
                       "value": {"format": "rle", "rle": mask_to_brush_rle(mask), "brushlabels": ["lesion"]}}]  # fmt: skip
            annotations.append({"id": t * 3 + a, "completed_by": {"id": a, "email": who}, "result": result})
            image = Image.fromarray(mask.astype(np.uint8), mode="P")
            image.putpalette([255, 255, 255, 31, 119, 180] + [0] * 762)
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            content = {"crowd-semantic-segmentation": {
                "labeledImage": {"pngImageData": base64.b64encode(buf.getvalue()).decode()},
                "labelMappings": {"lesion": {"color": "#1f77b4"}},
                "inputImageProperties": {"width": width, "height": height}}}  # fmt: skip
            answers.append({"workerId": who, "annotationData": {"content": json.dumps(content)}})
        tasks.append({"id": t, "data": {"image": f"https://example.com/{t}.png"}, "annotations": annotations})
        payload.append(
            {"datasetObjectId": str(t), "dataObject": {"s3Uri": f"s3://bucket/{t}.png"}, "annotations": answers}
        )
    return tasks, payload


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tally.tools.cli", *argv], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def compare(name: str, export: Any, payload: Any, labels: str, repeats: int, work: Path) -> tuple[float, float]:
    (work / f"{name}-export.json").write_text(json.dumps(export))
    (work / f"{name}-payload.json").write_text(json.dumps(payload))
    ls_times, gt_times = [], []
    for r in range(repeats):
        ls_times.append(_time(["consolidate", "--from", "labelstudio", str(work / f"{name}-export.json"),
                               "--out", str(work / f"{name}-ls-{r}"), "--labels", labels, "--no-progress"]))  # fmt: skip
        gt_times.append(_time(["consolidate", str(work / f"{name}-payload.json"), "--out", str(work / f"{name}-gt-{r}"),
                               "--labels", labels, "--no-progress"]))  # fmt: skip
    return statistics.median(ls_times), statistics.median(gt_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--mask-tasks", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        export, payload = choices_export(args.tasks, args.seed)
        ls, gt = compare("choices", export, payload, ",".join(CLASSES), args.repeats, work)
        agree = sum(
            json.loads(a)["consolidatedAnnotation"]["content"]["label"]["class-name"]
            == json.loads(b)["consolidatedAnnotation"]["content"]["label"]["class-name"]
            for a, b in zip(
                (work / "choices-ls-0" / "results.jsonl").open(),
                (work / "choices-gt-0" / "results.jsonl").open(),
                strict=True,
            )
        )
        print(f"| choices, {args.tasks:,} tasks x 3 annotators | {ls:.2f} s | {gt:.2f} s | {ls / gt:.2f}x | "
              f"{agree}/{args.tasks} labels as the Ground Truth path |")  # fmt: skip
        export, payload = masks_export(args.mask_tasks, args.seed)
        ls, gt = compare("masks", export, payload, "lesion", args.repeats, work)
        print(f"| brush masks, {args.mask_tasks} tasks 640x480 x 3 | {ls:.2f} s ({1000 * ls / args.mask_tasks:.0f} ms/object) | "
              f"{gt:.2f} s ({1000 * gt / args.mask_tasks:.0f} ms/object) | {ls / gt:.2f}x | |")  # fmt: skip


if __name__ == "__main__":
    main()
