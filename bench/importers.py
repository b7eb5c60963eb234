"""Label Studio exports through `tally consolidate --from labelstudio`, end to end, against the same
answers as a Ground Truth payload through `tally consolidate` (figures for docs/benchmarks.md).

* choices: a 10,000-task export, 3 annotators a task (accuracies 0.9, 0.8 and 0.6; the third prefers
  the first class when wrong), one `choices` control tag of 4 classes. Target (issue 23): under 5 s
  from the command to the written files (interpreter start, parse, payload, Dawid–Skene, results.jsonl,
  predictions.json).
  The Ground Truth path answers as the Lambda would, so it fits its response under Lambda's 6 MB
  (spilling most labels to files); the import has no Lambda and keeps every label whole.
* masks: image tasks of 640x480, 3 annotators painting 1-3 ellipses as `brushlabels` (Label
  Studio's RLE, as its converter writes masks) and the same masks as CVAT XML `<mask>` shapes (one file
  per annotator), against the same masks as `crowd-semantic-segmentation` palette PNGs. Target: the same
  cost per object as Ground Truth masks. Measured **in this process**: every path's command
  (``tally.tools.cli.main``) run once to warm up, then ``--repeats`` rounds over the same
  ``--mask-tasks`` tasks, the paths' order turned round each round; the CPU time (all threads) and wall
  time per object; the ratio of the medians and the median of the rounds' own wall-time ratios (paired).
  Each command runs at its own default threads (the Ground Truth path: ``TALLY_THREADS`` or 4; an import:
  one), and the Ground Truth path also on one thread; ``--import-threads N`` runs the imports on N. A child
  process's start (interpreter, imports: ~0.5 s) would swamp a few ms per object: the slope between two
  export sizes that this bench took before read 0.90-1.41x in nine runs of one tree.

`--exports masks` (or `choices`) measures those rows; `--before TREE/layers/tally` also measures the mask
rows with another tree's package (a child process with it on PYTHONPATH, after this tree's rows; each
tree's ratio is against the Ground Truth path in its own process).

`--exports steps` (not part of `all`) times two steps of a mask import in process, the old way and the
new alternating: an answer of one brush region to its `classRuns`, and the write-back's brush regions
from the PNG read back or from the voted class array the core hands on.

`--exports decode` (not part of `all`) measures the brush RLE decoder alone, in child processes per
tree (this one, and `--before`'s), the trees alternating `--repeats` rounds: the peak of Python's
allocations (tracemalloc) and the best time of `decode_brush_rle` and `brush_mask` on two 640x480
canvases' streams: an ellipse painted
#1f77b4 (each painted pixel four different bytes: literal blocks, as a painted canvas is) and random
bytes (every value a literal word: the worst case), beside 8 bytes per byte of the stream (a string of
its bits, what the decoder once read).

`--exports polygons` (not part of `all`) times the write-back of consolidated polygons in process: per
object of 1-3 rasterised polygons (640x480; ellipses of 24-48 vertices, slanted edges: staircases), its
instances as brush regions and ``<mask>`` shapes (what was written) against traced ``polygonlabels``
regions and ``<polygon>`` shapes, `--repeats` rounds alternating (CPU time, best and median); the vertices written per instance,
and every traced polygon painted back as tally reads it (exact: checked).

The choices row runs each command in a child process (what a user's command costs, interpreter start
included), the two sources interleaved, `--repeats` times; the median of the wall time and of the CPU
time (user + system of the child) is reported. Only ratios within one run
are comparable (the machine is shared); CPU time is the steadier of the two on a loaded machine.
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
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
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


def cvat_jobs(export: list[dict[str, Any]]) -> dict[str, bytes]:
    """The same masks as "CVAT for images 1.1" XML, one file per annotator (its name the annotator's,
    as the Ground Truth payload's workerId): each image's ``<mask>`` with its box-local RLE."""
    from tally.importers.rle import brush_mask, encode_cvat_mask

    jobs: dict[str, Any] = {}
    for task in export:
        for annotation in task["annotations"]:
            (region,) = annotation["result"]
            width, height = region["original_width"], region["original_height"]
            root = jobs.get(annotation["completed_by"]["email"])
            if root is None:
                root = jobs[annotation["completed_by"]["email"]] = ET.Element("annotations")
                ET.SubElement(root, "version").text = "1.1"
                labels = ET.SubElement(ET.SubElement(ET.SubElement(root, "meta"), "job"), "labels")
                ET.SubElement(ET.SubElement(labels, "label"), "name").text = "lesion"
            image = ET.SubElement(root, "image", {"id": str(task["id"]), "name": f"{task['id']}.png",
                                                  "width": str(width), "height": str(height)})  # fmt: skip
            counts, left, top, w, h = encode_cvat_mask(brush_mask(region["value"]["rle"], width, height))
            ET.SubElement(image, "mask", {"label": "lesion", "source": "manual", "occluded": "0",
                                          "rle": ", ".join(map(str, counts)), "left": str(left), "top": str(top),
                                          "width": str(w), "height": str(h), "z_order": "0"})  # fmt: skip
    return {who: ET.tostring(root, encoding="utf-8", xml_declaration=True) for who, root in jobs.items()}


def _time(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``tally`` command in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tally.tools.cli", *argv], capture_output=True, text=True,
                          check=False)  # fmt: skip
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


Times = tuple[float, float]  # median wall, median CPU (s)


def compare(name: str, export: Any, payload: Any, labels: str, repeats: int, work: Path) -> tuple[Times, Times]:
    """The Label Studio path's and the Ground Truth path's median times, interleaved, each command in a
    child process."""
    (work / f"{name}-export.json").write_text(json.dumps(export))
    (work / f"{name}-payload.json").write_text(json.dumps(payload))
    ls_times, gt_times = [], []
    for r in range(repeats):
        ls_times.append(_time(["consolidate", "--from", "labelstudio", str(work / f"{name}-export.json"),
                               "--out", str(work / f"{name}-ls-{r}"), "--labels", labels, "--no-progress"]))  # fmt: skip
        gt_times.append(_time(["consolidate", str(work / f"{name}-payload.json"), "--out", str(work / f"{name}-gt-{r}"),
                               "--labels", labels, "--no-progress"]))  # fmt: skip

    def median(times: list[tuple[float, float]]) -> Times:
        return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)

    return median(ls_times), median(gt_times)


def _mask(uri: str) -> np.ndarray:
    with Image.open(uri) as image:
        return np.asarray(image)


def _labels(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["consolidatedAnnotation"]["content"]["label"] for line in path.open()]


_DECODE = """
import sys, time, tracemalloc
import numpy as np
from tally.importers.rle import brush_mask, decode_brush_rle, encode_brush_rle
w, h = 640, 480
yy, xx = np.mgrid[:h, :w]
canvas = np.zeros((h, w, 4), dtype=np.uint8)
canvas[((yy - 240) / 150) ** 2 + ((xx - 320) / 200) ** 2 < 1] = (31, 119, 180, 255)
noise = np.random.default_rng(int(sys.argv[1])).integers(0, 256, w * h * 4).astype(np.uint8)
for name, values in (("painted", canvas.ravel()), ("random", noise)):
    data = bytes(encode_brush_rle(values))
    for how, run in (("decode_brush_rle", lambda: decode_brush_rle(data)), ("brush_mask", lambda: brush_mask(data, w, h))):
        run()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        run()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(name, how, len(data), peak, min(times))
"""


def decode_row(args: argparse.Namespace) -> None:
    """The brush decoder's peak memory and best time per tree (module docstring)."""
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.before is not None:
        trees.append(("--before", args.before))
    rows: dict[tuple[str, str, str], tuple[int, int, float]] = {}  # (tree, stream, call) -> size, peak, best
    for _ in range(args.repeats):
        for label, tree in trees:
            env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([sys.executable, "-c", _DECODE, str(args.seed)], capture_output=True, text=True,
                                  check=False, env=env)  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"the decoder bench failed in {label}: {done.stderr[-2000:]}")
            for line in done.stdout.splitlines():
                name, how, size, peak, best = line.split()
                known = rows.get((label, name, how))
                fastest = float(best) if known is None else min(known[2], float(best))
                rows[(label, name, how)] = (int(size), int(peak), fastest)
    print(f"| stream (640x480 canvas) | call | stream bytes | its bits as a string | tree | peak allocated | best of {3 * args.repeats} |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (label, stream, call), (nbytes, most, fastest) in rows.items():
        print(f"| {stream} | {call} | {nbytes / 1e6:.2f} MB | {8 * nbytes / 1e6:.1f} MB | {label} | "
              f"{most / 1e6:.1f} MB | {1000 * fastest:.1f} ms |")  # fmt: skip


def steps_row(args: argparse.Namespace) -> None:
    """The two import steps a mask import no longer does the Ground Truth path's way round, in this
    process, the old way and the new alternating ``--repeats`` rounds (CPU time, best and median):
    an answer of one brush region to its ``classRuns`` (its mask painted into a class array and
    scanned again, against the region's own runs: ``brush_class_runs``), and the write-back's brush
    regions of a consolidated mask (its PNG read back, against the voted class array the core hands
    on: ``semantic_brushes``). Both give the same values (checked)."""
    from tally.codecs import class_runs
    from tally.importers import writers
    from tally.importers.rle import brush_class_runs, brush_mask

    export, _ = masks_export(max(1, args.mask_tasks // 4), args.seed)
    rles = [a["result"][0]["value"]["rle"] for task in export for a in task["annotations"]]

    def painted(rle: Any) -> list[int]:
        classes = np.zeros((480, 640), dtype=np.uint8)
        classes[brush_mask(rle, 640, 480)] = 1
        return class_runs(classes)

    def direct(rle: Any) -> list[int]:
        return brush_class_runs(rle, 640, 480)

    assert all(painted(r) == direct(r) for r in rles)
    with tempfile.TemporaryDirectory() as tmp:
        maps, labels = [], []
        for k, rle in enumerate(rles[::3]):  # a consolidated mask per task (the first annotator's)
            classes = brush_mask(rle, 640, 480).astype(np.uint8)
            image = Image.fromarray(classes, mode="P")
            image.putpalette([255, 255, 255, 31, 119, 180] + [0] * 762)
            image.save(Path(tmp) / f"{k}.png")
            maps.append(classes)
            labels.append({"mask-ref": str(Path(tmp) / f"{k}.png"), "internal-color-map": {
                "0": {"class-name": "BACKGROUND", "confidence": 0.99}, "1": {"class-name": "lesion", "confidence": 0.9}}})  # fmt: skip

        def read(uri: str) -> bytes:
            return Path(uri).read_bytes()

        def read_back() -> None:
            for label in labels:
                writers._ls_masks(label, read, {})

        def from_array() -> None:
            for label, classes in zip(labels, maps, strict=True):
                writers.semantic_brushes(label, classes)

        assert all(
            writers._ls_masks(a, read, {}) == writers.semantic_brushes(a, m) for a, m in zip(labels, maps, strict=True)
        )
        steps = {
            "one region's classRuns, per answer: painted mask + class_runs / brush_class_runs": (
                (lambda: [painted(r) for r in rles], lambda: [direct(r) for r in rles]), len(rles)),
            "write-back's brush regions, per object: PNG read back / voted class array": (
                (read_back, from_array), len(labels)),
        }  # fmt: skip
        print("| step (640x480, the bench's export) | before, best / median | now, best / median |")
        print("|---|---|---|")
        for name, ((old, new), count) in steps.items():
            times: tuple[list[float], list[float]] = ([], [])
            for _ in range(args.repeats):
                for way, run in enumerate((old, new)):
                    start = time.process_time()
                    run()
                    times[way].append(1000 * (time.process_time() - start) / count)
            print(f"| {name} | {min(times[0]):.2f} / {statistics.median(times[0]):.2f} ms | "
                  f"{min(times[1]):.2f} / {statistics.median(times[1]):.2f} ms |")  # fmt: skip


def polygons_row(args: argparse.Namespace) -> None:
    """The polygon write-back step (module docstring)."""
    from tally.aggregation.instance_fusion import rasterise_polygons
    from tally.importers import writers
    from tally.importers.outline import polygons as trace_polygons

    rng = np.random.default_rng(args.seed)
    objects = []
    for _ in range(max(1, args.mask_tasks)):
        shapes = []
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(100, 540), rng.uniform(80, 400)
            rx, ry, turn = rng.uniform(20, 90), rng.uniform(15, 70), rng.uniform(0, np.pi)
            t = np.linspace(0, 2 * np.pi, int(rng.integers(24, 49)), endpoint=False)
            x, y = rx * np.cos(t), ry * np.sin(t)
            shapes.append(np.c_[cx + x * np.cos(turn) - y * np.sin(turn), cy + x * np.sin(turn) + y * np.cos(turn)])
        grid, _ = rasterise_polygons(shapes, 640, 480)
        objects.append([("lesion", grid == k, 0.9, k - 1) for k in range(1, int(grid.max()) + 1)])
    instances = sum(len(found) for found in objects)
    vertices = 0
    for found in objects:
        for _, mask, _, _ in found:
            painted = np.zeros(mask.shape, dtype=bool)
            traced = trace_polygons(mask)
            for points in traced.polygons:
                grid, _ = rasterise_polygons([points], 640, 480)
                painted |= grid > 0
                vertices += len(points)
            assert np.array_equal(painted, mask) or traced.hole_pixels > 0
    ways: dict[str, Callable[[], object]] = {
        "brush regions (before)": lambda: [writers._brushes(found) for found in objects],
        "polygonlabels regions": lambda: [writers._ls_outlines(found, "polygonlabels", []) for found in objects],
        "CVAT <mask> shapes (before)": lambda: [writers._cvat_mask_shapes(found) for found in objects],
        "CVAT <polygon> shapes": lambda: [writers._cvat_outlines(found) for found in objects],
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, run in ways.items():
            start = time.process_time()
            run()
            times[name].append(1000 * (time.process_time() - start) / len(objects))
    print(f"{len(objects)} objects, {instances} instances, {vertices / instances:.0f} vertices per instance traced")
    print("| write-back of a polygon object (640x480) | CPU per object, best / median |")
    print("|---|---|")
    for name, taken in times.items():
        print(f"| {name} | {min(taken):.2f} / {statistics.median(taken):.2f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--mask-tasks", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--before", type=Path, help="another tree's layers/tally: its mask rows measured too")
    parser.add_argument("--row-label", default="", help=argparse.SUPPRESS)
    parser.add_argument("--import-threads", type=int, default=0,
                        help="the mask imports' --threads (default: the command's own, one thread)")  # fmt: skip
    parser.add_argument("--exports", choices=("all", "choices", "masks", "decode", "steps", "polygons"),
                        default="all",
                        help="which rows to measure (decode: the brush decoder alone; steps: two mask import "
                             "steps in process, old way and new; polygons: the polygon write-back; none of them "
                             "part of all)")  # fmt: skip
    args = parser.parse_args()
    if args.exports == "decode":
        decode_row(args)
        return
    if args.exports == "steps":
        steps_row(args)
        return
    if args.exports == "polygons":
        polygons_row(args)
        return
    print("| export | the import, wall / CPU | Ground Truth path, wall / CPU | ratio, wall / CPU | check |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.exports != "masks":
            choices_row(args, work)
        if args.exports != "choices":
            masks_row(args, work)


def choices_row(args: argparse.Namespace, work: Path) -> None:
    export, payload = choices_export(args.tasks, args.seed)
    (ls, ls_cpu), (gt, gt_cpu) = compare("choices", export, payload, ",".join(CLASSES), args.repeats, work)
    ls_labels, gt_labels = (
        _labels(work / "choices-ls-0" / "results.jsonl"),
        _labels(work / "choices-gt-0" / "results.jsonl"),
    )
    agree = sum(a["class-name"] == b["class-name"] for a, b in zip(ls_labels, gt_labels, strict=True))
    whole = sum("full-label-ref" not in a for a in ls_labels)
    spilled = sum("full-label-ref" in b for b in gt_labels)
    print(f"| choices, {args.tasks:,} tasks x 3 annotators | {ls:.2f} s / {ls_cpu:.2f} s | {gt:.2f} s / {gt_cpu:.2f} s | "
          f"{ls / gt:.2f}x / {ls_cpu / gt_cpu:.2f}x | {agree}/{args.tasks} labels as the Ground Truth path; "
          f"labels whole: {whole} (import), {args.tasks - spilled} (Ground Truth path, the rest spilled to files) |")  # fmt: skip


def masks_row(args: argparse.Namespace, work: Path) -> None:
    """The mask rows, in this process (module docstring): each path's command run once to warm up, then
    ``--repeats`` rounds, the paths' order turned round each round; per path the median wall and CPU
    time per object, against the Ground Truth path's as the ratio of the medians and the median of the
    rounds' own ratios (paired)."""
    import contextlib

    from tally.tools.cli import main as tally

    n = args.mask_tasks
    export, payload = masks_export(n, args.seed)
    (work / "masks-export.json").write_text(json.dumps(export))
    (work / "masks-payload.json").write_text(json.dumps(payload))
    jobs = work / "masks-cvat"
    jobs.mkdir()
    for who, data in cvat_jobs(export).items():
        (jobs / f"{who}.xml").write_bytes(data)
    common = ["--labels", "lesion", "--no-progress"]
    forced = ["--threads", str(args.import_threads)] if args.import_threads else []
    commands = {
        "gt": ["consolidate", str(work / "masks-payload.json"), *common],
        "gt1": ["consolidate", str(work / "masks-payload.json"), *common, "--threads", "1"],
        "ls": ["consolidate", "--from", "labelstudio", str(work / "masks-export.json"), *common, *forced],
        "cvat": ["consolidate", "--from", "cvat", str(jobs), "--element-name", "mask", *common, *forced],
    }

    def run(path: str, out: Path) -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = tally([*commands[path], "--out", str(out)])
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if code != 0:
            raise SystemExit(f"{path} failed ({code}): {err.getvalue()[-2000:]}")
        return 1000 * wall / n, 1000 * cpu / n

    paths = list(commands)
    for path in paths:
        run(path, work / f"masks-{path}-warm")
    times: dict[str, list[tuple[float, float]]] = {path: [] for path in paths}
    for r in range(args.repeats):
        for path in paths[r % len(paths) :] + paths[: r % len(paths)]:
            times[path].append(run(path, work / f"masks-{path}-{r}"))
    gt_masks = _labels(work / "masks-gt-0" / "results.jsonl")
    what = {"ls": "brush masks (Label Studio RLE)", "cvat": "CVAT XML <mask> (box-local RLE)"}
    threads = f"{args.import_threads} thread(s)" if args.import_threads else "its default"
    for path in ("ls", "cvat"):
        masks = _labels(work / f"masks-{path}-0" / "results.jsonl")
        same = sum(
            np.array_equal(_mask(a["mask-ref"]), _mask(b["mask-ref"])) for a, b in zip(masks, gt_masks, strict=True)
        )
        wall = statistics.median(t[0] for t in times[path])
        cpu = statistics.median(t[1] for t in times[path])
        for gt, how in (("gt", "its default threads"), ("gt1", "one thread")):
            gt_wall = statistics.median(t[0] for t in times[gt])
            gt_cpu = statistics.median(t[1] for t in times[gt])
            paired = statistics.median(a[0] / b[0] for a, b in zip(times[path], times[gt], strict=True))
            print(f"| {args.row_label}{what[path]} 640x480 x 3, per object, {threads} ({n} tasks, in process, "
                  f"{args.repeats} rounds) | {wall:.2f} / {cpu:.2f} ms | {how}: {gt_wall:.2f} / {gt_cpu:.2f} ms | "
                  f"{wall / gt_wall:.2f}x / {cpu / gt_cpu:.2f}x (paired wall {paired:.2f}x) | "
                  f"{same}/{n} masks pixel for pixel as the Ground Truth path |")  # fmt: skip
    if args.before is not None:
        argv = [sys.executable, __file__, "--exports", "masks", "--mask-tasks", str(n), "--repeats", str(args.repeats),
                "--seed", str(args.seed), "--row-label", "--before tree: ",
                "--import-threads", str(args.import_threads)]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(args.before)})  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the --before tree's mask rows failed: {done.stderr[-2000:]}")
        print("\n".join(line for line in done.stdout.splitlines()[2:]))


if __name__ == "__main__":
    main()
