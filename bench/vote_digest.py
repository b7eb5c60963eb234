"""Digests of every output of both segmentation votes, to prove a speed change leaves them byte-identical.

Runs ``majority`` and the default ``reliability`` vote (observe, fit, consolidate) on the simulated
crowds of :mod:`tests.sim.segmentation` (every crowd, several seeds, every image size) and prints one
SHA-256 per crowd, seed and vote over: every PNG written (masks, confidence maps), every object's
label and metadata JSON (floats by ``repr``), the observed vote tuples (the table's nonempty tuples
in order and each pixel's tuple), and the fitted worker
accuracies. Each crowd and seed is digested three times: with the answers as simulated (palette PNGs
and a third in RGBA), and with every answer re-encoded as RGB and as RGBA with the colours real
exports carry (:func:`recode`: anti-aliased edges, near-duplicate colours, a colour no label uses,
semi-transparent paint, transparent pixels whose colour is not black), keys ``.../rgb`` and
``.../rgba``. ``--algorithms regions`` digests the opt-in ``regions`` vote too (keys ``.../regions``).
Run it before and after a change and compare (``--save FILE`` / ``--check FILE``)::

    .venv/bin/python bench/vote_digest.py --save /tmp/before.json
    .venv/bin/python bench/vote_digest.py --check /tmp/before.json
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import io
import json
import sys
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from tally.aggregation.vote_table import VoteTable
from tally.labels import LabelSet
from tally.settings import Settings
from tally.storage import MemoryStorage
from tally.tasks import JobContext, SemanticSegmentation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.segmentation import CROWDS, SimulatedBatch, crowd_batch  # noqa: E402

AnswerKind = Literal["simulated", "rgb", "rgba"]
KINDS: tuple[AnswerKind, ...] = ("simulated", "rgb", "rgba")
Algorithm = Literal["majority", "reliability", "regions"]
ALGORITHMS: tuple[Algorithm, ...] = ("majority", "reliability", "regions")


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


def _rough(pixels: npt.NDArray[np.uint8], rng: np.random.Generator, alpha: bool) -> npt.NDArray[np.uint8]:
    """An RGBA image with the colours other tools' exports carry, at a share of the pixels where the
    colour changes along a row (the outlines) and a sprinkle elsewhere: the two neighbours' mean
    (anti-aliasing), the colour moved by up to 16 per channel (snaps back) or by 17-40 in one channel
    (snaps or not), a grey no label uses; with ``alpha``, also semi-transparent paint and transparent
    pixels of random colour."""
    out = pixels.copy()
    height, width = out.shape[:2]
    words = np.ascontiguousarray(out).view(np.uint32).reshape(height, width)
    edge = np.zeros((height, width), bool)
    edge[:, 1:] = words[:, 1:] != words[:, :-1]
    edge |= rng.random((height, width)) < 0.002
    ys, xs = np.nonzero(edge)
    pick = rng.random(len(ys))
    left = out[ys, np.maximum(xs - 1, 0), :3].astype(np.int32)
    here = out[ys, xs, :3].astype(np.int32)
    blend = pick < 0.25
    out[ys[blend], xs[blend], :3] = (left[blend] + here[blend]) // 2
    out[ys[blend], xs[blend], 3] = 255
    near = (pick >= 0.25) & (pick < 0.45)
    moved = np.clip(here[near] + rng.integers(-16, 17, (int(near.sum()), 3)), 0, 255)
    out[ys[near], xs[near], :3] = moved
    far = (pick >= 0.45) & (pick < 0.55)
    shift = np.zeros((int(far.sum()), 3), np.int32)
    shift[np.arange(len(shift)), rng.integers(0, 3, len(shift))] = rng.integers(17, 41, len(shift)) * rng.choice(
        [-1, 1], len(shift)
    )
    out[ys[far], xs[far], :3] = np.clip(here[far] + shift, 0, 255)
    grey = (pick >= 0.55) & (pick < 0.6)
    out[ys[grey], xs[grey]] = (128, 128, 128, 255)
    if alpha:
        painted = out[..., 3] > 0
        faint = painted & (rng.random((height, width)) < 0.05)
        out[..., 3][faint] = rng.integers(1, 255, int(faint.sum()))
        hidden = ~painted & (rng.random((height, width)) < 0.05)
        out[hidden] = np.concatenate(
            [rng.integers(0, 256, (int(hidden.sum()), 3)), np.zeros((int(hidden.sum()), 1), int)], axis=1
        )
    return out


def recode(content: dict[str, Any], kind: AnswerKind, seed: int) -> dict[str, Any]:
    """The answer with its mask re-encoded as ``kind`` (see :func:`_rough`); ``simulated`` as it is."""
    if kind == "simulated":
        return content
    element = content["crowd-semantic-segmentation"]
    raw = base64.b64decode(element["labeledImage"]["pngImageData"])
    pixels = np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"), dtype=np.uint8)
    rough = _rough(pixels, np.random.default_rng(seed), alpha=kind == "rgba")
    image = Image.fromarray(rough) if kind == "rgba" else Image.fromarray(np.ascontiguousarray(rough[..., :3]))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    return {**content, "crowd-semantic-segmentation": {**element, "labeledImage": {"pngImageData": data}}}


def recoded_batch(crowd_key: str, seed: int, objects: int, scale: float, kind: AnswerKind) -> SimulatedBatch:
    crowd = next(c for c in CROWDS if c.key == crowd_key)
    batch = crowd_batch(crowd, objects, seed, scale=scale)
    for obj in batch.objects:
        obj.contents = [
            recode(c, kind, zlib.crc32(f"{obj.object_id}/{k}".encode())) for k, c in enumerate(obj.contents)
        ]
    return batch


def digest_batch(batch: SimulatedBatch, algorithm: Algorithm) -> str:
    labels = LabelSet(tuple(batch.labels), "event")
    storage = MemoryStorage()
    settings = Settings(algorithm=algorithm, confidence_maps=True)  # every output tally can write
    task = SemanticSegmentation(settings)
    job = JobContext(labels, {}, storage, "s3://digest/out", settings)
    task.prepare(job)
    h = hashlib.sha256()
    observed = []
    for obj in batch.objects:
        dataset_object, answers = obj.answers()
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
        # worker-quality keys it may move to a per-batch file) nor a form's field tally (form_fields,
        # None for a task's result), nor the importers' members and class_map (None: never asked for here), so digests
        # compare across versions
        skip = ("batch_figures", "form_fields", "members", "class_map")
        fields = {k: v for k, v in dataclasses.asdict(result).items() if k not in skip}
        h.update(json.dumps(fields, sort_keys=True, default=repr).encode())
    for uri in sorted(storage.objects):
        h.update(uri.encode() + storage.objects[uri])
    return h.hexdigest()


def all_digests(
    objects: int,
    seeds: list[int],
    scale: float,
    kinds: tuple[AnswerKind, ...] = KINDS,
    algorithms: tuple[Algorithm, ...] = ("majority", "reliability"),
) -> dict[str, str]:
    out = {}
    for kind in kinds:
        for crowd in CROWDS:
            for seed in seeds:
                batch = recoded_batch(crowd.key, seed, objects, scale, kind)
                for algorithm in algorithms:
                    key = f"{crowd.key}/{seed}/{algorithm}" + ("" if kind == "simulated" else f"/{kind}")
                    out[key] = digest_batch(batch, algorithm)
                    print(key, out[key][:16], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=4, help="objects per crowd and seed (sizes cycle)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--answers", choices=KINDS, nargs="+", default=list(KINDS), help="answer encodings to digest (default: all)"
    )
    parser.add_argument(
        "--algorithms",
        choices=ALGORITHMS,
        nargs="+",
        default=["majority", "reliability"],
        help="votes to digest (default: majority reliability; regions: the opt-in disputed-regions vote)",
    )
    parser.add_argument("--save", help="write the digests to this JSON file")
    parser.add_argument("--check", help="compare with the digests in this JSON file")
    args = parser.parse_args()
    digests = all_digests(args.objects, args.seeds, args.scale, tuple(args.answers), tuple(args.algorithms))
    if args.save:
        with open(args.save, "w") as f:
            json.dump(digests, f, indent=1, sort_keys=True)
    if args.check:
        with open(args.check) as f:
            expected = json.load(f)
        differ = sorted(k for k in expected if digests.get(k) != expected[k])
        new = sorted(set(digests) - set(expected))  # crowds added since the file was saved
        if new:
            print(f"not in {args.check} (new): {len(new)} digests")
        if differ:
            print("DIFFERENT:", ", ".join(differ))
            sys.exit(1)
        print(f"identical: {len(expected)} digests")


if __name__ == "__main__":
    main()
