"""Hand-drawn masks for tests: rows of characters, one character per pixel.

``.`` is an unlabelled pixel; any other character is looked up in a legend (character → label name).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from PIL import Image

from tally.codecs import hex_to_rgb

DEFAULT_COLOURS = {"road": "#1f77b4", "car": "#ff7f0e", "person": "#2ca02c", "sign": "#d62728"}


def grid(rows: Sequence[str], legend: Mapping[str, int]) -> np.ndarray:
    """Rows of characters → class keys via ``legend`` (``.`` → 0)."""
    return np.array([[0 if ch == "." else legend[ch] for ch in row] for row in rows], dtype=np.uint8)


def png_b64(
    rows: Sequence[str],
    legend: Mapping[str, str],
    colours: Mapping[str, str],
    mode: Literal["P", "RGBA", "RGB"] = "P",
) -> str:
    """Encode a drawing the way Ground Truth's tool does: palette with transparent index 0, or RGB(A)."""
    names = sorted(set(legend.values()))
    index = {ch: names.index(name) + 1 for ch, name in legend.items()}
    cls = grid(rows, index)
    rgb = [(0, 0, 0)] + [hex_to_rgb(colours[n]) for n in names]
    buf = io.BytesIO()
    if mode == "P":
        image = Image.frombytes("P", (cls.shape[1], cls.shape[0]), cls.tobytes())
        image.putpalette(bytes(v for c in rgb for v in c), rawmode="RGB")
        image.save(buf, format="PNG", transparency=0)
    else:
        table = np.array([[*c, 0 if i == 0 else 255] for i, c in enumerate(rgb)], dtype=np.uint8)
        pixels = table[cls]
        if mode == "RGB":
            pixels = pixels[..., :3]
        Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def seg_content(
    rows: Sequence[str],
    legend: Mapping[str, str],
    colours: Mapping[str, str] | None = None,
    *,
    mode: Literal["P", "RGBA", "RGB"] = "P",
    element: str = "crowd-semantic-segmentation",
    png: str | None = None,
    size: tuple[int, int] | None = None,
) -> str:
    """A worker's ``annotationData.content`` string for a hand-drawn mask."""
    colours = colours or DEFAULT_COLOURS
    height, width = size or (len(rows), len(rows[0]))
    value = {
        "inputImageProperties": {"height": height, "width": width},
        "labelMappings": {name: {"color": colours[name]} for name in sorted(set(legend.values()))},
        "labeledImage": {"pngImageData": png if png is not None else png_b64(rows, legend, colours, mode)},
    }
    return json.dumps({element: value})


def annotation(worker: str, content: str) -> dict[str, Any]:
    return {"workerId": worker, "annotationData": {"content": content}}


def data_object(object_id: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": f"s3://bucket/images/{object_id}.jpg"},
        "annotations": list(annotations),
    }


def read_mask(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P"
    return np.asarray(image)


def rows_of(mask: np.ndarray, legend: Mapping[int, str]) -> list[str]:
    """Class keys → rows of characters (0 → ``.``), to compare with a drawing."""
    return ["".join("." if v == 0 else legend[int(v)] for v in row) for row in mask]
