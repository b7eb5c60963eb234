"""Recipe output lines of every task type with known consensus, and their ``tally reconsolidate``
folders: the jobs the export and report tests read."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tally.tools.cli import main
from tests.helpers import seg_content
from tests.sim.manifests import recipe_line, write_manifest

LEGEND = {"c": "cat", "d": "dog"}
COLOURS = {"cat": "#123456", "dog": "#abcdef"}
WORKERS = ["w1", "w2", "w3"]


def _boxes(boxes: list[tuple[str, int, int, int, int]]) -> str:
    value = {
        "boundingBoxes": [{"label": n, "left": x, "top": y, "width": w, "height": h} for n, x, y, w, h in boxes],
        "inputImageProperties": {"width": 8, "height": 6},
    }
    return json.dumps({"boundingBox": value})


def _keypoints(points: list[tuple[str, float, float]]) -> str:
    value = {
        "keypoints": [{"label": n, "x": x, "y": y} for n, x, y in points],
        "inputImageProperties": {"width": 8, "height": 6},
    }
    return json.dumps({"kp": value})


def _instances(rows: list[str], instances: list[tuple[str, str]]) -> str:
    """Rows of instance numbers (1-based, '.' none) painted in each instance's colour (RGBA)."""
    index = np.array([[0 if ch == "." else int(ch) for ch in row] for row in rows])
    rgba = np.zeros((*index.shape, 4), dtype=np.uint8)
    for k, (colour, _) in enumerate(instances, start=1):
        rgba[index == k] = [int(colour[i : i + 2], 16) for i in (1, 3, 5)] + [255]
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    value = {
        "instances": [{"color": c, "label": n} for c, n in instances],
        "labeledImage": {"pngImageData": base64.b64encode(buf.getvalue()).decode()},
        "inputImageProperties": {"width": index.shape[1], "height": index.shape[0]},
    }
    return json.dumps({"crowd-instance-segmentation": value})


def _ner(spans: list[tuple[str, int, int]]) -> str:
    entities = [{"label": n, "startOffset": s, "endOffset": e} for n, s, e in spans]
    return json.dumps({"crowd-entity-annotation": {"entities": entities}})


def recipe_lines(kind: str) -> list[dict[str, Any]]:
    """Recipe output lines of one task type, three workers each, whose consensus is known."""
    if kind == "segmentation":  # consensus [[cat, dog], [cat, .]]
        drawings = [["cd", "c."], ["cd", ".."], ["c.", "c."]]
        answers = [(w, seg_content(rows, LEGEND, COLOURS)) for w, rows in zip(WORKERS, drawings, strict=True)]
        return [recipe_line("s3://images/seg.png", "pets", answers)]
    if kind == "boxes":  # all three drew the cat, two of three the dog
        return [
            recipe_line(
                "s3://images/boxes.png",
                "pets",
                [(w, _boxes([("cat", 1, 1, 3, 2)] + ([("dog", 5, 2, 2, 3)] if w != "w3" else []))) for w in WORKERS],
            )
        ]
    if kind == "keypoints":
        return [recipe_line("s3://images/kp.png", "pets", [(w, _keypoints([("cat", 2.0, 3.0)])) for w in WORKERS])]
    if kind == "instances":  # two instances, everyone agrees
        answers = [(w, _instances(["11..", "11.2", "...2"], [("#ff0000", "cat"), ("#00ff00", "dog")])) for w in WORKERS]
        return [recipe_line("s3://images/inst.png", "pets", answers)]
    if kind == "classification":  # cat by 2 of 3, dog by all
        votes = [["cat", "cat", "dog"], ["dog", "dog", "dog"]]
        return [
            recipe_line(
                f"s3://images/c{i}.png",
                "pets",
                [(w, json.dumps({"category": {"label": v}})) for w, v in zip(WORKERS, vs, strict=True)],
            )
            for i, vs in enumerate(votes)
        ]
    if kind == "multilabel":
        votes = [["cat", "dog"], ["cat"], ["cat", "dog"]]
        answers = [(w, json.dumps({"category": {"labels": v}})) for w, v in zip(WORKERS, votes, strict=True)]
        return [recipe_line("s3://images/m.png", "pets", answers)]
    if kind == "entities":
        answers = [(w, _ner([("person", 0, 4)] + ([("place", 8, 13)] if w != "w3" else []))) for w in WORKERS]
        line = recipe_line("unused", "pets", answers)
        del line["source-ref"]
        line["source"] = "Anna in Paris"
        return [line]
    if kind == "failed":  # nobody answered
        return [recipe_line("s3://images/none.png", "pets", [])]
    raise ValueError(kind)


def reconsolidated(root: Path, kind: str) -> Path:
    """``tally reconsolidate`` of :func:`recipe_lines`: the output folder."""
    source = write_manifest(root / f"{kind}.manifest", iter(recipe_lines(kind)))
    labels = "person,place" if kind == "entities" else "cat,dog"
    out = root / kind
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--labels", labels, "--out", str(out)]
    assert main([*argv, "--jobs", "1", "--no-progress"]) == (1 if kind == "failed" else 0)
    return out
